# Scanning JSON text without the GIL: string ends, escapes, values skipped as a whole.


cdef inline Py_ssize_t skip_ws(const uint8_t *b, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    while i < n and (b[i] == 32 or b[i] == 9 or b[i] == 13 or b[i] == 10):
        i += 1
    return i


cdef int json_string_end(const uint8_t *b, Py_ssize_t i, Py_ssize_t n, Py_ssize_t *end, bint *esc) noexcept nogil:
    """`i` is just after an opening quote: find the closing quote (its index in `end`)."""
    cdef uint8_t ch
    esc[0] = False
    while i < n:
        ch = b[i]
        if ch == 34:
            end[0] = i
            return V_OK
        if ch == 92:
            esc[0] = True
            i += 2
            continue
        if ch < 32:
            end[0] = i
            return F_JSON
        i += 1
    end[0] = n
    return F_JSON


cdef inline int hex4(const uint8_t *p, uint32_t *out) noexcept nogil:
    cdef uint32_t v = 0
    cdef int k
    cdef uint8_t ch
    for k in range(4):
        ch = p[k]
        v <<= 4
        if 48 <= ch <= 57:
            v |= ch - 48
        elif 97 <= ch <= 102:
            v |= ch - 87
        elif 65 <= ch <= 70:
            v |= ch - 55
        else:
            return F_BAD_ESCAPE
    out[0] = v
    return V_OK


cdef int json_unescape(const uint8_t *b, Py_ssize_t i, Py_ssize_t end, uint8_t *out, Py_ssize_t *out_len,
                       Py_ssize_t *bad_at) noexcept nogil:
    """Decode the string body ``b[i:end]`` into `out` (which has room for end - i bytes)."""
    cdef Py_ssize_t j = 0
    cdef uint8_t ch
    cdef uint32_t cp, lo
    while i < end:
        ch = b[i]
        if ch != 92:
            out[j] = ch
            j += 1
            i += 1
            continue
        bad_at[0] = i
        if i + 1 >= end:
            return F_BAD_ESCAPE
        ch = b[i + 1]
        i += 2
        if ch == 34 or ch == 92 or ch == 47:
            out[j] = ch
        elif ch == 98:
            out[j] = 8
        elif ch == 102:
            out[j] = 12
        elif ch == 110:
            out[j] = 10
        elif ch == 114:
            out[j] = 13
        elif ch == 116:
            out[j] = 9
        elif ch == 117:
            if i + 4 > end or hex4(b + i, &cp) != V_OK:
                return F_BAD_ESCAPE
            i += 4
            if 0xD800 <= cp <= 0xDBFF:
                if i + 6 > end or b[i] != 92 or b[i + 1] != 117 or hex4(b + i + 2, &lo) != V_OK \
                        or not (0xDC00 <= lo <= 0xDFFF):
                    return F_BAD_ESCAPE
                i += 6
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
            elif 0xDC00 <= cp <= 0xDFFF:
                return F_BAD_ESCAPE
            # A \u escape is six bytes (twelve for a pair) and encodes to at most four: it fits.
            if cp < 0x80:
                out[j] = <uint8_t>cp
            elif cp < 0x800:
                out[j] = <uint8_t>(0xC0 | (cp >> 6))
                j += 1
                out[j] = <uint8_t>(0x80 | (cp & 0x3F))
            elif cp < 0x10000:
                out[j] = <uint8_t>(0xE0 | (cp >> 12))
                out[j + 1] = <uint8_t>(0x80 | ((cp >> 6) & 0x3F))
                j += 2
                out[j] = <uint8_t>(0x80 | (cp & 0x3F))
            else:
                out[j] = <uint8_t>(0xF0 | (cp >> 18))
                out[j + 1] = <uint8_t>(0x80 | ((cp >> 12) & 0x3F))
                out[j + 2] = <uint8_t>(0x80 | ((cp >> 6) & 0x3F))
                j += 3
                out[j] = <uint8_t>(0x80 | (cp & 0x3F))
        else:
            return F_BAD_ESCAPE
        j += 1
    out_len[0] = j
    return V_OK


cdef int json_skip_value(const uint8_t *b, Py_ssize_t i, Py_ssize_t n, Py_ssize_t *end) noexcept nogil:
    """Find the end of the JSON value at `i` (nested values skipped as a whole, loosely checked)."""
    cdef int depth = 0
    cdef uint8_t ch
    cdef Py_ssize_t e
    cdef bint esc
    if i < n and b[i] != 34 and b[i] != 91 and b[i] != 123:   # a number, true, false or null
        return json_scalar_end(b, i, n, end)
    while i < n:
        ch = b[i]
        if ch == 34:
            if json_string_end(b, i + 1, n, &e, &esc) != V_OK:
                end[0] = e
                return F_JSON
            i = e + 1
        elif ch == 91 or ch == 123:
            depth += 1
            i += 1
        elif ch == 93 or ch == 125:
            if depth == 0:
                break
            depth -= 1
            i += 1
        elif ch == 44 and depth == 0:
            break
        elif ch == 32 or ch == 9 or ch == 13 or ch == 10:
            if depth == 0:
                break
            i += 1
        elif depth == 0 and ch == 58:
            break
        else:
            i += 1
        if depth == 0:
            break
    if depth != 0:
        end[0] = i
        return F_JSON
    end[0] = i
    return V_OK


cdef int json_scalar_end(const uint8_t *b, Py_ssize_t i, Py_ssize_t n, Py_ssize_t *end) noexcept nogil:
    """The end of a bare scalar (number, true, false, null) at `i`."""
    cdef uint8_t ch
    while i < n:
        ch = b[i]
        if ch == 44 or ch == 125 or ch == 93 or ch == 32 or ch == 9 or ch == 13 or ch == 10:
            break
        i += 1
    end[0] = i
    return V_OK
