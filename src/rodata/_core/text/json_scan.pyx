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


cdef enum:
    JSON_MAX_DEPTH = 1000     # nested deeper than this is refused as malformed


cdef bint json_number_syntax(const uint8_t *v, Py_ssize_t n) noexcept nogil:
    """RFC 8259's number grammar (no leading zeros, digits on both sides of the point), and the
    NaN, Infinity and -Infinity that Python's json reads and writes."""
    cdef Py_ssize_t i = 0
    if (n == 3 and memcmp(v, b"NaN", 3) == 0) or (n == 8 and memcmp(v, b"Infinity", 8) == 0) \
            or (n == 9 and memcmp(v, b"-Infinity", 9) == 0):
        return True
    if i < n and v[i] == 45:   # '-'
        i += 1
    if i >= n or not is_digit(v[i]):
        return False
    if v[i] == 48:             # '0' alone before the point
        i += 1
    else:
        while i < n and is_digit(v[i]):
            i += 1
    if i < n and v[i] == 46:   # '.'
        i += 1
        if i >= n or not is_digit(v[i]):
            return False
        while i < n and is_digit(v[i]):
            i += 1
    if i < n and (v[i] == 101 or v[i] == 69):   # 'e' 'E'
        i += 1
        if i < n and (v[i] == 43 or v[i] == 45):
            i += 1
        if i >= n or not is_digit(v[i]):
            return False
        while i < n and is_digit(v[i]):
            i += 1
    return i == n


cdef bint json_escapes_ok(const uint8_t *b, Py_ssize_t i, Py_ssize_t end) noexcept nogil:
    """The escapes of the string body ``b[i:end]`` are JSON's, surrogates in pairs (a nested
    string is kept as text, not decoded, but it must be one all the same)."""
    cdef uint32_t cp, lo
    while i < end:
        if b[i] != 92:
            i += 1
            continue
        if i + 1 >= end:
            return False
        if b[i + 1] == 117:    # 'u'
            if i + 6 > end or hex4(b + i + 2, &cp) != V_OK or 0xDC00 <= cp <= 0xDFFF:
                return False
            i += 6
            if 0xD800 <= cp <= 0xDBFF:
                if i + 6 > end or b[i] != 92 or b[i + 1] != 117 or hex4(b + i + 2, &lo) != V_OK \
                        or not (0xDC00 <= lo <= 0xDFFF):
                    return False
                i += 6
        elif b[i + 1] in b'"\\/bfnrt':
            i += 2
        else:
            return False
    return True


cdef int json_scalar_ok(const uint8_t *b, Py_ssize_t i, Py_ssize_t n, Py_ssize_t *end) noexcept nogil:
    """A number, true, false or null at `i`: V_OK with its end, or F_JSON."""
    json_scalar_end(b, i, n, end)
    cdef Py_ssize_t k = end[0] - i
    if (k == 4 and (memcmp(b + i, b"true", 4) == 0 or memcmp(b + i, b"null", 4) == 0)) \
            or (k == 5 and memcmp(b + i, b"false", 5) == 0) or (k > 0 and json_number_syntax(b + i, k)):
        return V_OK
    end[0] = i
    return F_JSON


cdef int json_skip_value(const uint8_t *b, Py_ssize_t i, Py_ssize_t n, Py_ssize_t *end) noexcept nogil:
    """Check the JSON value at `i` against the grammar and find its end (a nested value is kept
    whole, as text).  V_OK, or F_JSON with *end at the fault."""
    cdef uint8_t stack[JSON_MAX_DEPTH]   # 91: in an array, 123: in an object
    cdef int depth = 0, st
    cdef Py_ssize_t e
    cdef bint esc, want_value = True
    while True:
        i = skip_ws(b, i, n)
        if want_value:
            if i >= n:
                end[0] = i
                return F_JSON
            if b[i] == 91 or b[i] == 123:
                if depth >= JSON_MAX_DEPTH:
                    end[0] = i
                    return F_JSON
                stack[depth] = b[i]
                depth += 1
                i = skip_ws(b, i + 1, n)
                if i < n and b[i] == (93 if stack[depth - 1] == 91 else 125):   # empty [] or {}
                    depth -= 1
                    i += 1
                    if depth == 0:
                        end[0] = i
                        return V_OK
                    want_value = False
                elif stack[depth - 1] == 123:
                    st = json_member_name(b, &i, n)
                    if st != V_OK:
                        end[0] = i
                        return st
                continue
            if b[i] == 34:
                if json_string_end(b, i + 1, n, &e, &esc) != V_OK:
                    end[0] = e if e < n else i
                    return F_JSON
                if esc and not json_escapes_ok(b, i + 1, e):
                    end[0] = i
                    return F_BAD_ESCAPE
                i = e + 1
            elif json_scalar_ok(b, i, n, &e) != V_OK:
                end[0] = i
                return F_JSON
            else:
                i = e
            if depth == 0:   # the value ends here, before any white space after it
                end[0] = i
                return V_OK
            want_value = False
            continue
        if i < n and b[i] == 44:   # ',': the next element or member
            i += 1
            if stack[depth - 1] == 123:
                i = skip_ws(b, i, n)
                st = json_member_name(b, &i, n)
                if st != V_OK:
                    end[0] = i
                    return st
            want_value = True
        elif i < n and b[i] == (93 if stack[depth - 1] == 91 else 125):
            depth -= 1
            i += 1
            if depth == 0:
                end[0] = i
                return V_OK
        else:
            end[0] = i
            return F_JSON


cdef int json_member_name(const uint8_t *b, Py_ssize_t *at, Py_ssize_t n) noexcept nogil:
    """`"name" :` at *at inside a nested object: moves *at past the colon, or F_JSON."""
    cdef Py_ssize_t i = at[0], e
    cdef bint esc
    if i >= n or b[i] != 34 or json_string_end(b, i + 1, n, &e, &esc) != V_OK:
        return F_JSON
    if esc and not json_escapes_ok(b, i + 1, e):
        return F_BAD_ESCAPE
    i = skip_ws(b, e + 1, n)
    if i >= n or b[i] != 58:
        at[0] = i
        return F_JSON
    at[0] = i + 1
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
