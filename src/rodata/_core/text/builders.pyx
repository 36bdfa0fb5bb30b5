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
        if col.kind == C_STRING or col.kind == C_BYTES:
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
    if col.kind == C_STRING or col.kind == C_BYTES:
        col.offsets[row + 1] = col.data_len
    else:
        memset(col.values + row * col.itemsize, 0, col.itemsize)


cdef inline int col_append_bytes(Col *col, int64_t row, const uint8_t *v, Py_ssize_t n) noexcept nogil:
    if col.data_len + n > col.data_cap and col_reserve_data(col, n) != V_OK:
        return F_NOMEM
    rdt_copy_short(col.data + col.data_len, v, n)
    col.data_len += n
    col.offsets[row + 1] = col.data_len
    col.valid[row] = 1
    return V_OK


cdef int col_put_int(Col *col, int64_t row, int64_t x) noexcept nogil:
    """Store an integer in any integer column, checking the column's range."""
    cdef char *dst = col.values + row * col.itemsize
    if col.kind == C_UINT64:
        if x < 0:
            return F_RANGE
        (<uint64_t *>dst)[0] = <uint64_t>x
    elif x < col.lo or x > col.hi:
        return F_RANGE
    elif col.itemsize == 8:
        (<int64_t *>dst)[0] = x
    elif col.itemsize == 4:
        if col.kind == C_UINT32:
            (<uint32_t *>dst)[0] = <uint32_t>x
        else:
            (<int32_t *>dst)[0] = <int32_t>x
    elif col.itemsize == 2:
        if col.kind == C_UINT16:
            (<uint16_t *>dst)[0] = <uint16_t>x
        else:
            (<int16_t *>dst)[0] = <int16_t>x
    else:
        if col.kind == C_UINT8:
            (<uint8_t *>dst)[0] = <uint8_t>x
        else:
            (<int8_t *>dst)[0] = <int8_t>x
    col.valid[row] = 1
    return V_OK


cdef int col_put_float(Col *col, int64_t row, double x) noexcept nogil:
    cdef float f
    if col.kind == C_FLOAT64:
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
    if kind == C_INT64:
        st = parse_int64(v, n, &iv)
        if st == V_OK:
            (<int64_t *>(col.values + row * 8))[0] = iv
            col.valid[row] = 1
            return V_OK
    elif kind == C_FLOAT64 or kind == C_FLOAT32:
        st = parse_float64(v, n, &dv)
        if st == V_OK:
            st = col_put_float(col, row, dv)
    elif kind == C_STRING:
        if ascii or utf8_valid(v, n, bad_at):
            return col_append_bytes(col, row, v, n)
        st = F_UTF8
    elif kind == C_DATE:
        st = parse_date(v, n, &iv)
        if st == V_OK:
            (<int64_t *>(col.values + row * 8))[0] = iv
            col.valid[row] = 1
            return V_OK
    elif kind == C_TIMESTAMP:
        st = parse_timestamp(v, n, &iv, &has_time)
        if st == V_OK:
            (<int64_t *>(col.values + row * 8))[0] = iv
            col.valid[row] = 1
            return V_OK
    elif kind == C_BOOL:
        st = parse_bool(v, n, &bv, not col.inferred)
        if st == V_OK:
            (<uint8_t *>(col.values + row))[0] = bv
            col.valid[row] = 1
            return V_OK
    elif kind == C_UINT64:
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
    elif kind == C_BYTES:
        return col_append_bytes(col, row, v, n)
    elif kind == C_VECTOR:
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
    if col.inferred and kind != C_STRING:
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


