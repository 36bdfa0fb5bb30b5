# The compiled row renderer: a row's JSON object written straight from the mapped columns (no
# Python object per value), byte for byte the text rodata.encode defines.  The column numbers of
# a plan and the row numbers are checked here, at the def boundary; the values are then written
# by nogil code that returns a status (and the faulty column), raised after it.

cdef enum:
    _STACK = 2048          # bytes of a single row rendered without a heap buffer
    _FIXED_ROOM = 40       # the longest text of a fixed-width value (a float: 32)
    _NOGIL_ROWS = 64       # a lookup of at least this many rows is rendered without the GIL


cdef class JsonPlan:
    def __cinit__(self, tuple columns not None, keys not None):
        """`columns`: column numbers; `keys`: the JSON text of each one's name (a quoted string),
        aligned with `columns`.  A repeated column keeps its first place, as a dict's key does."""
        cdef Py_ssize_t i, col, n = 0, at = 0
        keys = list(keys)
        if len(keys) != len(columns):
            raise ValueError("one key per column")
        self.cols = <Py_ssize_t *>PyMem_Malloc((len(columns) + 1) * sizeof(Py_ssize_t))
        self.key_at = <Py_ssize_t *>PyMem_Malloc((len(columns) + 1) * sizeof(Py_ssize_t))
        if self.cols == NULL or self.key_at == NULL:
            raise MemoryError()
        seen = set()
        parts = []
        self.max_col = -1
        self.key_at[0] = 0
        for i in range(len(columns)):
            col = columns[i]
            if col < 0:
                raise IndexError(f"column {col} out of range")
            if col in seen:
                continue
            seen.add(col)
            text = bytes(keys[i]) + b":"
            parts.append(text)
            at += len(text)
            self.cols[n] = col
            n += 1
            self.key_at[n] = at
            if col > self.max_col:
                self.max_col = col
        self.n = n
        self.keys = b"".join(parts)
        self.columns = tuple(self.cols[i] for i in range(n))

    def __dealloc__(self):
        PyMem_Free(self.cols)
        PyMem_Free(self.key_at)


cdef inline int _check_plan(Segment seg, JsonPlan plan) except -1:
    """The one check of a plan's column numbers against a segment."""
    if plan.max_col >= 0:
        _column(seg, plan.max_col)
    return 0


