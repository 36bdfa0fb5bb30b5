# Floating-point parsing: decimal text to the correctly rounded double (Clinger's fast path,
# then Eisel-Lemire, then strtod in the C locale).  Runs without the GIL; nothing allocates
# but the rare very long number.

# 128-bit truncated powers of five, 5**q for q in [POW5_MIN, POW5_MAX], normalized so the top
# bit is set (high word, low word): the table of the Eisel-Lemire algorithm (Lemire, "Number
# Parsing at a Gigabyte per Second", 2021).  Computed exactly here with Python integers.
DEF POW5_MIN = -342
DEF POW5_MAX = 308
cdef uint64_t POW5[(POW5_MAX - POW5_MIN + 1) * 2]


cdef _fill_pow5():
    cdef int i = 0
    for q in range(POW5_MIN, POW5_MAX + 1):
        if q < 0:
            power5 = 5 ** -q
            z = power5.bit_length()
            if q >= -27:
                c = (1 << (z + 127)) // power5 + 1
            else:
                c = (1 << (2 * z + 128)) // power5 + 1
                c >>= max(c.bit_length() - 128, 0)
        else:
            c = 5 ** q
            c <<= max(128 - c.bit_length(), 0)
            c >>= max(c.bit_length() - 128, 0)
        POW5[2 * i] = c >> 64
        POW5[2 * i + 1] = c & 0xFFFFFFFFFFFFFFFF
        i += 1


_fill_pow5()


cdef bint eisel_lemire(uint64_t w, int64_t q, bint neg, double *out) noexcept nogil:
    """The correctly rounded double nearest to w * 10**q, or False when this fast algorithm
    cannot decide (the caller then falls back to strtod)."""
    cdef uint64_t hi, lo, hi2, lo2, mid, upperbit, mantissa, real_exponent, bits
    cdef int64_t exponent
    cdef int lz
    if q < POW5_MIN or q > POW5_MAX:
        return False
    exponent = (((152170 + 65536) * q) >> 16) + 1024 + 63
    lz = rdt_clz64(w)
    w <<= lz
    lo = rdt_mul128(w, POW5[2 * (q - POW5_MIN)], &hi)
    if (hi & 0x1FF) == 0x1FF and lo + w < lo:
        lo2 = rdt_mul128(w, POW5[2 * (q - POW5_MIN) + 1], &hi2)
        mid = lo + hi2
        if mid < lo:
            hi += 1
        if mid + 1 == 0 and (hi & 0x1FF) == 0x1FF and lo2 + w < lo2:
            return False
        lo = mid
    upperbit = hi >> 63
    mantissa = hi >> (upperbit + 9)
    lz += <int>(1 ^ upperbit)
    if lo == 0 and (hi & 0x1FF) == 0 and (mantissa & 3) == 1:
        return False
    mantissa += mantissa & 1
    mantissa >>= 1
    if mantissa >= (<uint64_t>1 << 53):
        mantissa = <uint64_t>1 << 52
        lz -= 1
    mantissa &= ~(<uint64_t>1 << 52)
    real_exponent = <uint64_t>(exponent - lz)
    if exponent - lz < 1 or exponent - lz > 2046:
        return False
    bits = mantissa | (real_exponent << 52)
    if neg:
        bits |= <uint64_t>1 << 63
    memcpy(out, &bits, 8)
    return True

cdef double[23] POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
                         1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22]


cdef int parse_float64(const uint8_t *p, Py_ssize_t n, double *out) noexcept nogil:
    """A decimal floating-point number (also inf, infinity, nan) into a double, correctly rounded.

    Values with at most 19 significant digits and a small exponent are computed exactly
    in the fast path (Clinger); everything else goes through strtod in the C locale."""
    cdef Py_ssize_t i = 0, start, ip, ilen, fp, flen
    cdef bint neg = False, dropped = False
    cdef uint64_t mant = 0
    cdef int64_t exp10 = 0, e = 0
    cdef bint eneg
    cdef double v
    cdef char[72] tmp
    cdef char *end
    if n == 0:
        return F_SYNTAX
    if p[0] == 45 or p[0] == 43:
        neg = p[0] == 45
        i = 1
    start = i
    if i < n and not is_digit(p[i]) and p[i] != 46:
        if equals_nocase(p + i, n - i, b"inf") or equals_nocase(p + i, n - i, b"infinity"):
            out[0] = -INFINITY if neg else INFINITY
            return V_OK
        if equals_nocase(p + i, n - i, b"nan"):
            out[0] = NAN
            return V_OK
        return F_SYNTAX
    # Where the integer and fraction digits are; their value is int(digits) * 10**-flen.
    ip = i
    i = skip_digits(p, i, n)
    ilen = i - ip
    fp = i
    flen = 0
    if i < n and p[i] == 46:   # '.'
        i += 1
        fp = i
        i = skip_digits(p, i, n)
        flen = i - fp
    if ilen + flen == 0:
        return F_SYNTAX
    exp10 = -flen
    while ilen > 0 and p[ip] == 48:     # leading zeros carry no value
        ip += 1
        ilen -= 1
    if ilen == 0:
        while flen > 0 and p[fp] == 48:
            fp += 1
            flen -= 1
    if ilen + flen <= 19:
        mant = digits_value(p + fp, flen, digits_value(p + ip, ilen, 0))
    else:
        dropped = True
    if i < n and (p[i] == 101 or p[i] == 69):   # 'e' 'E'
        i += 1
        eneg = False
        if i < n and (p[i] == 45 or p[i] == 43):
            eneg = p[i] == 45
            i += 1
        if i >= n:
            return F_SYNTAX
        while i < n and is_digit(p[i]):
            if e < 100000:
                e = e * 10 + (p[i] - 48)
            i += 1
        exp10 += -e if eneg else e
    if i != n:
        return F_SYNTAX
    if mant == 0 and not dropped:
        out[0] = -0.0 if neg else 0.0
        return V_OK
    if not dropped and mant <= (<uint64_t>1 << 53) and -22 <= exp10 <= 22:
        v = <double>mant
        if exp10 >= 0:
            v = v * POW10[exp10]
        else:
            v = v / POW10[-exp10]
        out[0] = -v if neg else v
        return V_OK
    if not dropped and eisel_lemire(mant, exp10, neg, out):
        return V_OK
    if n >= 70:
        return parse_float_long(p, n, out)
    memcpy(tmp, p, n)
    tmp[n] = 0
    out[0] = strtod_l(tmp, &end, C_LOCALE)
    if end != tmp + n:
        return F_SYNTAX
    if isinf(out[0]):
        return F_RANGE    # a finite literal too large for a double
    return V_OK


cdef int parse_float_long(const uint8_t *p, Py_ssize_t n, double *out) noexcept nogil:
    """strtod for a long (already syntax-checked) number: a heap copy for the terminating NUL."""
    cdef char *tmp = <char *>malloc(n + 1)
    cdef char *end
    if tmp == NULL:
        return F_NOMEM
    memcpy(tmp, p, n)
    tmp[n] = 0
    out[0] = strtod_l(tmp, &end, C_LOCALE)
    cdef bint ok = end == tmp + n
    free(tmp)
    if not ok:
        return F_SYNTAX
    return F_RANGE if isinf(out[0]) else V_OK
