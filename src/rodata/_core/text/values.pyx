# Parsing one field's bytes into a typed value, and classifying it for inference.
# Every function here runs without the GIL and returns a status code (V_OK or an
# error code from the Fail enum in _text.pyx); nothing here allocates.

# strtod in the "C" locale whatever the process locale is: "1.5" must never depend on LC_NUMERIC.
cdef locale_t C_LOCALE = newlocale(LC_ALL_MASK, "C", <locale_t>NULL)

cdef int64_t NS_PER_SECOND = 1000000000


cdef inline bint is_digit(uint8_t c) noexcept nogil:
    return <uint8_t>(c - 48) < 10


cdef inline uint8_t lower(uint8_t c) noexcept nogil:
    if <uint8_t>(c - 65) < 26:
        return c + 32
    return c


cdef bint equals_nocase(const uint8_t *p, Py_ssize_t n, const char *word) noexcept nogil:
    """`p[:n]` equals the lower-case ASCII `word`, ignoring case."""
    cdef Py_ssize_t i = 0
    while i < n:
        if word[i] == 0 or lower(p[i]) != <uint8_t>word[i]:
            return False
        i += 1
    return word[n] == 0


cdef inline uint64_t eight_digits(const uint8_t *p) noexcept nogil:
    """The value of eight ASCII digits (SWAR: three multiplications instead of eight steps)."""
    cdef uint64_t val
    memcpy(&val, p, 8)
    val = ((val & 0x0F0F0F0F0F0F0F0FULL) * 2561) >> 8
    val = ((val & 0x00FF00FF00FF00FFULL) * 6553601) >> 16
    return ((val & 0x0000FFFF0000FFFFULL) * 42949672960001ULL) >> 32


