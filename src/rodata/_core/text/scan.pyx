# Scanning raw bytes: quote/newline counts for planning byte ranges, record starts, and
# positions for error messages.


cdef inline uint64_t equal_bytes(uint64_t w, uint64_t pattern) noexcept nogil:
    """0x01 in each byte of `w` equal to the byte repeated in `pattern`, 0x00 elsewhere (exact)."""
    cdef uint64_t x = w ^ pattern
    cdef uint64_t t = ((x & 0x7F7F7F7F7F7F7F7FULL) + 0x7F7F7F7F7F7F7F7FULL) | x
    return (~t & 0x8080808080808080ULL) >> 7


cdef uint64_t count_byte(const uint8_t *p, Py_ssize_t n, uint8_t b) noexcept nogil:
    """How many bytes of p[:n] equal `b`: eight at a time, per-byte counters summed every 255 words."""
    cdef uint64_t pattern = b * 0x0101010101010101ULL, acc, w, total = 0
    cdef Py_ssize_t i = 0, k
    while i + 8 <= n:
        acc = 0
        k = 0
        while k < 255 and i + 8 <= n:
            memcpy(&w, p + i, 8)
            acc += equal_bytes(w, pattern)
            i += 8
            k += 1
        total += sum_byte_counters(acc)
    while i < n:
        total += p[i] == b
        i += 1
    return total


cdef void count_two_bytes(const uint8_t *p, Py_ssize_t n, uint8_t b1, uint8_t b2, uint64_t *c1,
                          uint64_t *c2) noexcept nogil:
    """count_byte for two bytes in one pass over the memory."""
    cdef uint64_t pat1 = b1 * 0x0101010101010101ULL, pat2 = b2 * 0x0101010101010101ULL
    cdef uint64_t acc1, acc2, w, t1 = 0, t2 = 0
    cdef Py_ssize_t i = 0, k
    while i + 8 <= n:
        acc1 = 0
        acc2 = 0
        k = 0
        while k < 255 and i + 8 <= n:
            memcpy(&w, p + i, 8)
            acc1 += equal_bytes(w, pat1)
            acc2 += equal_bytes(w, pat2)
            i += 8
            k += 1
        t1 += sum_byte_counters(acc1)
        t2 += sum_byte_counters(acc2)
    while i < n:
        t1 += p[i] == b1
        t2 += p[i] == b2
        i += 1
    c1[0] = t1
    c2[0] = t2


cdef inline uint64_t sum_byte_counters(uint64_t acc) noexcept nogil:
    # The eight byte counters (each <= 255) summed: pairs into 16-bit lanes, then those.
    acc = (acc & 0x00FF00FF00FF00FFULL) + ((acc >> 8) & 0x00FF00FF00FF00FFULL)
    return ((acc * 0x0001000100010001ULL) >> 48) & 0xFFFF


def count_quotes_newlines(const uint8_t[::1] buf not None, bytes quote=b'"'):
    """(number of quote bytes, number of newline bytes) in `buf`."""
    cdef Py_ssize_t n = buf.shape[0]
    cdef uint64_t quotes = 0, newlines = 0
    cdef bint quoting = len(quote) == 1
    cdef uint8_t q = quote[0] if quoting else 10
    if n == 0:
        return 0, 0
    with nogil:
        if quoting:
            count_two_bytes(&buf[0], n, 10, q, &newlines, &quotes)
        else:
            newlines = count_byte(&buf[0], n, 10)
    return quotes, newlines


def find_record_start(const uint8_t[::1] buf not None, Py_ssize_t pos, bint in_quote, bytes quote=b'"'):
    """The position just after the first newline at or after `pos` that lies outside quotes,
    given the quote state at `pos` (-1 when the buffer holds none).  Also returns the number
    of newlines skipped: (position, newlines)."""
    cdef Py_ssize_t n = buf.shape[0], i
    cdef bint quoting = len(quote) == 1
    cdef uint8_t q = quote[0] if quoting else 0
    cdef int64_t lines = 0
    cdef Py_ssize_t found = -1
    if pos < 0 or pos > n:
        raise ValueError("pos out of range")
    with nogil:
        i = pos
        while i < n:
            if quoting and buf[i] == q:
                in_quote = not in_quote
            elif buf[i] == 10:
                lines += 1
                if not in_quote:
                    found = i + 1
                    break
            i += 1
    return found, lines


def count_newlines_in(const uint8_t[::1] buf not None, Py_ssize_t start, Py_ssize_t end):
    """Newline bytes in ``buf[start:end]``."""
    if start < 0 or end > buf.shape[0] or start > end:
        raise ValueError("range out of bounds")
    if end == start:
        return 0
    cdef int64_t count
    with nogil:
        count = count_newlines(&buf[start], end - start)
    return count


def column_of(const uint8_t[::1] buf not None, Py_ssize_t pos, Py_ssize_t floor=0):
    """The 1-based character column of byte `pos` on its line (counting UTF-8 characters),
    looking back no further than `floor` for the line's start."""
    cdef Py_ssize_t i, start, n = buf.shape[0], chars = 0
    if pos > n:
        pos = n
    if floor < 0:
        floor = 0
    start = pos
    while start > floor and buf[start - 1] != 10:
        start -= 1
    for i in range(start, pos):
        if (buf[i] & 0xC0) != 0x80:
            chars += 1
    return chars + 1


def utf8_first_invalid(const uint64_t[::1] offsets not None, const uint8_t[::1] data not None,
                       Py_ssize_t start=0):
    """The first value at or after row `start` of a strings column (``offsets`` + ``data``)
    that is not well-formed UTF-8: (row, byte offset of the fault in ``data``), or (-1, -1).
    Raises ValueError when the offsets decrease or point past the data."""
    cdef Py_ssize_t rows = offsets.shape[0] - 1, size = data.shape[0], i, bad_at = 0
    cdef Py_ssize_t row = -1, at = -1
    cdef uint64_t a, b
    cdef const uint8_t *p
    cdef int status = 0
    if rows < 0:
        raise ValueError("offsets must hold at least one entry")
    if start < 0 or start > rows:
        raise ValueError("start out of range")
    if rows == 0:
        return -1, -1
    p = &data[0] if size > 0 else NULL
    with nogil:
        for i in range(start, rows):
            a = offsets[i]
            b = offsets[i + 1]
            if b < a or b > <uint64_t>size:
                status = 1
                row = i
                break
            if b > a and not utf8_valid(p + a, <Py_ssize_t>(b - a), &bad_at):
                row = i
                at = <Py_ssize_t>a + bad_at
                break
    if status:
        raise ValueError(f"string offsets of row {row} out of order or past the data")
    return row, at
