# Scanning raw bytes: quote/newline counts for planning byte ranges, record starts, and
# positions for error messages.


def count_quotes_newlines(const uint8_t[::1] buf not None, bytes quote=b'"'):
    """(number of quote bytes, number of newline bytes) in `buf`."""
    cdef Py_ssize_t n = buf.shape[0], i
    cdef uint64_t quotes = 0, newlines = 0
    cdef uint8_t q = quote[0] if len(quote) == 1 else 10
    cdef bint quoting = len(quote) == 1
    if n == 0:
        return 0, 0
    with nogil:
        # Two plain counting loops: the compiler vectorizes each of them.
        for i in range(n):
            newlines += buf[i] == 10
        if quoting:
            for i in range(n):
                quotes += buf[i] == q
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