cdef class Tokenizer:
    """Shared state of the CSV and JSON Lines tokenizers: the column builders."""

    cdef Core core
    cdef readonly list names
    cdef readonly list types
    cdef readonly int64_t bad_pos      # the failure of the last S_BAD: byte offset in the buffer
    cdef readonly int64_t rec_start    # ... the bad record's first byte
    cdef readonly int64_t rec_end      # ... and the end of it (terminator excluded)
    cdef readonly int64_t bad_line     # ... the line its first byte is on
    cdef readonly int bad_code
    cdef readonly int bad_field        # ... the column (JSON) or field (CSV) index, -1 if none
    cdef list _null_copies

    def feed(self, const uint8_t[::1] buf not None, Py_ssize_t start, Py_ssize_t limit, bint eof, int64_t line):
        """Parse the records that start in ``buf[start:limit]``.

        Returns (status, position, line): STATUS_DONE when no record starts before `limit`
        any more (or the data ended), STATUS_MORE when a record runs past the buffer (call
        again with more bytes from `position`), STATUS_BAD after a bad record (see error();
        `position` is past it).  `line` is the line number at `position`."""
        cdef Py_ssize_t n = buf.shape[0]
        cdef Py_ssize_t pos = start
        cdef int64_t ln = line
        cdef int status
        if start < 0 or start > n:
            raise ValueError("start out of range")
        if limit > n:
            limit = n if eof else limit
        if n == 0:
            return S_DONE if eof else S_MORE, 0, line
        with nogil:
            status = self._run(&buf[0], n, &pos, limit, eof, &ln)
        if status == F_NOMEM:
            raise MemoryError(f"out of memory while parsing {self.FORMAT}")
        return status, pos, ln

    cdef int _run(self, const uint8_t *buf, Py_ssize_t n, Py_ssize_t *pos_io, Py_ssize_t limit, bint eof,
                  int64_t *line_io) noexcept nogil:
        """The format's record loop (CSV, JSON Lines): returns a status, advances *pos_io and *line_io."""
        return F_NOMEM

    def __cinit__(self, *args, **kwargs):
        memset(&self.core, 0, sizeof(Core))

    def __dealloc__(self):
        self._free()

    cdef _free(self):
        cdef int i
        cdef Core *c = &self.core
        if c.cols != NULL:
            for i in range(c.ncols):
                free(c.cols[i].values)
                free(c.cols[i].valid)
                free(c.cols[i].offsets)
                free(c.cols[i].data)
            free(c.cols)
            c.cols = NULL
        free(c.lines)
        c.lines = NULL
        free(c.scratch)
        c.scratch = NULL
        if c.null_ptr != NULL:
            for i in range(c.nnull):
                free(c.null_ptr[i])
            free(c.null_ptr)
            c.null_ptr = NULL
        free(c.null_len)
        c.null_len = NULL

    cdef _setup(self, list columns, null_values, int64_t rows_hint):
        """columns: [(name, type, dim, inferred, not_null, is_key)] with type a storage type or "infer"."""
        cdef Core *c = &self.core
        cdef int i
        cdef Col *col
        cdef bytes tok
        if len(columns) > 100000:
            raise ValueError("too many columns")
        c.ncols = len(columns)
        c.cols = <Col *>malloc(max(c.ncols, 1) * sizeof(Col))
        if c.cols == NULL:
            raise MemoryError()
        memset(c.cols, 0, max(c.ncols, 1) * sizeof(Col))
        self.names = []
        self.types = []
        for i, spec in enumerate(columns):
            name, type_name, dim, inferred, not_null, is_key = spec
            if type_name not in _COL_KINDS:
                raise ValueError(f"column {name!r}: no parser for type {type_name!r}")
            col = &c.cols[i]
            col.kind = _COL_KINDS[type_name]
            col.dim = dim if col.kind == C_VECTOR else 1
            if col.dim < 1 or col.dim > (1 << 20):
                raise ValueError(f"column {name!r}: vector dimension {dim} out of range")
            col.itemsize = 4 * col.dim if col.kind == C_VECTOR else _ITEMSIZE.get(col.kind, 0)
            col.inferred = bool(inferred)
            col.not_null = bool(not_null)
            col.is_key = bool(is_key)
            col.vec_dim = -1
            col.lo, col.hi = _int_range(type_name)
            self.names.append(str(name))
            self.types.append(type_name)
        values = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in null_values]
        c.empty_is_null = b"" in values
        values = [v for v in dict.fromkeys(values) if v]
        c.nnull = len(values)
        c.null_ptr = <uint8_t **>malloc(max(c.nnull, 1) * sizeof(uint8_t *))
        c.null_len = <Py_ssize_t *>malloc(max(c.nnull, 1) * sizeof(Py_ssize_t))
        if c.null_ptr == NULL or c.null_len == NULL:
            raise MemoryError()
        memset(c.null_first, 0, 256)
        c.null_maxlen = 0
        for i in range(c.nnull):
            tok = values[i]
            c.null_ptr[i] = <uint8_t *>malloc(len(tok))
            if c.null_ptr[i] == NULL:
                c.nnull = i
                raise MemoryError()
            memcpy(c.null_ptr[i], PyBytes_AS_STRING(tok), len(tok))
            c.null_len[i] = len(tok)
            c.null_maxlen = max(c.null_maxlen, len(tok))
            c.null_first[<uint8_t>tok[0]] = 1
        if core_grow_rows(c, max(rows_hint, 16)) != V_OK:
            raise MemoryError()
        self.bad_field = -1

    @property
    def nrows(self):
        """Rows committed so far."""
        return self.core.nrows

    def memory_bytes(self):
        """Bytes the rows parsed so far take in the builders (capacity reserved but not yet
        written costs no memory until it is touched, so it is not counted)."""
        cdef Core *c = &self.core
        cdef int i
        cdef int64_t total = c.nrows * 8
        for i in range(c.ncols):
            if c.cols[i].kind == C_INFER:
                continue
            total += c.nrows * (1 + c.cols[i].itemsize) + <int64_t>c.cols[i].data_len
            if c.cols[i].offsets != NULL:
                total += c.nrows * 8
        return total

    def widened(self):
        """{column index: kind mask} of inferred columns holding values their type cannot hold."""
        cdef int i
        return {i: self.core.cols[i].widen for i in range(self.core.ncols) if self.core.cols[i].widen}

    def seen_kinds(self):
        """The kind mask seen in each column (sample mode)."""
        cdef int i
        return [self.core.cols[i].seen for i in range(self.core.ncols)]

    def vector_dims(self):
        """JSON inference: the array length seen in each column (-1: none)."""
        cdef int i
        return [self.core.cols[i].vec_dim for i in range(self.core.ncols)]

    def finish(self):
        """The committed rows: (columns, lines) where each column is a dict with
        ``values`` (fixed width) or ``offsets`` + ``data`` (strings, bytes) and ``valid``
        (a bool array, or None when no value is null).  The buffers are handed to numpy
        without a copy; the tokenizer holds no rows afterwards."""
        cdef Core *c = &self.core
        cdef int64_t n = c.nrows
        cdef int i
        cdef Col *col
        out = []
        for i in range(c.ncols):
            col = &c.cols[i]
            if col.kind == C_INFER:
                out.append(None)
                continue
            doc = {}
            valid = _hand_over(<void **>&col.valid, n, np.bool_)
            doc["valid"] = None if n == 0 or valid.all() else valid
            if col.kind == C_STRING or col.kind == C_BYTES:
                data_len = <int64_t>col.offsets[n]
                doc["offsets"] = _hand_over(<void **>&col.offsets, n + 1, np.uint64)
                doc["data"] = _hand_over(<void **>&col.data, data_len, np.uint8)
                col.data_len = 0
                col.data_cap = 0
            else:
                arr = _hand_over(<void **>&col.values, n * col.dim, _DTYPES[col.kind])  # dim: 1 unless a vector
                if col.kind == C_VECTOR:
                    arr = arr.reshape(n, col.dim)
                doc["values"] = arr
            out.append(doc)
        lines = _hand_over(<void **>&c.lines, n, np.int64)
        c.nrows = 0
        c.cap = 0
        for i in range(c.ncols):
            col = &c.cols[i]
            if col.kind != C_INFER:
                free(col.values)
                free(col.valid)
                free(col.offsets)
                free(col.data)
                col.values = NULL
                col.valid = NULL
                col.offsets = NULL
                col.data = NULL
                col.data_len = 0
                col.data_cap = 0
        if core_grow_rows(c, 16) != V_OK:
            raise MemoryError()
        return out, lines

    cdef _set_bad(self, int code, Py_ssize_t rec_start, Py_ssize_t rec_end, Py_ssize_t pos, int field,
                  int64_t line):
        self.bad_code = code
        self.rec_start = rec_start
        self.rec_end = rec_end
        self.bad_pos = pos
        self.bad_field = field
        self.bad_line = line

    def error(self):
        """The last bad record: (reason, record start, record end, fault position, field, line)."""
        return (FAIL_NAMES.get(self.bad_code, "unknown"), self.rec_start, self.rec_end, self.bad_pos,
                self.bad_field, self.bad_line)


