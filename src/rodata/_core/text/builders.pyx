# Column builders: growable typed buffers that the tokenizers append one row at a time.
# A record's values are written at row `nrows` and only count once the record is
# committed, so a bad record is dropped by not committing it (strings roll back
# their data length to the last committed offset).


# Far beyond any chunk: sizes stay clear of overflow in the byte counts computed from them.
cdef int64_t MAX_BUILDER_ROWS = (<int64_t>1) << 36
cdef size_t MAX_BUILDER_BYTES = (<size_t>1) << 44


cdef int core_grow_rows(Core *c, int64_t need) noexcept nogil:
    """Make room for at least `need` rows in every column."""
    cdef int64_t cap = c.cap if c.cap > 0 else 1024
    cdef int i
    cdef Col *col
    cdef void *p
    if need <= c.cap:
        return V_OK
    if need > MAX_BUILDER_ROWS:
        return F_NOMEM
    while cap < need:
        cap *= 2
    p = realloc(c.lines, cap * sizeof(int64_t))
    if p == NULL:
        return F_NOMEM
    c.lines = <int64_t *>p
    for i in range(c.ncols):
        col = &c.cols[i]
        if col.kind == C_INFER:
            continue
        p = realloc(col.valid, cap)
        if p == NULL:
            return F_NOMEM
        col.valid = <uint8_t *>p
        if col.kind == T_STRING or col.kind == T_BYTES:
            p = realloc(col.offsets, (cap + 1) * sizeof(uint64_t))
            if p == NULL:
                return F_NOMEM
            col.offsets = <uint64_t *>p
            if c.cap == 0:
                col.offsets[0] = 0
        else:
            p = realloc(col.values, cap * col.itemsize)
            if p == NULL:
                return F_NOMEM
            col.values = <char *>p
    c.cap = cap
    return V_OK


cdef int col_reserve_data(Col *col, size_t extra) noexcept nogil:
    cdef size_t cap
    cdef void *p
    if col.data_len + extra <= col.data_cap:
        return V_OK
    if extra > MAX_BUILDER_BYTES or col.data_len > MAX_BUILDER_BYTES - extra:
        return F_NOMEM
    cap = col.data_cap if col.data_cap > 0 else 65536
    while cap < col.data_len + extra:
        cap *= 2
    p = realloc(col.data, cap)
    if p == NULL:
        return F_NOMEM
    col.data = <uint8_t *>p
    col.data_cap = cap
    return V_OK


cdef int core_reserve_scratch(Core *c, size_t n) noexcept nogil:
    cdef size_t cap
    cdef void *p
    if n <= c.scratch_cap:
        return V_OK
    if n > MAX_BUILDER_BYTES:
        return F_NOMEM
    cap = c.scratch_cap if c.scratch_cap > 0 else 4096
    while cap < n:
        cap *= 2
    p = realloc(c.scratch, cap)
    if p == NULL:
        return F_NOMEM
    c.scratch = <uint8_t *>p
    c.scratch_cap = cap
    return V_OK


cdef inline bint core_is_null(Core *c, const uint8_t *v, Py_ssize_t n) noexcept nogil:
    cdef int i
    if n == 0:
        return c.empty_is_null
    if n > c.null_maxlen or not c.null_first[v[0]]:
        return False
    for i in range(c.nnull):
        if c.null_len[i] == n and memcmp(c.null_ptr[i], v, n) == 0:
            return True
    return False


cdef inline void col_set_null(Col *col, int64_t row) noexcept nogil:
    col.valid[row] = 0
    if col.kind == T_STRING or col.kind == T_BYTES:
        col.offsets[row + 1] = col.data_len
    else:
        memset(col.values + row * col.itemsize, 0, col.itemsize)


cdef inline int col_append_bytes(Col *col, int64_t row, const uint8_t *v, Py_ssize_t n) noexcept nogil:
    if col.data_len + n > col.data_cap and col_reserve_data(col, n) != V_OK:
        return F_NOMEM
    rd_copy_short(col.data + col.data_len, v, n)
    col.data_len += n
    col.offsets[row + 1] = col.data_len
    col.valid[row] = 1
    return V_OK


