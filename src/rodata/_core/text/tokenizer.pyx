# The shared base of the CSV and JSON Lines tokenizers: column builders set up from a column
# list, one checked feed() that runs the format's nogil record loop, and the hand-over of the
# parsed columns to numpy without a copy.


cdef class Tokenizer:
    """Shared state of the CSV and JSON Lines tokenizers: the column builders (attributes in
    tokenizer.pxd)."""

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
        if status == F_NOT_IMPLEMENTED:
            raise NotImplementedError(f"{type(self).__name__} has no record loop")
        return status, pos, ln

    cdef int _run(self, const uint8_t *buf, Py_ssize_t n, Py_ssize_t *pos_io, Py_ssize_t limit, bint eof,
                  int64_t *line_io) noexcept nogil:
        """The format's record loop (CSV, JSON Lines): returns a status, advances *pos_io and *line_io.
        Each format overrides it: the base has none, and says so."""
        return F_NOT_IMPLEMENTED

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
            col.dim = dim if col.kind == T_VECTOR else 1
            if col.dim < 1 or col.dim > MAX_VECTOR_DIM:
                raise ValueError(f"column {name!r}: vector dimension {dim} out of range")
            col.itemsize = rd_type(col.kind).itemsize * col.dim   # 0: variable width, or sampling
            col.inferred = bool(inferred)
            col.not_null = bool(not_null)
            col.is_key = bool(is_key)
            col.vec_dim = -1
            _set_int_range(col)
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
            if col.kind == T_STRING or col.kind == T_BYTES:
                data_len = <int64_t>col.offsets[n]
                doc["offsets"] = _hand_over(<void **>&col.offsets, n + 1, np.uint64)
                doc["data"] = _hand_over(<void **>&col.data, data_len, np.uint8)
                col.data_len = 0
                col.data_cap = 0
            else:
                arr = _hand_over(<void **>&col.values, n * col.dim, _DTYPES[col.kind])  # dim: 1 unless a vector
                if col.kind == T_VECTOR:
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

    cdef void _set_bad(self, int code, Py_ssize_t rec_start, Py_ssize_t rec_end, Py_ssize_t pos, int field,
                       int64_t line) noexcept nogil:
        """Record the bad record that the format's loop stops on, for error()."""
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


cdef void _set_int_range(Col *col) noexcept:
    """The range col_put_int accepts: an integer type's limits (int64 ones for other types; a
    uint64 column is checked on its own, before the range)."""
    cdef const rd_type_info *t = rd_type(col.kind)
    col.lo = INT64_MIN
    col.hi = INT64_MAX
    if rd_is_integer(t) and t.hi <= <uint64_t>col.hi:
        col.lo = t.lo
        col.hi = <int64_t>t.hi
