# The keys of a lookup body read here, without a Python object per int64 key: a body of the plain
# shape {"keys": [...], "columns": [...] or null, "format": "..."} (each field at most once, JSON
# whitespace anywhere) gives its keys as an int64 array (or a list of str for a string key
# column).  Anything else (a float, a bool, an escape, a key of the other type, a field
# repeated or unknown, more keys than the limit, malformed JSON) gives None: the general JSON
# reader (orjson) then reads the body and says what is wrong, so the answers and the errors are
# those of that reader whichever read the body.  The ints are read by nogil code.

cdef enum:
    _NOGIL_BYTES = 4096     # a keys array of at least this many bytes is read without the GIL


cdef inline const char *_ws(const char *p, const char *end) noexcept nogil:
    """`p` past JSON whitespace (space, tab, line feed, carriage return: RFC 8259's four)."""
    while p < end and (p[0] == 0x20 or p[0] == 0x0A or p[0] == 0x0D or p[0] == 0x09):
        p += 1
    return p


cdef Py_ssize_t _int_array(const char *p, const char *end, int64_t *out, Py_ssize_t cap,
                           const char **stop) noexcept nogil:
    """The int64 values of a JSON array whose '[' is just before `p`, written to `out` (at most
    `cap`); their count, `*stop` past the ']', or -1 for anything but int64 JSON integers."""
    cdef Py_ssize_t n = 0
    cdef uint64_t v
    cdef int digits
    cdef bint neg
    p = _ws(p, end)
    if p < end and p[0] == 0x5D:  # ]
        stop[0] = p + 1
        return 0
    while True:
        if n >= cap:
            return -1
        neg = p < end and p[0] == 0x2D  # -
        if neg:
            p += 1
        if p >= end or p[0] < 0x30 or p[0] > 0x39:
            return -1
        v = 0
        if p[0] == 0x30:
            p += 1  # a leading zero: a digit after it is not JSON (the delimiter test gives up)
        else:
            digits = 0
            while p < end and 0x30 <= p[0] <= 0x39:
                if digits == 19:  # 20 digits or more: outside int64 in any case
                    return -1
                v = v * 10 + <uint64_t>(p[0] - 0x30)
                digits += 1
                p += 1
        if neg:
            if v > 9223372036854775808ULL:
                return -1
            out[n] = <int64_t>(0 - v)  # two's complement: -(2**63) included
        else:
            if v > 9223372036854775807ULL:
                return -1
            out[n] = <int64_t>v
        n += 1
        p = _ws(p, end)
        if p >= end:
            return -1
        if p[0] == 0x2C:  # ,
            p = _ws(p + 1, end)
            continue
        if p[0] == 0x5D:
            stop[0] = p + 1
            return n
        return -1  # a fraction, an exponent, a leading zero, another value


cdef object _plain_string(const char **at, const char *end):
    """The str of a JSON string whose '"' is just before `*at` (then `*at` past its closing
    quote), or None when it holds an escape or a control character or is not UTF-8."""
    cdef const char *p = at[0]
    cdef const char *s = p
    cdef unsigned char c
    cdef bint ascii = True
    cdef Py_ssize_t n
    while True:
        if p >= end:
            return None
        c = <unsigned char>p[0]
        if c == 0x22:  # "
            break
        if c == 0x5C or c < 0x20:  # an escape, or a control character (not JSON)
            return None
        if c >= 0x80:
            ascii = False
        p += 1
    n = p - s
    if not ascii and rd_utf8_check(<const uint8_t *>s, <size_t>n) != <size_t>n:
        return None
    at[0] = p + 1
    return PyUnicode_DecodeUTF8(s, n, NULL)


cdef object _string_array(const char **at, const char *end, Py_ssize_t cap):
    """The strs of a JSON array of plain strings whose '[' is just before `*at` (at most `cap`),
    or None; `*at` past the ']'."""
    cdef const char *p = _ws(at[0], end)
    out = []
    if p < end and p[0] == 0x5D:
        at[0] = p + 1
        return out
    while True:
        if p >= end or p[0] != 0x22 or len(out) >= cap:
            return None
        p += 1
        text = _plain_string(&p, end)
        if text is None:
            return None
        out.append(text)
        p = _ws(p, end)
        if p >= end:
            return None
        if p[0] == 0x2C:
            p = _ws(p + 1, end)
            continue
        if p[0] == 0x5D:
            at[0] = p + 1
            return out
        return None


cdef object _int_keys(const char **at, const char *end, Py_ssize_t max_keys):
    """The int64 array of a JSON array of integers whose '[' is just before `*at`, or None."""
    cdef const char *stop = NULL
    cdef const char *p = at[0]
    cdef Py_ssize_t n
    # Each key takes two bytes at least ("1," or "1]"): the array cannot hold more than this.
    cdef Py_ssize_t cap = (end - p) // 2 + 1
    if cap > max_keys:
        cap = max_keys
    out = np.empty(cap + 1, dtype=np.int64)
    cdef int64_t[::1] keys = out
    if end - p >= _NOGIL_BYTES:
        with nogil:
            n = _int_array(p, end, &keys[0], cap, &stop)
    else:
        n = _int_array(p, end, &keys[0], cap, &stop)
    if n < 0:
        return None
    at[0] = stop
    return out[:n].copy() if 2 * n < cap else out[:n]


def parse_lookup_body(bytes body not None, bint string_keys, Py_ssize_t max_keys):
    """``(keys, columns, format)`` of a lookup body of the plain shape, its keys an int64 array
    (a list of str with `string_keys`), `columns` a list of str or None, `format` a str; None
    for any other body (the general JSON reader then reads it)."""
    cdef const char *p = PyBytes_AS_STRING(body)
    cdef const char *end = p + PyBytes_GET_SIZE(body)
    keys = columns = fmt = None
    cdef bint has_keys = False, has_columns = False, has_format = False
    p = _ws(p, end)
    if p >= end or p[0] != 0x7B:  # {
        return None
    p = _ws(p + 1, end)
    while True:
        if p >= end or p[0] != 0x22:
            return None  # also an empty object: it has no keys, which the general reader says
        p += 1
        name = _plain_string(&p, end)
        if name is None:
            return None
        p = _ws(p, end)
        if p >= end or p[0] != 0x3A:  # :
            return None
        p = _ws(p + 1, end)
        if p >= end:
            return None
        if name == "keys" and not has_keys:
            has_keys = True
            if p[0] != 0x5B:  # [
                return None
            p += 1
            keys = _string_array(&p, end, max_keys) if string_keys else _int_keys(&p, end, max_keys)
            if keys is None:
                return None
        elif name == "columns" and not has_columns:
            has_columns = True
            if p[0] == 0x5B:
                p += 1
                columns = _string_array(&p, end, end - p)
                if columns is None:
                    return None
            elif end - p >= 4 and memcmp(p, b"null", 4) == 0:
                p += 4
            else:
                return None
        elif name == "format" and not has_format:
            has_format = True
            if p[0] != 0x22:
                return None
            p += 1
            fmt = _plain_string(&p, end)
            if fmt != "json" and fmt != "npz":
                return None
        else:
            return None  # an unknown or repeated field
        p = _ws(p, end)
        if p >= end:
            return None
        if p[0] == 0x2C:
            p = _ws(p + 1, end)
            continue
        if p[0] == 0x7D:  # }
            break
        return None
    if _ws(p + 1, end) != end or not has_keys:
        return None
    return keys, columns, "json" if fmt is None else fmt