cdef int col_put_int(Col *col, int64_t row, int64_t x) noexcept nogil:
    """Store an integer in any integer column, checking the column's range."""
    cdef char *dst = col.values + row * col.itemsize
    if col.kind == T_UINT64:
        if x < 0:
            return F_RANGE
        (<uint64_t *>dst)[0] = <uint64_t>x
    elif x < col.lo or x > col.hi:
        return F_RANGE
    elif col.itemsize == 8:
        (<int64_t *>dst)[0] = x
    elif col.itemsize == 4:
        if col.kind == T_UINT32:
            (<uint32_t *>dst)[0] = <uint32_t>x
        else:
            (<int32_t *>dst)[0] = <int32_t>x
    elif col.itemsize == 2:
        if col.kind == T_UINT16:
            (<uint16_t *>dst)[0] = <uint16_t>x
        else:
            (<int16_t *>dst)[0] = <int16_t>x
    else:
        if col.kind == T_UINT8:
            (<uint8_t *>dst)[0] = <uint8_t>x
        else:
            (<int8_t *>dst)[0] = <int8_t>x
    col.valid[row] = 1
    return V_OK


cdef int col_put_float(Col *col, int64_t row, double x) noexcept nogil:
    cdef float f
    if col.kind == T_FLOAT64:
        (<double *>(col.values + row * 8))[0] = x
    else:
        f = <float>x
        if isinf(f) and not isinf(x):
            return F_RANGE
        (<float *>(col.values + row * 4))[0] = f
    col.valid[row] = 1
    return V_OK


cdef int parse_vector(Col *col, int64_t row, const uint8_t *v, Py_ssize_t n) noexcept nogil:
    """``[1, 2.5, 3]`` or ``1 2.5 3`` (also ``;`` separated) into `dim` float32 values."""
    cdef Py_ssize_t i = 0, j, k = 0
    cdef float *dst = <float *>(col.values + row * col.itemsize)
    cdef double x
    cdef float f
    cdef int st
    while i < n and (v[i] == 32 or v[i] == 9):
        i += 1
    if i < n and v[i] == 91:   # '['
        i += 1
        while n > i and (v[n - 1] == 32 or v[n - 1] == 9):
            n -= 1
        if n <= i or v[n - 1] != 93:   # ']'
            return F_SYNTAX
        n -= 1
    while True:
        while i < n and (v[i] == 32 or v[i] == 9 or v[i] == 10 or v[i] == 13):
            i += 1
        if i >= n:
            break
        j = i
        while j < n and v[j] != 44 and v[j] != 59 and v[j] != 32 and v[j] != 9 and v[j] != 10 and v[j] != 13:
            j += 1
        if k >= col.dim:
            return F_DIM
        st = parse_float64(v + i, j - i, &x)
        if st != V_OK:
            return st
        f = <float>x
        if isinf(f) and not isinf(x):
            return F_RANGE
        dst[k] = f
        k += 1
        i = j
        while i < n and (v[i] == 32 or v[i] == 9 or v[i] == 10 or v[i] == 13):
            i += 1
        if i < n and (v[i] == 44 or v[i] == 59):
            i += 1
            while i < n and (v[i] == 32 or v[i] == 9 or v[i] == 10 or v[i] == 13):
                i += 1
            if i >= n:
                return F_SYNTAX   # a trailing separator
    if k != col.dim:
        return F_DIM
    col.valid[row] = 1
    return V_OK