cdef class _Owned:
    """A malloc'd buffer that numpy arrays view; freed with the last view."""
    cdef void *ptr
    cdef Py_ssize_t size

    def __getbuffer__(self, Py_buffer *view, int flags):
        PyBuffer_FillInfo(view, self, self.ptr, self.size, 0, flags)

    def __releasebuffer__(self, Py_buffer *view):
        pass

    def __dealloc__(self):
        free(self.ptr)
        self.ptr = NULL


cdef object _hand_over(void **slot, int64_t count, dtype):
    """A numpy array of `count` items that takes over the buffer in `slot` (set to NULL)."""
    cdef _Owned owner
    cdef Py_ssize_t nbytes = count * np.dtype(dtype).itemsize
    cdef void *p
    if nbytes == 0:
        return np.empty(count, dtype=dtype)
    p = realloc(slot[0], nbytes)      # give back the unused tail
    if p == NULL:
        p = slot[0]
    slot[0] = NULL
    owner = _Owned.__new__(_Owned)
    owner.ptr = p
    owner.size = nbytes
    return np.frombuffer(owner, dtype=dtype, count=count)


cdef tuple _int_range(str type_name):
    if type_name == "int8":
        return -128, 127
    if type_name == "int16":
        return -32768, 32767
    if type_name == "int32":
        return -2147483648, 2147483647
    if type_name == "uint8":
        return 0, 255
    if type_name == "uint16":
        return 0, 65535
    if type_name == "uint32":
        return 0, 4294967295
    return -9223372036854775807 - 1, 9223372036854775807