cdef int _json_value(const ColumnDesc *c, Py_ssize_t row, rd_jbuf *b) noexcept nogil:
    """Append the JSON text of (non-null) value `row` of column `c`."""
    cdef const char *p = c.data + row * c.itemsize
    cdef char *o
    cdef uint64_t lo, hi
    cdef int64_t v
    cdef Py_ssize_t i
    cdef int code = c.code
    if code == T_STRING or code == T_BYTES:
        lo = c.offsets[row]
        hi = c.offsets[row + 1]
        if RD_UNLIKELY(not range_ok(c.data_len, lo, hi)):
            return JST_BAD_VALUE
        if code == T_STRING:
            if RD_UNLIKELY(rd_utf8_check(<const uint8_t *>c.data + lo, hi - lo) != hi - lo):
                return JST_BAD_VALUE
            if rd_jb_reserve(b, rd_jb_size(hi - lo, 6, 2)) != 0:
                return JST_NO_MEMORY
            b.len += rd_json_string(b.p + b.len, <const uint8_t *>c.data + lo, hi - lo)
        else:
            if rd_jb_reserve(b, rd_jb_size((hi - lo) // 3 + 1, 4, 2)) != 0:
                return JST_NO_MEMORY
            b.len += rd_json_base64(b.p + b.len, <const uint8_t *>c.data + lo, hi - lo)
        return ST_OK
    if code == T_VECTOR:
        if rd_jb_reserve(b, rd_jb_size(<size_t>c.dim, _FIXED_ROOM + 1, 2)) != 0:
            return JST_NO_MEMORY
        o = b.p + b.len
        o[0] = b'['
        o += 1
        for i in range(c.dim):
            if i:
                o[0] = b','
                o += 1
            o += rd_json_float(o, (<const float *>p)[i], True)
        o[0] = b']'
        b.len = <size_t>(o + 1 - b.p)
        return ST_OK
    if rd_jb_reserve(b, _FIXED_ROOM) != 0:
        return JST_NO_MEMORY
    o = b.p + b.len
    if code == T_INT64:
        b.len += rd_json_i64(o, (<const int64_t *>p)[0])
    elif code == T_FLOAT64:
        b.len += rd_json_float(o, (<const double *>p)[0], False)
    elif code == T_FLOAT32:
        b.len += rd_json_float(o, (<const float *>p)[0], True)
    elif code == T_INT32:
        b.len += rd_json_i64(o, (<const int32_t *>p)[0])
    elif code == T_INT16:
        b.len += rd_json_i64(o, (<const int16_t *>p)[0])
    elif code == T_INT8:
        b.len += rd_json_i64(o, (<const int8_t *>p)[0])
    elif code == T_UINT8:
        b.len += rd_json_u64(o, (<const uint8_t *>p)[0])
    elif code == T_UINT16:
        b.len += rd_json_u64(o, (<const uint16_t *>p)[0])
    elif code == T_UINT32:
        b.len += rd_json_u64(o, (<const uint32_t *>p)[0])
    elif code == T_UINT64:
        b.len += rd_json_u64(o, (<const uint64_t *>p)[0])
    elif code == T_BOOL:
        if (<const uint8_t *>p)[0] != 0:
            memcpy(o, b"true", 4)
            b.len += 4
        else:
            memcpy(o, b"false", 5)
            b.len += 5
    elif code == T_TIMESTAMP:
        b.len += rd_json_timestamp(o, (<const int64_t *>p)[0])
    elif code == T_DATE:
        v = (<const int64_t *>p)[0]
        if RD_UNLIKELY(v < MIN_DATE_DAYS or v > MAX_DATE_DAYS):
            return JST_BAD_VALUE
        b.len += rd_json_date(o, v)
    else:
        return JST_BAD_VALUE
    return ST_OK


cdef int _json_row(const ColumnDesc *cols, Py_ssize_t row, const Py_ssize_t *pcols, Py_ssize_t n,
                   const char *keys, const Py_ssize_t *key_at, rd_jbuf *b, Py_ssize_t *bad) noexcept nogil:
    """Append row `row`'s JSON object (columns and rows checked); on a fault, its column in `bad`."""
    cdef Py_ssize_t i, klen
    cdef const ColumnDesc *c
    cdef int st
    if rd_jb_reserve(b, 2) != 0:
        return JST_NO_MEMORY
    b.p[b.len] = b'{'
    b.len += 1
    for i in range(n):
        c = &cols[pcols[i]]
        klen = key_at[i + 1] - key_at[i]
        if rd_jb_reserve(b, <size_t>klen + 6) != 0:
            return JST_NO_MEMORY
        if i:
            b.p[b.len] = b','
            b.len += 1
        memcpy(b.p + b.len, keys + key_at[i], <size_t>klen)
        b.len += <size_t>klen
        if c.validity != NULL and not (c.validity[row >> 3] >> (row & 7)) & 1:
            memcpy(b.p + b.len, b"null", 4)
            b.len += 4
            continue
        st = _json_value(c, row, b)
        if st != ST_OK:
            bad[0] = pcols[i]
            return st
    if rd_jb_reserve(b, 1) != 0:
        return JST_NO_MEMORY
    b.p[b.len] = b'}'
    b.len += 1
    return ST_OK


cdef _json_fault(Segment seg, int st, Py_ssize_t col, Py_ssize_t row):
    """Raise the error of a faulty value: the one its Python read raises (the same message)."""
    if st == JST_NO_MEMORY:
        raise MemoryError()
    seg._value(col, row)
    seg._fail(seg._where(SEC_DATA, col), 0, f"value of row {row} cannot be written as JSON")


cdef bytes _render_one(Segment seg, Py_ssize_t row, JsonPlan plan):
    cdef char stack[_STACK]
    cdef rd_jbuf b
    cdef Py_ssize_t bad = -1
    cdef int st
    rd_jb_init(&b, stack, _STACK)
    st = _json_row(seg.cols, row, plan.cols, plan.n, PyBytes_AS_STRING(plan.keys), plan.key_at, &b, &bad)
    try:
        if st != ST_OK:
            _json_fault(seg, st, bad, row)
        return PyBytes_FromStringAndSize(b.p, <Py_ssize_t>b.len)
    finally:
        rd_jb_free(&b)


def row_json(Segment seg not None, Py_ssize_t row, JsonPlan plan not None):
    """Row `row` of `seg` as the JSON object of the plan's columns."""
    _check_plan(seg, plan)
    _check_row(seg, row)
    return _render_one(seg, row, plan)


def get_json(Segment seg not None, key, JsonPlan plan not None):
    """The row with `key` as the JSON object of the plan's columns, or None."""
    _check_plan(seg, plan)
    cdef Py_ssize_t row = seg._find(key)
    if row < 0:
        return None
    seg._prefetch_row(row, plan.columns)
    return _render_one(seg, row, plan)


cdef int _json_rows(const ColumnDesc **cols, const int32_t *which, const int64_t *rows, Py_ssize_t n,
                    const Py_ssize_t *pcols, Py_ssize_t ncols, const char *keys, const Py_ssize_t *key_at,
                    const char *head, size_t hlen, const char *tail, size_t tlen, rd_jbuf *b,
                    Py_ssize_t *bad, Py_ssize_t *at) noexcept nogil:
    """head [row or null, ...] tail, for checked (segment, row) pairs; on a fault, its position in `at`."""
    cdef Py_ssize_t i, j, r
    cdef const ColumnDesc *c
    cdef int st
    if rd_jb_reserve(b, rd_jb_size(<size_t>n, 8, hlen + tlen + 2)) != 0:
        return JST_NO_MEMORY
    memcpy(b.p, head, hlen)
    b.len = hlen
    b.p[b.len] = b'['
    b.len += 1
    for i in range(n):
        if i + ROW_PREFETCH < n and rows[i + ROW_PREFETCH] >= 0:
            # random rows miss the cache in every column: start those loads a few rows ahead
            r = rows[i + ROW_PREFETCH]
            for j in range(ncols):
                c = &cols[which[i + ROW_PREFETCH]][pcols[j]]
                if c.offsets != NULL:
                    RD_PREFETCH(&c.offsets[r])
                else:
                    RD_PREFETCH(c.data + r * c.itemsize)
        if rd_jb_reserve(b, 5) != 0:
            return JST_NO_MEMORY
        if i:
            b.p[b.len] = b','
            b.len += 1
        r = rows[i]
        if r < 0:
            memcpy(b.p + b.len, b"null", 4)
            b.len += 4
            continue
        st = _json_row(cols[which[i]], r, pcols, ncols, keys, key_at, b, bad)
        if st != ST_OK:
            at[0] = i
            return st
    if rd_jb_reserve(b, tlen + 1) != 0:
        return JST_NO_MEMORY
    b.p[b.len] = b']'
    b.len += 1
    memcpy(b.p + b.len, tail, tlen)
    b.len += tlen
    return ST_OK


def rows_json(tuple segs not None, const int32_t[::1] which, const int64_t[::1] rows, JsonPlan plan not None,
              bytes head not None, bytes tail not None):
    """`head`, then a JSON array with, for each i, row `rows[i]` of segment `segs[which[i]]` as
    the plan's object (``null`` where `rows[i]` is negative), then `tail`."""
    cdef Py_ssize_t i, k, r, n = rows.shape[0], nseg = len(segs), bad = -1, at = -1
    cdef Segment seg
    cdef const ColumnDesc **cols = NULL
    cdef rd_jbuf b
    cdef int st = ST_OK
    cdef const char *keys = PyBytes_AS_STRING(plan.keys)
    cdef const int32_t *wp
    cdef const int64_t *rp
    cdef const char *hp = PyBytes_AS_STRING(head)
    cdef const char *tp = PyBytes_AS_STRING(tail)
    cdef size_t hlen = <size_t>PyBytes_GET_SIZE(head), tlen = <size_t>PyBytes_GET_SIZE(tail)
    if which.shape[0] != n:
        raise ValueError("which and rows differ in length")
    cols = <const ColumnDesc **>PyMem_Malloc((nseg + 1) * sizeof(ColumnDesc *))
    if cols == NULL:
        raise MemoryError()
    try:
        for k in range(nseg):
            seg = segs[k]
            _check_plan(seg, plan)
            cols[k] = seg.cols
        for i in range(n):  # the one check of every (segment, row) pair
            if rows[i] >= 0:
                if not 0 <= which[i] < nseg:
                    raise IndexError(f"segment {which[i]} out of range")
                _check_row(<Segment>segs[which[i]], rows[i])
        rd_jb_init(&b, NULL, 0)
        try:
            wp = &which[0] if n else NULL
            rp = &rows[0] if n else NULL
            if n >= _NOGIL_ROWS:  # a few rows cost less than giving the GIL away and back
                with nogil:
                    st = _json_rows(cols, wp, rp, n, plan.cols, plan.n, keys, plan.key_at, hp, hlen, tp, tlen,
                                    &b, &bad, &at)
            else:
                st = _json_rows(cols, wp, rp, n, plan.cols, plan.n, keys, plan.key_at, hp, hlen, tp, tlen,
                                &b, &bad, &at)
            if st == JST_NO_MEMORY:
                raise MemoryError()
            if st != ST_OK:
                _json_fault(<Segment>segs[which[at]], st, bad, rows[at])
            return PyBytes_FromStringAndSize(b.p, <Py_ssize_t>b.len)
        finally:
            rd_jb_free(&b)
    finally:
        PyMem_Free(cols)