cdef inline int col_put_text(Core *c, Col *col, int64_t row, const uint8_t *v, Py_ssize_t n,
                      Py_ssize_t *bad_at, bint ascii) noexcept nogil:
    """Parse the text `v[:n]` into `col` at `row` (nulls included).  V_OK or why not."""
    cdef int64_t iv
    cdef uint64_t uv
    cdef double dv
    cdef uint8_t bv
    cdef bint has_time
    cdef int st, kind = col.kind
    bad_at[0] = 0
    if core_is_null(c, v, n):
        if col.is_key:
            return F_NULL_KEY
        if col.not_null:
            return F_NULL
        if kind == C_INFER:
            col.pending_seen |= KIND_NULL
            c.pending = True
            return V_OK
        col_set_null(col, row)
        return V_OK
    if kind == T_INT64:
        st = parse_int64(v, n, &iv)
        if st == V_OK:
            (<int64_t *>(col.values + row * 8))[0] = iv
            col.valid[row] = 1
            return V_OK
    elif kind == T_FLOAT64 or kind == T_FLOAT32:
        st = parse_float64(v, n, &dv)
        if st == V_OK:
            st = col_put_float(col, row, dv)
    elif kind == T_STRING:
        if ascii or utf8_valid(v, n, bad_at):
            return col_append_bytes(col, row, v, n)
        st = F_UTF8
    elif kind == T_DATE:
        st = parse_date(v, n, &iv)
        if st == V_OK:
            (<int64_t *>(col.values + row * 8))[0] = iv
            col.valid[row] = 1
            return V_OK
    elif kind == T_TIMESTAMP:
        st = parse_timestamp(v, n, &iv, &has_time)
        if st == V_OK:
            (<int64_t *>(col.values + row * 8))[0] = iv
            col.valid[row] = 1
            return V_OK
    elif kind == T_BOOL:
        st = parse_bool(v, n, &bv, not col.inferred)
        if st == V_OK:
            (<uint8_t *>(col.values + row))[0] = bv
            col.valid[row] = 1
            return V_OK
    elif kind == T_UINT64:
        st = parse_uint64(v, n, &uv)
        if st == V_OK:
            (<uint64_t *>(col.values + row * 8))[0] = uv
            col.valid[row] = 1
            return V_OK
    elif kind == C_INFER:
        st = classify(v, n)
        if st == KIND_STRING and not ascii and not utf8_valid(v, n, bad_at):
            return F_UTF8
        col.pending_seen |= st
        c.pending = True
        return V_OK
    elif kind == T_BYTES:
        return col_append_bytes(col, row, v, n)
    elif kind == T_VECTOR:
        st = parse_vector(col, row, v, n)
    else:   # the narrower integers
        st = parse_int64(v, n, &iv)
        if st == V_OK:
            st = col_put_int(col, row, iv)
    if st == V_OK or st == F_NOMEM:
        return st
    if st != F_UTF8 and not ascii and not utf8_valid(v, n, bad_at):
        # Not text at all: a fault in any column but bytes, whatever its type (so such a value
        # never widens an inferred type: it is rejected with its record).
        return F_UTF8
    if col.inferred and kind != T_STRING:
        # Not a failure: the type inferred from the sample is too narrow.  Remember the kind
        # of this value (kept if the record is good) and hold a null meanwhile; the build
        # widens the column and parses the input again.
        col.pending_widen |= classify(v, n)
        c.pending = True
        col_set_null(col, row)
        return V_OK
    return st


cdef inline void col_commit_pending(Col *col) noexcept nogil:
    """Keep what the record just committed told about the column (kinds, a vector length)."""
    col.widen |= col.pending_widen
    col.seen |= col.pending_seen
    if col.vec_dim == -1 and col.pending_vec_dim > 0:
        col.vec_dim = col.pending_vec_dim
    col.pending_widen = 0
    col.pending_seen = 0
    col.pending_vec_dim = 0


cdef inline void col_drop_pending(Col *col) noexcept nogil:
    """Forget what a rejected record told about the column: it never counts."""
    col.pending_widen = 0
    col.pending_seen = 0
    col.pending_vec_dim = 0


cdef void core_commit_pending(Core *c) noexcept nogil:
    cdef int i
    cdef Col *col
    for i in range(c.ncols):
        col = &c.cols[i]
        col_commit_pending(&c.cols[i])
    c.pending = False


cdef void core_drop_pending(Core *c) noexcept nogil:
    cdef int i
    for i in range(c.ncols):
        col_drop_pending(&c.cols[i])
    c.pending = False


cdef inline void core_rollback(Core *c) noexcept nogil:
    """Forget the values written for the record at row `nrows`."""
    cdef int i
    cdef Col *col
    for i in range(c.ncols):
        col = &c.cols[i]
        if col.offsets != NULL:
            col.data_len = col.offsets[c.nrows]
    if c.pending:
        core_drop_pending(c)
