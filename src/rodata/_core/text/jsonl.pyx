# The JSON Lines tokenizer: one flat JSON object per line, values straight into the column
# builders.  Nested arrays of numbers fill vector columns; other nested values are kept as
# their JSON text in string columns.  Fields not in the schema are collected (with the kinds
# of their values) so that the build can add them as columns.
#
# Which fields a record named is told by a stamp per column: the number of the record
# (`rec_gen`, counting every record this tokenizer ever parsed, good or bad, and never reset
# -- not by finish(), not by a rejected record).  A stamp is therefore never mistaken for one
# of another record, and every column a record did not name is written as null.  What a
# rejected record told (kinds, vector lengths, fields met only in it) is held as pending
# and dropped with the record.

cdef enum:
    MAX_NEW_FIELDS = 4096


cdef class JsonTokenizer(Tokenizer):
    """JSON Lines records into typed columns (see CsvTokenizer for `columns`; a column of type
    ``"skip"`` names a field that is read and dropped)."""

    FORMAT = "JSON Lines"  # for messages

    cdef uint8_t **cname
    cdef Py_ssize_t *cname_len
    cdef int64_t *gen          # per column: the record that last named it
    cdef int64_t rec_gen       # the record being parsed (1, 2, ...; never reset)
    cdef bint *skip
    cdef int guess
    cdef int nextra
    cdef Col *extra
    cdef uint8_t **extra_name
    cdef Py_ssize_t *extra_len
    cdef int64_t *extra_line
    cdef int64_t *extra_gen    # per new field: the record that last named it
    cdef int nextra_committed  # new fields met in good records; those after are the record's own
    cdef bint extra_touched    # the record being parsed named a new field
    cdef int64_t cur_line
    # Order of first appearance in good records (inference keeps the input's column order):
    cdef bint track_order
    cdef int64_t order_next
    cdef int64_t *core_order   # per column: its rank of first appearance (0: not yet)
    cdef int64_t *extra_order  # per new field
    cdef int *named            # the fields the record being parsed named: column i, or -1 - new field
    cdef int nnamed

    def __init__(self, list columns, null_values=(), int64_t rows_hint=1024, bint order=False):
        cdef int i
        specs = []
        skips = []
        for spec in columns:
            skips.append(spec[1] == "skip")
            specs.append((spec[0], "infer" if spec[1] == "skip" else spec[1], *spec[2:]))
        self._setup(specs, list(null_values), rows_hint)
        n = max(self.core.ncols, 1)
        self.cname = <uint8_t **>malloc(n * sizeof(uint8_t *))
        self.cname_len = <Py_ssize_t *>malloc(n * sizeof(Py_ssize_t))
        self.gen = <int64_t *>malloc(n * sizeof(int64_t))
        self.skip = <bint *>malloc(n * sizeof(bint))
        self.extra = <Col *>malloc(MAX_NEW_FIELDS * sizeof(Col))
        self.extra_name = <uint8_t **>malloc(MAX_NEW_FIELDS * sizeof(uint8_t *))
        self.extra_len = <Py_ssize_t *>malloc(MAX_NEW_FIELDS * sizeof(Py_ssize_t))
        self.extra_line = <int64_t *>malloc(MAX_NEW_FIELDS * sizeof(int64_t))
        self.extra_gen = <int64_t *>malloc(MAX_NEW_FIELDS * sizeof(int64_t))
        self.track_order = order
        self.core_order = <int64_t *>calloc(n, sizeof(int64_t))
        self.extra_order = <int64_t *>calloc(MAX_NEW_FIELDS, sizeof(int64_t))
        self.named = <int *>malloc((n + MAX_NEW_FIELDS) * sizeof(int))
        if (self.cname == NULL or self.cname_len == NULL or self.gen == NULL or self.skip == NULL
                or self.extra == NULL or self.extra_name == NULL or self.extra_len == NULL
                or self.extra_line == NULL or self.extra_gen == NULL or self.core_order == NULL
                or self.extra_order == NULL or self.named == NULL):
            raise MemoryError()
        memset(self.cname, 0, n * sizeof(uint8_t *))
        for i in range(self.core.ncols):
            name = str(columns[i][0]).encode("utf-8")
            self.cname[i] = <uint8_t *>malloc(max(len(name), 1))
            if self.cname[i] == NULL:
                raise MemoryError()
            memcpy(self.cname[i], PyBytes_AS_STRING(name), len(name))
            self.cname_len[i] = len(name)
            self.gen[i] = 0
            self.skip[i] = skips[i]

    def __dealloc__(self):
        cdef int i
        if self.cname != NULL:
            for i in range(self.core.ncols):
                free(self.cname[i])
            free(self.cname)
        if self.extra_name != NULL:
            for i in range(self.nextra):
                free(self.extra_name[i])
            free(self.extra_name)
        free(self.cname_len)
        free(self.gen)
        free(self.skip)
        free(self.extra)
        free(self.extra_len)
        free(self.extra_line)
        free(self.extra_gen)
        free(self.core_order)
        free(self.extra_order)
        free(self.named)

    def field_order(self):
        """With ``order=True``: every field that good records named, in order of first appearance:
        [(name, is_new_field, index)] -- index into the columns, or into new_fields()."""
        cdef int i
        ranked = [(self.core_order[i], self.names[i], False, i) for i in range(self.core.ncols)
                  if self.core_order[i] > 0]
        ranked += [(self.extra_order[i], None, True, i) for i in range(self.nextra) if self.extra_order[i] > 0]
        ranked.sort()
        new = self.new_fields()
        return [(new[i][0] if is_new else name, is_new, i) for _rank, name, is_new, i in ranked]

    def new_fields(self):
        """Fields met that are not columns: [(name, kind mask, first line, array length)]."""
        cdef int i
        return [(bytes(<char *>self.extra_name[i])[:self.extra_len[i]].decode("utf-8", "replace")
                 if self.extra_len[i] else "", self.extra[i].seen, self.extra_line[i], self.extra[i].vec_dim)
                for i in range(self.nextra)]

    cdef int _run(self, const uint8_t *buf, Py_ssize_t n, Py_ssize_t *pos_io, Py_ssize_t limit, bint eof,
                  int64_t *line_io) noexcept nogil:
        cdef Core *c = &self.core
        cdef Py_ssize_t pos = pos_io[0], eol, end, k
        cdef int64_t line = line_io[0]
        cdef const uint8_t *hit
        cdef int st, status
        while True:
            if pos >= limit:
                status = S_DONE
                break
            if pos >= n:
                status = S_DONE if eof else S_MORE
                break
            hit = <const uint8_t *>memchr(buf + pos, 10, n - pos)
            if hit == NULL:
                if not eof:
                    status = S_MORE
                    break
                eol = n
            else:
                eol = hit - buf
            end = eol
            while end > pos and (buf[end - 1] == 13 or buf[end - 1] == 32 or buf[end - 1] == 9):
                end -= 1
            k = skip_ws(buf, pos, end)
            if k >= end:                      # a blank line
                pos = eol + 1 if eol < n else n
                line += 1 if eol < n else 0
                continue
            if c.nrows >= c.cap and core_grow_rows(c, c.nrows + 1) != V_OK:
                status = F_NOMEM
                break
            self.cur_line = line
            self.rec_gen += 1
            self.extra_touched = False
            self.nnamed = 0
            st = self._record(buf, k, end)
            if st == V_OK:
                c.lines[c.nrows] = line
                if c.pending:
                    core_commit_pending(c)
                if self.extra_touched:
                    self._commit_extras()
                if self.track_order:
                    self._commit_order()
                c.nrows += 1
            else:
                core_rollback(c)
                if self.extra_touched:
                    self._drop_extras()
                if st == F_NOMEM:
                    status = F_NOMEM
                    break
                self._set_bad(st, pos, end, c.err_pos, c.err_field, line)
            pos = eol + 1 if eol < n else n
            line += 1 if eol < n else 0
            if st != V_OK:
                status = S_BAD
                break
        pos_io[0] = pos
        line_io[0] = line
        return status

    cdef void _commit_extras(self) noexcept nogil:
        """The record was good: what it told about new fields counts."""
        cdef int i
        for i in range(self.nextra):
            if self.extra_gen[i] == self.rec_gen:
                col_commit_pending(&self.extra[i])
        self.nextra_committed = self.nextra

    cdef void _commit_order(self) noexcept nogil:
        """Rank the fields that the good record just parsed named for the first time."""
        cdef int k, x
        for k in range(self.nnamed):
            x = self.named[k]
            if x >= 0:
                if self.core_order[x] == 0:
                    self.order_next += 1
                    self.core_order[x] = self.order_next
            elif self.extra_order[-1 - x] == 0:
                self.order_next += 1
                self.extra_order[-1 - x] = self.order_next

    cdef void _drop_extras(self) noexcept nogil:
        """The record was rejected: the new fields it named count only if a good record named
        them too, with only the kinds the good records gave them."""
        cdef int i
        for i in range(self.nextra_committed):
            if self.extra_gen[i] == self.rec_gen:
                col_drop_pending(&self.extra[i])
        for i in range(self.nextra_committed, self.nextra):
            free(self.extra_name[i])
            self.extra_name[i] = NULL
        self.nextra = self.nextra_committed

    cdef int _fail(self, int code, Py_ssize_t at, int field) noexcept nogil:
        self.core.err_pos = at
        self.core.err_field = field
        return code

    cdef int _find(self, const uint8_t *name, Py_ssize_t nlen) noexcept nogil:
        cdef int i, g = self.guess
        if g < self.core.ncols and self.cname_len[g] == nlen and memcmp(self.cname[g], name, nlen) == 0:
            self.guess = g + 1
            return g
        for i in range(self.core.ncols):
            if self.cname_len[i] == nlen and memcmp(self.cname[i], name, nlen) == 0:
                self.guess = i + 1
                return i
        return -1

    cdef int _new_field(self, const uint8_t *name, Py_ssize_t nlen) noexcept nogil:
        """The index of the new field `name` (added if need be), or -1 when there are too many."""
        cdef int i
        for i in range(self.nextra):
            if self.extra_len[i] == nlen and memcmp(self.extra_name[i], name, nlen) == 0:
                return i
        if self.nextra >= MAX_NEW_FIELDS:
            return -1
        i = self.nextra
        self.extra_name[i] = <uint8_t *>malloc(max(nlen, 1))
        if self.extra_name[i] == NULL:
            return -1
        memcpy(self.extra_name[i], name, nlen)
        self.extra_len[i] = nlen
        self.extra_line[i] = self.cur_line
        self.extra_gen[i] = 0
        self.extra_order[i] = 0
        memset(&self.extra[i], 0, sizeof(Col))
        self.extra[i].kind = C_INFER
        self.extra[i].vec_dim = -1
        self.nextra += 1
        return i

    cdef int _record(self, const uint8_t *b, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
        """Parse the object in ``b[i:n]`` into row `nrows`."""
        cdef Core *c = &self.core
        cdef int64_t row = c.nrows, cur = self.rec_gen
        cdef Py_ssize_t kend, klen, kstart
        cdef const uint8_t *kname
        cdef bint esc
        cdef int ci, st, xi
        cdef Col *col
        cdef Col *xcol
        if b[i] != 123:
            return self._fail(F_NOT_OBJECT, i, -1)
        i = skip_ws(b, i + 1, n)
        if i < n and b[i] == 125:
            i += 1
        else:
            while True:
                if i >= n or b[i] != 34:
                    return self._fail(F_JSON, i, -1)
                kstart = i   # a field named twice is reported at its name
                st = json_string_end(b, i + 1, n, &kend, &esc)
                if st != V_OK:
                    return self._fail(st, kend, -1)
                if esc:
                    if core_reserve_scratch(c, kend - i) != V_OK:
                        return F_NOMEM
                    st = json_unescape(b, i + 1, kend, c.scratch, &klen, &c.err_pos)
                    if st != V_OK:
                        return self._fail(st, c.err_pos, -1)
                    kname = c.scratch
                else:
                    kname = b + i + 1
                    klen = kend - i - 1
                ci = self._find(kname, klen)
                xcol = NULL
                if ci < 0:
                    if not utf8_valid(kname, klen, &c.err_pos):   # a column name must be text
                        return self._fail(F_UTF8, i + 1 + c.err_pos if not esc else i, -1)
                    xi = self._new_field(kname, klen)
                    if xi < 0:
                        return self._fail(F_TOO_MANY_NEW, i, -1)
                    if self.extra_gen[xi] == cur:
                        return self._fail(F_DUP_FIELD, kstart, -1)
                    self.extra_gen[xi] = cur
                    self.extra_touched = True
                    xcol = &self.extra[xi]
                    self.named[self.nnamed] = -1 - xi
                    self.nnamed += 1
                i = skip_ws(b, kend + 1, n)
                if i >= n or b[i] != 58:
                    return self._fail(F_JSON, i, ci)
                i = skip_ws(b, i + 1, n)
                if i >= n:
                    return self._fail(F_JSON, i, ci)
                if xcol != NULL:
                    st = self._value(xcol, row, b, &i, n)   # kinds pending until the record is good
                    if st != V_OK:
                        return self._fail(st, c.err_pos, -1)
                else:
                    if self.gen[ci] == cur:
                        return self._fail(F_DUP_FIELD, kstart, ci)
                    self.gen[ci] = cur
                    self.named[self.nnamed] = ci
                    self.nnamed += 1
                    col = &c.cols[ci]
                    if self.skip[ci]:
                        st = json_skip_value(b, i, n, &kend)
                        if st != V_OK:
                            return self._fail(st, kend, ci)
                        i = kend
                    else:
                        st = self._value(col, row, b, &i, n)
                        if st != V_OK:
                            return self._fail(st, c.err_pos, ci)
                i = skip_ws(b, i, n)
                if i < n and b[i] == 44:
                    i = skip_ws(b, i + 1, n)
                    continue
                if i < n and b[i] == 125:
                    i += 1
                    break
                return self._fail(F_JSON, i, -1)
        i = skip_ws(b, i, n)
        if i != n:
            return self._fail(F_JSON, i, -1)
        # Columns this record did not name are null.
        for ci in range(c.ncols):
            if self.gen[ci] == cur or self.skip[ci]:
                continue
            col = &c.cols[ci]
            if col.is_key:
                return self._fail(F_MISSING_KEY, n, ci)
            if col.not_null:
                return self._fail(F_NULL, n, ci)
            if col.kind == C_INFER:
                col.pending_seen |= KIND_NULL
                c.pending = True
            else:
                col_set_null(col, row)
        return V_OK

    cdef int _widen(self, Col *col, int64_t row, int kind) noexcept nogil:
        """An inferred column met a value of another kind: remember it (see col_put_text)."""
        if not col.inferred or col.kind == T_STRING:
            return F_SYNTAX
        col.pending_widen |= kind
        self.core.pending = True
        col_set_null(col, row)
        return V_OK

    cdef int _value(self, Col *col, int64_t row, const uint8_t *b, Py_ssize_t *at, Py_ssize_t n) noexcept nogil:
        """Store the JSON value at ``b[at[0]]`` in `col`; moves `at` past it."""
        cdef Core *c = &self.core
        cdef Py_ssize_t i = at[0], end, vlen, bad_at
        cdef uint8_t ch = b[i]
        cdef bint esc
        cdef int st, kind = col.kind, k
        cdef const uint8_t *v
        cdef int64_t iv
        cdef double x
        c.err_pos = i
        if ch == 34:                                        # a string
            st = json_string_end(b, i + 1, n, &end, &esc)
            if st != V_OK:
                c.err_pos = end
                return st
            at[0] = end + 1
            if esc:
                if core_reserve_scratch(c, end - i) != V_OK:
                    return F_NOMEM
                st = json_unescape(b, i + 1, end, c.scratch, &vlen, &bad_at)
                if st != V_OK:
                    c.err_pos = bad_at
                    return st
                v = c.scratch
            else:
                v = b + i + 1
                vlen = end - i - 1
            # Every column but bytes holds text: a string that is not UTF-8 is a fault whatever the
            # column's type (it never widens an inferred one).
            if kind != T_BYTES and not utf8_valid(v, vlen, &bad_at):
                c.err_pos = i + 1 + bad_at if not esc else i
                return F_UTF8
            if core_is_null(c, v, vlen):
                return col_put_text(c, col, row, v, vlen, &bad_at, False)   # a null key, not-nullable...
            if kind == T_STRING or kind == T_BYTES:
                return col_append_bytes(col, row, v, vlen)
            if kind == C_INFER:
                col.pending_seen |= classify_text_only(v, vlen)
                c.pending = True
                return V_OK
            if col.inferred and kind != T_DATE and kind != T_TIMESTAMP:
                return self._widen(col, row, classify_text_only(v, vlen))
            return col_put_text(c, col, row, v, vlen, &bad_at, False)
        if ch == 91 and (kind == T_VECTOR or kind == C_INFER):   # an array: a vector?
            st = self._array(col, row, b, at, n)
            if st != F_JSON:
                return st
            if kind == T_VECTOR:   # not a flat list of numbers: malformed, or JSON of another shape
                st = json_skip_value(b, i, n, &end)
                if st != V_OK:
                    c.err_pos = end
                    return st
                at[0] = end
                return self._widen(col, row, KIND_VECTOR_MIXED) if col.inferred else F_SYNTAX
        if ch == 123 or ch == 91:                           # an object or an array
            st = json_skip_value(b, i, n, &end)
            if st != V_OK:
                c.err_pos = end
                return st
            at[0] = end
            if kind != T_BYTES and not utf8_valid(b + i, end - i, &bad_at):
                c.err_pos = i + bad_at
                return F_UTF8
            if kind == T_STRING or kind == T_BYTES:
                return col_append_bytes(col, row, b + i, end - i)
            if kind == C_INFER:
                col.pending_seen |= KIND_VECTOR_MIXED if ch == 91 else KIND_STRING
                c.pending = True
                return V_OK
            return self._widen(col, row, KIND_STRING)
        json_scalar_end(b, i, n, &end)                      # a number, true, false or null
        at[0] = end
        v = b + i
        vlen = end - i
        if vlen == 4 and memcmp(v, b"null", 4) == 0:
            if col.is_key:
                return F_NULL_KEY
            if col.not_null:
                return F_NULL
            if kind == C_INFER:
                col.pending_seen |= KIND_NULL
                c.pending = True
            else:
                col_set_null(col, row)
            return V_OK
        if (vlen == 4 and memcmp(v, b"true", 4) == 0) or (vlen == 5 and memcmp(v, b"false", 5) == 0):
            k = KIND_BOOL
        elif json_number_syntax(v, vlen):
            if parse_int64(v, vlen, &iv) == V_OK:
                k = KIND_INT
            else:
                st = parse_float64(v, vlen, &x)
                if st != V_OK and st != F_RANGE:
                    return F_JSON
                k = KIND_FLOAT
        else:
            return F_JSON
        if kind == C_INFER:
            col.pending_seen |= k
            c.pending = True
            return V_OK
        if kind == T_STRING or kind == T_BYTES:
            return col_append_bytes(col, row, v, vlen)
        if k == KIND_BOOL:
            if kind == T_BOOL:
                return col_put_text(c, col, row, v, vlen, &bad_at, False)
            return self._widen(col, row, k)
        if kind == T_BOOL:               # a number: 1/0 for a declared bool column
            if col.inferred:
                return self._widen(col, row, k)
            return col_put_text(c, col, row, v, vlen, &bad_at, False)
        if kind == T_DATE or kind == T_TIMESTAMP or kind == T_VECTOR:
            return self._widen(col, row, k)
        st = col_put_text(c, col, row, v, vlen, &bad_at, False)
        if st == V_OK or k != KIND_FLOAT or col.inferred or kind == T_FLOAT32 or kind == T_FLOAT64:
            return st
        return self._integral_float(col, row, v, vlen)   # an integer column: 3.0 is 3, 3.5 does not fit

    cdef int _integral_float(self, Col *col, int64_t row, const uint8_t *v, Py_ssize_t vlen) noexcept nogil:
        """A JSON number written with a fraction or an exponent into an integer column: whole
        numbers fit (3.0, 1e3), others do not; the range is checked before any conversion."""
        cdef double x
        if parse_float64(v, vlen, &x) != V_OK or x != x or isinf(x) or x != floor(x):
            return F_SYNTAX
        if col.kind == T_UINT64:
            if x < 0 or x >= 18446744073709551616.0:
                return F_RANGE
            (<uint64_t *>(col.values + row * 8))[0] = <uint64_t>x
            col.valid[row] = 1
            return V_OK
        if x >= 9223372036854775808.0 or x < -9223372036854775808.0:
            return F_RANGE
        return col_put_int(col, row, <int64_t>x)

    cdef int _array(self, Col *col, int64_t row, const uint8_t *b, Py_ssize_t *at, Py_ssize_t n) noexcept nogil:
        """A JSON array of numbers into a vector column (or its length into inference).
        Returns F_JSON, without moving `at`, when the array is not a flat list of numbers."""
        cdef Core *c = &self.core
        cdef Py_ssize_t i = skip_ws(b, at[0] + 1, n), end
        cdef int64_t count = 0, known
        cdef double x
        cdef float f
        cdef bint store = col.kind == T_VECTOR, too_big = False
        cdef float *dst = NULL
        if store:
            dst = <float *>(col.values + row * col.itemsize)
        if i < n and b[i] == 93:
            i += 1
        else:
            while True:
                if i >= n:
                    return F_JSON
                json_scalar_end(b, i, n, &end)
                if end == i or not (is_digit(b[i]) or b[i] == 45) or not json_number_syntax(b + i, end - i) \
                        or parse_float64(b + i, end - i, &x) != V_OK:
                    return F_JSON
                if store and count < col.dim:
                    f = <float>x
                    if isinf(f) and not isinf(x):
                        too_big = True
                    dst[count] = f
                count += 1
                i = skip_ws(b, end, n)
                if i < n and b[i] == 44:
                    i = skip_ws(b, i + 1, n)
                    continue
                if i < n and b[i] == 93:
                    i += 1
                    break
                return F_JSON
        at[0] = i
        if col.kind == C_INFER:
            if col.vec_dim == -1 and count > 0:
                col.pending_vec_dim = count   # the first length, once the record is good
            known = col.vec_dim if col.vec_dim != -1 else count
            col.pending_seen |= KIND_VECTOR if known == count and count > 0 else KIND_VECTOR_MIXED
            c.pending = True
            return V_OK
        if count != col.dim:
            if col.inferred:
                return self._widen(col, row, KIND_VECTOR_MIXED)
            return F_DIM
        if too_big:
            return F_RANGE
        col.valid[row] = 1
        return V_OK