cdef inline bint eight_are_digits(const uint8_t *p) noexcept nogil:
    cdef uint64_t w
    memcpy(&w, p, 8)
    return ((w & 0xF0F0F0F0F0F0F0F0ULL) | (((w + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) \
        == 0x3333333333333333ULL


cdef inline Py_ssize_t skip_digits(const uint8_t *p, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """The index of the first non-digit at or after `i` (eight bytes at a time while it can)."""
    while i + 8 <= n and eight_are_digits(p + i):
        i += 8
    while i < n and is_digit(p[i]):
        i += 1
    return i


cdef inline uint64_t digits_value(const uint8_t *p, Py_ssize_t k, uint64_t acc) noexcept nogil:
    """acc * 10**k + the value of the k digits at p (the caller checked they are digits and fit)."""
    while k >= 8:
        acc = acc * 100000000ULL + eight_digits(p)
        p += 8
        k -= 8
    while k > 0:
        acc = acc * 10 + (p[0] - 48)
        p += 1
        k -= 1
    return acc


cdef int parse_int64(const uint8_t *p, Py_ssize_t n, int64_t *out) noexcept nogil:
    """``[+-]?[0-9]+`` into an int64: V_OK, F_SYNTAX or F_RANGE."""
    cdef Py_ssize_t i = 0
    cdef bint neg = False
    cdef uint64_t acc = 0, limit
    cdef uint8_t d
    if n == 0:
        return F_SYNTAX
    if p[0] == 45 or p[0] == 43:   # '-' '+'
        neg = p[0] == 45
        i = 1
        if n == 1:
            return F_SYNTAX
    limit = (<uint64_t>1 << 63) if neg else (<uint64_t>1 << 63) - 1
    # Up to 18 digits cannot overflow: the common case skips the per-digit checks.
    if n - i <= 18:
        while i < n:
            d = p[i] - 48
            if d > 9:
                return F_SYNTAX
            acc = acc * 10 + d
            i += 1
    else:
        while i < n:
            d = p[i] - 48
            if d > 9:
                return F_SYNTAX
            if acc > (limit - d) // 10:
                # Still check the rest is digits: "123...x" is a syntax error, not a range error.
                i += 1
                while i < n:
                    if not is_digit(p[i]):
                        return F_SYNTAX
                    i += 1
                return F_RANGE
            acc = acc * 10 + d
            i += 1
    if neg:
        out[0] = <int64_t>(0 - acc)
    else:
        out[0] = <int64_t>acc
    return V_OK


cdef int parse_uint64(const uint8_t *p, Py_ssize_t n, uint64_t *out) noexcept nogil:
    """``[+]?[0-9]+`` into a uint64: V_OK, F_SYNTAX or F_RANGE (a minus sign is a range error)."""
    cdef Py_ssize_t i = 0
    cdef uint64_t acc = 0
    cdef uint8_t d
    cdef bint neg = False
    if n == 0:
        return F_SYNTAX
    if p[0] == 45 or p[0] == 43:
        neg = p[0] == 45
        i = 1
        if n == 1:
            return F_SYNTAX
    while i < n:
        d = p[i] - 48
        if d > 9:
            return F_SYNTAX
        if acc > (<uint64_t>0xFFFFFFFFFFFFFFFF - d) // 10:
            return F_RANGE
        acc = acc * 10 + d
        i += 1
    if neg and acc != 0:
        return F_RANGE
    out[0] = acc
    return V_OK


cdef int parse_bool(const uint8_t *p, Py_ssize_t n, uint8_t *out, bint lenient) noexcept nogil:
    """true/false in any case; with `lenient` also t/f, yes/no, y/n, 1/0."""
    if equals_nocase(p, n, b"true"):
        out[0] = 1
        return V_OK
    if equals_nocase(p, n, b"false"):
        out[0] = 0
        return V_OK
    if lenient:
        if (equals_nocase(p, n, b"t") or equals_nocase(p, n, b"yes") or equals_nocase(p, n, b"y")
                or (n == 1 and p[0] == 49)):
            out[0] = 1
            return V_OK
        if (equals_nocase(p, n, b"f") or equals_nocase(p, n, b"no") or equals_nocase(p, n, b"n")
                or (n == 1 and p[0] == 48)):
            out[0] = 0
            return V_OK
    return F_SYNTAX


cdef inline int two_digits(const uint8_t *p) noexcept nogil:
    if not is_digit(p[0]) or not is_digit(p[1]):
        return -1
    return (p[0] - 48) * 10 + (p[1] - 48)


cdef inline int64_t days_from_civil(int64_t y, int64_t m, int64_t d) noexcept nogil:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    cdef int64_t era, yoe, doy, doe
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef inline int days_in_month(int64_t y, int64_t m) noexcept nogil:
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


cdef int parse_date(const uint8_t *p, Py_ssize_t n, int64_t *days) noexcept nogil:
    """``YYYY-MM-DD`` (years 1 to 9999) into days since the epoch."""
    cdef int hi, lo, m, d
    cdef int64_t y
    if n != 10 or p[4] != 45 or p[7] != 45:
        return F_SYNTAX
    hi = two_digits(p)
    lo = two_digits(p + 2)
    m = two_digits(p + 5)
    d = two_digits(p + 8)
    if hi < 0 or lo < 0 or m < 0 or d < 0:
        return F_SYNTAX
    y = hi * 100 + lo
    if y < 1 or m < 1 or m > 12 or d < 1 or d > days_in_month(y, m):
        return F_SYNTAX
    days[0] = days_from_civil(y, m, d)
    return V_OK


cdef int parse_timestamp(const uint8_t *p, Py_ssize_t n, int64_t *ns, bint *has_time) noexcept nogil:
    """ISO 8601: ``YYYY-MM-DD[(T| )HH:MM[:SS[.fffffffff]]][Z|±HH[:MM]]`` into UTC nanoseconds.

    A date alone is midnight; a time without an offset is taken as UTC."""
    cdef int64_t days, secs = 0, frac = 0, offset = 0, total
    cdef int hh, mm, ss = 0, oh, om = 0, scale = 100000000
    cdef Py_ssize_t i
    cdef bint neg
    cdef int st
    has_time[0] = False
    if n < 10:
        return F_SYNTAX
    st = parse_date(p, 10, &days)
    if st != V_OK:
        return st
    i = 10
    if i < n:
        if p[i] != 84 and p[i] != 116 and p[i] != 32:   # 'T' 't' ' '
            return F_SYNTAX
        if n < i + 6 or p[i + 3] != 58:
            return F_SYNTAX
        hh = two_digits(p + i + 1)
        mm = two_digits(p + i + 4)
        if hh < 0 or mm < 0 or hh > 23 or mm > 59:
            return F_SYNTAX
        has_time[0] = True
        i += 6
        if i < n and p[i] == 58:   # ':' seconds
            if n < i + 3:
                return F_SYNTAX
            ss = two_digits(p + i + 1)
            if ss < 0 or ss > 60:
                return F_SYNTAX
            if ss == 60:
                ss = 59     # a leap second reads as the last second of its minute
            i += 3
            if i < n and (p[i] == 46 or p[i] == 44):   # '.' or ',' fraction
                i += 1
                if i >= n or not is_digit(p[i]):
                    return F_SYNTAX
                while i < n and is_digit(p[i]):
                    if scale > 0:
                        frac += (p[i] - 48) * scale
                        scale //= 10
                    i += 1
        secs = hh * 3600 + mm * 60 + ss
        if i < n:
            if (p[i] == 90 or p[i] == 122) and i + 1 == n:   # 'Z' 'z'
                i += 1
            elif p[i] == 43 or p[i] == 45:
                neg = p[i] == 45
                if n < i + 3:
                    return F_SYNTAX
                oh = two_digits(p + i + 1)
                if oh < 0 or oh > 23:
                    return F_SYNTAX
                i += 3
                if i < n:
                    if p[i] == 58:
                        i += 1
                    if n != i + 2:
                        return F_SYNTAX
                    om = two_digits(p + i)
                    if om < 0 or om > 59:
                        return F_SYNTAX
                    i += 2
                offset = oh * 3600 + om * 60
                if neg:
                    offset = -offset
            if i != n:
                return F_SYNTAX
    total = days * 86400 + secs - offset
    # int64 nanoseconds reach from 1677-09-21 to 2262-04-11.
    if total < -9223372035LL or total > 9223372035LL:
        return F_RANGE
    ns[0] = total * NS_PER_SECOND + frac
    return V_OK


cdef bint utf8_valid(const uint8_t *p, Py_ssize_t n, Py_ssize_t *bad_at) noexcept nogil:
    """True when `p[:n]` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF)."""
    cdef Py_ssize_t i = 0
    cdef uint8_t c, c1
    cdef uint64_t w
    while i < n:
        # ASCII runs go eight bytes at a time.
        while i + 8 <= n:
            memcpy(&w, p + i, 8)
            if w & 0x8080808080808080ULL:
                break
            i += 8
        if i >= n:
            break
        c = p[i]
        if c < 0x80:
            i += 1
            continue
        if c < 0xC2 or c > 0xF4:
            bad_at[0] = i
            return False
        if c < 0xE0:
            if i + 1 >= n or (p[i + 1] & 0xC0) != 0x80:
                bad_at[0] = i
                return False
            i += 2
            continue
        if i + 2 >= n:
            bad_at[0] = i
            return False
        c1 = p[i + 1]
        if c < 0xF0:
            if (c1 & 0xC0) != 0x80 or (p[i + 2] & 0xC0) != 0x80 or (c == 0xE0 and c1 < 0xA0) \
                    or (c == 0xED and c1 > 0x9F):
                bad_at[0] = i
                return False
            i += 3
            continue
        if i + 3 >= n or (c1 & 0xC0) != 0x80 or (p[i + 2] & 0xC0) != 0x80 or (p[i + 3] & 0xC0) != 0x80 \
                or (c == 0xF0 and c1 < 0x90) or (c == 0xF4 and c1 > 0x8F):
            bad_at[0] = i
            return False
        i += 4
    return True


cdef int classify(const uint8_t *p, Py_ssize_t n) noexcept nogil:
    """The narrowest inferable kind of a non-null text value (one KIND_* bit)."""
    cdef int64_t iv
    cdef double dv
    cdef int st
    cdef bint has_time
    if n == 0:
        return KIND_STRING
    if is_digit(p[0]) or ((p[0] == 45 or p[0] == 43) and n > 1):
        st = parse_int64(p, n, &iv)
        if st == V_OK:
            # "007" keeps its zeros: leading zeros mean a code, not a number.
            if n > 1 and p[0] == 48:
                return KIND_STRING
            if n > 2 and (p[0] == 45 or p[0] == 43) and p[1] == 48:
                return KIND_STRING
            return KIND_INT
        if st == F_RANGE:
            return KIND_FLOAT
        if n >= 10 and p[4] == 45:
            st = classify_date_or_time(p, n)
            if st != KIND_STRING:
                return st
        if parse_float64(p, n, &dv) == V_OK:
            return KIND_FLOAT
        return KIND_STRING
    if p[0] == 46 or p[0] == 105 or p[0] == 73:   # '.5', 'inf', 'Inf'
        if parse_float64(p, n, &dv) == V_OK:
            return KIND_FLOAT
        return KIND_STRING
    if p[0] == 116 or p[0] == 84 or p[0] == 102 or p[0] == 70:   # t T f F
        if equals_nocase(p, n, b"true") or equals_nocase(p, n, b"false"):
            return KIND_BOOL
    return KIND_STRING


cdef int classify_text_only(const uint8_t *p, Py_ssize_t n) noexcept nogil:
    """The kind of a JSON string's content: dates and timestamps are recognised, numbers are not."""
    if n >= 10 and is_digit(p[0]) and p[4] == 45:
        return classify_date_or_time(p, n)
    return KIND_STRING


cdef int classify_date_or_time(const uint8_t *p, Py_ssize_t n) noexcept nogil:
    """KIND_DATE for ``YYYY-MM-DD`` that a timestamp could hold too, KIND_DATE_WIDE for one of
    any other year (1 to 9999: a date, never a timestamp), KIND_TIMESTAMP for an ISO 8601
    timestamp within int64 nanoseconds; else KIND_STRING."""
    cdef int64_t iv
    cdef bint has_time
    cdef int st
    if n == 10:
        if parse_date(p, n, &iv) != V_OK:
            return KIND_STRING
        st = parse_timestamp(p, n, &iv, &has_time)
        return KIND_DATE if st == V_OK else KIND_DATE_WIDE
    if parse_timestamp(p, n, &iv, &has_time) == V_OK:
        return KIND_TIMESTAMP if has_time else KIND_DATE
    return KIND_STRING


def resolve_kinds(int mask):
    """The type name an inferred column gets from the set of kinds seen in it."""
    return _resolve(mask)


cdef str _resolve(int mask):
    mask &= ~KIND_NULL
    if mask == 0:
        return "string"
    if mask & (KIND_STRING | KIND_VECTOR_MIXED):
        return "string"
    if mask & KIND_VECTOR:
        return "vector" if mask == KIND_VECTOR else "string"
    if mask == KIND_BOOL:
        return "bool"
    if mask == KIND_INT:
        return "int64"
    if (mask & ~(KIND_INT | KIND_FLOAT)) == 0:
        return "float64"
    if (mask & ~(KIND_DATE | KIND_DATE_WIDE)) == 0:
        return "date"
    if (mask & ~(KIND_DATE | KIND_TIMESTAMP)) == 0:
        return "timestamp"
    return "string"


def parse_value(bytes text not None, str type_name):
    """Parse one value the way the tokenizers do (for tests and error messages): returns
    (status, value) where value is an int, float or bool (dates: days, timestamps: ns)."""
    cdef const uint8_t *p = <const uint8_t *>PyBytes_AS_STRING(text)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(text)
    cdef int64_t iv = 0
    cdef uint64_t uv = 0
    cdef double dv = 0
    cdef uint8_t bv = 0
    cdef bint has_time
    cdef int st
    if type_name == "int64":
        st = parse_int64(p, n, &iv)
        return st, iv
    if type_name == "uint64":
        st = parse_uint64(p, n, &uv)
        return st, uv
    if type_name == "float64":
        st = parse_float64(p, n, &dv)
        return st, dv
    if type_name == "bool":
        st = parse_bool(p, n, &bv, True)
        return st, bool(bv)
    if type_name == "date":
        st = parse_date(p, n, &iv)
        return st, iv
    if type_name == "timestamp":
        st = parse_timestamp(p, n, &iv, &has_time)
        return st, iv
    raise ValueError(f"no parser for {type_name!r}")


def classify_value(bytes text not None):
    """The inference kind bit of one (non-null) value."""
    return classify(<const uint8_t *>PyBytes_AS_STRING(text), PyBytes_GET_SIZE(text))
