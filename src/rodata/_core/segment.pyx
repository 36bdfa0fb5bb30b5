# Segment: the reader of one .seg file.  Every length and offset is checked
# once here, at open, with overflow-safe comparisons; after that the lookups
# run nogil over pointers that are known to lie inside the mapping.


# The checks of column and row numbers: every method taking one from outside checks it with
# these, once; what runs after (value reads, prefetches, dicts) indexes without checking.
cdef inline ColumnDesc *_column(Segment seg, Py_ssize_t col) except NULL:
    """The descriptor of column number `col`: the one check of a column number."""
    if RD_UNLIKELY(<size_t>col >= <size_t>seg.ncols):  # one comparison: a negative col is huge unsigned
        raise IndexError(f"column {col} out of range")
    return &seg.cols[col]


cdef inline int _check_row(Segment seg, Py_ssize_t row) except -1:
    """The one check of a row number."""
    if not (0 <= row < seg.nrows):
        raise IndexError(f"row {row} out of range")
    return 0


cdef class Segment:
    """A mapped, validated segment file.  Private: rodata.Dataset is the public face."""

    def __cinit__(self, path, bint verify=True):
        self.cols = NULL
        self.table = NULL
        self.path = os.fspath(path)
        self.mapping = Mapping(self.path)
        self._views = {}
        self._parse()
        if verify:
            self.verify()

    def __dealloc__(self):
        if self.cols != NULL:
            PyMem_Free(self.cols)
            self.cols = NULL

    # -- opening ------------------------------------------------------------------

    cdef _fail(self, str where, uint64_t offset, str what):
        raise FormatError(f"{self.path}: {where} at offset {offset}: {what}")

    cdef _parse(self):
        cdef const char *base = self.mapping.addr
        cdef uint64_t size = self.mapping.size
        cdef uint64_t trailer_at, dir_off, dir_count, nrows, ncols, key_index
        cdef Py_ssize_t bad = -1, known = 0, i
        cdef bint unknown = False

        if size % ALIGN != 0:
            self._fail("file", size, f"size {size} is not a multiple of {ALIGN} (truncated?)")
        # Header.
        if base[:8] != HEADER_MAGIC:
            self._fail("header", 0, "bad magic: not a rodata segment")
        if rd_xxh64(base, 56, 0) != rd_load64(base + 56):
            self._fail("header", 56, "header checksum mismatch")
        major = (<const uint16_t *>(base + 8))[0]
        self.minor = (<const uint16_t *>(base + 10))[0]
        if major != FORMAT_MAJOR:
            self._fail("header", 8,
                       f"unsupported format version {major}.{self.minor} (this reader reads {FORMAT_MAJOR}.x)")
        if rd_load32(base + 12) != ENDIAN_TAG:
            self._fail("header", 12, "endianness marker mismatch")
        nrows = rd_load64(base + 16)
        if nrows > MAX_ROWS:
            self._fail("header", 16, f"row count {nrows} exceeds the format limit {MAX_ROWS}")
        self.nrows = <Py_ssize_t>nrows
        ncols = rd_load32(base + 24)
        key_index = rd_load32(base + 28)
        if ncols == 0 or ncols > MAX_COLUMNS:
            self._fail("header", 24, f"column count {ncols} is not between 1 and {MAX_COLUMNS}")
        # Trailer.
        trailer_at = size - TRAILER_SIZE
        if base[trailer_at + 56:trailer_at + 64] != TRAILER_MAGIC:
            self._fail("trailer", trailer_at, "bad trailer magic (file truncated or not a segment)")
        if rd_xxh64(base + trailer_at, 48, 0) != rd_load64(base + trailer_at + 48):
            self._fail("trailer", trailer_at, "trailer checksum mismatch")
        if rd_load64(base + trailer_at + 24) != size:
            self._fail("trailer", trailer_at + 24,
                       f"recorded file size {rd_load64(base + trailer_at + 24)} != actual size {size}")
        dir_off = rd_load64(base + trailer_at)
        dir_count = rd_load64(base + trailer_at + 8)
        if dir_off % ALIGN != 0 or dir_off < HEADER_SIZE or dir_off > trailer_at:
            self._fail("trailer", trailer_at, f"directory offset {dir_off} out of range")
        if dir_count > (trailer_at - dir_off) // DIR_ENTRY_SIZE:
            self._fail("trailer", trailer_at + 8, f"directory of {dir_count} entries does not fit")
        self.dir_offset = dir_off
        # The directory is read in place (its layout is the DirEntry struct) and walked
        # without the GIL: a forged file may list millions of entries.
        self.entries = <const DirEntry *>(base + dir_off)
        self.nentries = <Py_ssize_t>dir_count
        with nogil:
            if rd_xxh64(self.entries, dir_count * DIR_ENTRY_SIZE, 0) == rd_load64(base + trailer_at + 16):
                bad = _check_directory(self.entries, self.nentries, dir_off, self.minor, &known, &unknown)
            else:
                bad = -2
        if bad == -2:
            self._fail("directory", dir_off, "directory checksum mismatch")
        if bad >= 0 and unknown:
            self._fail(f"directory entry {bad}", dir_off + <uint64_t>bad * DIR_ENTRY_SIZE,
                       f"unknown section kind {self.entries[bad].kind}")
        if bad >= 0:
            self._fail(f"directory entry {bad}", dir_off + <uint64_t>bad * DIR_ENTRY_SIZE,
                       f"{section_name(self.entries[bad].kind)} section "
                       f"[{self.entries[bad].offset}, +{self.entries[bad].length}) is misplaced")
        # A column has at most three sections (data, offsets, validity); the file two more.
        if <uint64_t>known > 3 * ncols + 2:
            self._fail("directory", dir_off, f"{known} sections for {ncols} columns: at most {3 * ncols + 2}")
        self.sections = []
        for i in range(self.nentries):
            if _known_kind(self.entries[i].kind):
                self.sections.append((self.entries[i].kind, self.entries[i].column, self.entries[i].offset,
                                      self.entries[i].length, self.entries[i].checksum))
        self._parse_schema(ncols, key_index)
        self._bind_sections()

    cdef _parse_schema(self, uint64_t ncols, uint64_t key_index):
        cdef uint64_t off, length
        found = [s for s in self.sections if s[0] == SEC_SCHEMA]
        if len(found) != 1:
            self._fail("directory", self.dir_offset, f"expected one schema section, found {len(found)}")
        kind, column, off, length, checksum = found[0]
        if length > MAX_SCHEMA_BYTES:
            self._fail("schema", off, f"schema of {length} bytes is larger than {MAX_SCHEMA_BYTES}")
        raw = PyBytes_FromStringAndSize(self.mapping.addr + off, <Py_ssize_t>length)
        if xxh64_bytes(raw) != checksum:
            # The schema steers every later check, so it is verified even when
            # the caller skips verification of the data sections.
            self._fail("schema", off, "checksum mismatch")
        try:
            doc = orjson_loads(raw)
        except ValueError as exc:
            self._fail("schema", off, f"not valid JSON: {exc}")
        if not isinstance(doc, dict) or type(doc.get("columns")) is not list:
            self._fail("schema", off, "expected an object with a 'columns' list")
        columns = doc["columns"]
        if len(columns) != ncols:
            self._fail("schema", off, f"{len(columns)} columns described, header says {ncols}")
        if key_index >= ncols:
            self._fail("header", 28, f"key column index {key_index} out of range")
        names = []
        for spec in columns:
            if (type(spec) is not dict or type(spec.get("name")) is not str or not spec["name"]
                    or type(spec.get("type")) is not str or spec["type"] not in _TYPE_CODES
                    or type(spec.get("nullable")) is not bool):
                self._fail("schema", off, f"bad column description {spec!r:.200}")
            dim = spec.get("dim", 1)
            if type(dim) is not int or not (1 <= dim <= MAX_VECTOR_DIM) or (dim != 1 and spec["type"] != "vector"):
                self._fail("schema", off, f"bad vector dimension in {spec!r:.200}")
            names.append(spec["name"])
        if len(set(names)) != len(names):
            self._fail("schema", off, "duplicate column names")
        key_spec = columns[key_index]
        if not rd_type(_TYPE_CODES[key_spec["type"]]).key or key_spec["nullable"]:
            self._fail("schema", off, f"key column {key_spec['name']!r} must be a non-null int64 or string")
        self.schema_doc = doc
        self.schema = columns
        self.names = tuple(names)
        self.ncols = <Py_ssize_t>ncols
        self.key_index = <Py_ssize_t>key_index
        self.key_is_string = _TYPE_CODES[key_spec["type"]] == T_STRING

    cdef _bind_sections(self):
        cdef uint64_t n = <uint64_t>self.nrows
        cdef uint64_t off, length, slots, index_off = 0, index_len = 0
        cdef uint32_t column
        cdef uint16_t kind
        cdef Py_ssize_t i, indexes = 0
        cdef ColumnDesc *c
        cdef const char *base = self.mapping.addr
        self.cols = <ColumnDesc *>PyMem_Calloc(self.ncols, sizeof(ColumnDesc))
        if self.cols == NULL:
            raise MemoryError()
        for i in range(self.ncols):
            spec = self.schema[i]
            c = &self.cols[i]
            c.code = _TYPE_CODES[spec["type"]]
            c.dim = spec.get("dim", 1)
            c.itemsize = rd_type(c.code).itemsize * c.dim   # 0 for variable width; dim is 1 but for vectors
            c.nullable = spec["nullable"]
        for i in range(self.nentries):
            kind = self.entries[i].kind
            column = self.entries[i].column
            off = self.entries[i].offset
            length = self.entries[i].length
            if kind == SEC_SCHEMA or not _known_kind(kind):
                continue
            if kind == SEC_INDEX:
                indexes += 1
                index_off = off
                index_len = length
                continue
            if column >= <uint64_t>self.ncols:
                self._fail(_SECTION_NAMES[kind], off, f"column number {column} out of range")
            c = &self.cols[column]
            if (c.seen >> kind) & 1:
                self._fail(_SECTION_NAMES[kind], off, f"second {_SECTION_NAMES[kind]} section for column {column}")
            c.seen |= 1 << kind
            if kind == SEC_DATA:
                if c.itemsize and (n > length // <uint64_t>c.itemsize or length != n * <uint64_t>c.itemsize):
                    self._fail(self._where(kind, column), off, f"{length} bytes, expected {n} rows x {c.itemsize}")
                c.data = base + off
                c.data_len = length
            elif kind == SEC_OFFSETS:
                if c.code != T_STRING and c.code != T_BYTES:
                    self._fail(self._where(kind, column), off, "offsets for a fixed-width column")
                if length // 8 != n + 1 or length % 8 != 0:
                    self._fail(self._where(kind, column), off, f"{length} bytes, expected {n + 1} offsets")
                c.offsets = <const uint64_t *>(base + off)
            elif kind == SEC_VALIDITY:
                if not c.nullable:
                    self._fail(self._where(kind, column), off, "validity bitmap for a non-nullable column")
                if length != (n + 7) // 8:
                    self._fail(self._where(kind, column), off, f"{length} bytes, expected {(n + 7) // 8}")
                c.validity = <const uint8_t *>(base + off)
        for i in range(self.ncols):
            c = &self.cols[i]
            if not (c.seen >> SEC_DATA) & 1:
                self._fail("directory", self.dir_offset, f"column {self.names[i]!r} has no data section")
            if (c.code == T_STRING or c.code == T_BYTES) and c.offsets == NULL:
                self._fail("directory", self.dir_offset, f"column {self.names[i]!r} has no offsets section")
        if indexes != 1:
            self._fail("directory", self.dir_offset, f"expected one index section, found {indexes}")
        slots = index_len // 8
        if index_len % 8 != 0 or slots <= n or (slots & (slots - 1)) != 0:
            self._fail("index", index_off, f"{index_len} bytes is not a power-of-two table larger than {n} rows")
        self.table = <const uint64_t *>(base + index_off)
        self.table_mask = slots - 1

    cdef str _where(self, int kind, Py_ssize_t column):
        """A section's name for messages: ``data of column 'price'``, ``index``."""
        name = _SECTION_NAMES.get(kind, f"kind {kind}")
        if 0 <= column < self.ncols:
            return f"{name} of column {self.names[column]!r}"
        return name

    def verify(self):
        """Check every section's XXH64 checksum; raise FormatError naming the first bad one."""
        cdef Py_ssize_t i, bad = -1
        cdef const char *base = self.mapping.addr
        cdef const DirEntry *e
        with nogil:
            for i in range(self.nentries):
                e = &self.entries[i]
                if _known_kind(e.kind) and rd_xxh64(base + e.offset, e.length, 0) != e.checksum:
                    bad = i
                    break
        if bad >= 0:
            e = &self.entries[bad]
            self._fail(self._where(e.kind, e.column), e.offset, "checksum mismatch")

    # -- lookups ------------------------------------------------------------------

    cdef int _string_at(self, ColumnDesc *c, Py_ssize_t row, const char **p, Py_ssize_t *n) noexcept nogil:
        cdef uint64_t a = c.offsets[row]
        cdef uint64_t b = c.offsets[row + 1]
        if RD_UNLIKELY(not range_ok(c.data_len, a, b)):
            return ST_BAD_OFFSETS
        p[0] = c.data + a
        n[0] = <Py_ssize_t>(b - a)
        return ST_OK

    cdef int _probe_int(self, int64_t key, Py_ssize_t *row) noexcept nogil:
        cdef uint64_t h = rd_mix64(<uint64_t>key)
        cdef uint64_t tag = h >> 32
        cdef uint64_t mask = self.table_mask
        cdef uint64_t i = h & mask
        cdef uint64_t s, r, probes = 0
        cdef uint64_t n = <uint64_t>self.nrows
        cdef const int64_t *keys = <const int64_t *>self.cols[self.key_index].data
        while probes <= mask:
            s = self.table[i]
            if s == 0:
                return ST_NOT_FOUND
            if (s >> 32) == tag:
                r = (s & 0xFFFFFFFFULL) - 1
                if RD_UNLIKELY(r >= n):
                    row[0] = <Py_ssize_t>i   # the bad slot, for the message
                    return ST_BAD_INDEX
                if keys[r] == key:
                    row[0] = <Py_ssize_t>r
                    return ST_OK
            i = (i + 1) & mask
            probes += 1
        return ST_NOT_FOUND

    cdef int _probe_str(self, const char *key, Py_ssize_t klen, uint64_t h, Py_ssize_t *row) noexcept nogil:
        cdef uint64_t tag = h >> 32
        cdef uint64_t mask = self.table_mask
        cdef uint64_t i = h & mask
        cdef uint64_t s, r, probes = 0
        cdef uint64_t n = <uint64_t>self.nrows
        cdef ColumnDesc *c = &self.cols[self.key_index]
        cdef const char *p
        cdef Py_ssize_t plen
        while probes <= mask:
            s = self.table[i]
            if s == 0:
                return ST_NOT_FOUND
            if (s >> 32) == tag:
                r = (s & 0xFFFFFFFFULL) - 1
                if RD_UNLIKELY(r >= n):
                    row[0] = <Py_ssize_t>i   # the bad slot, for the message
                    return ST_BAD_INDEX
                if self._string_at(c, <Py_ssize_t>r, &p, &plen) != ST_OK:
                    row[0] = <Py_ssize_t>r   # the row whose offsets are bad
                    return ST_BAD_OFFSETS
                if plen == klen and memcmp(p, key, <size_t>klen) == 0:
                    row[0] = <Py_ssize_t>r
                    return ST_OK
            i = (i + 1) & mask
            probes += 1
        return ST_NOT_FOUND

    cdef _raise_status(self, int status, str what, Py_ssize_t col, Py_ssize_t item):
        """Raise the FormatError of a status returned by nogil code: `item` is the index slot
        (ST_BAD_INDEX) or the row of column `col` (ST_BAD_OFFSETS) where it was found."""
        cdef const char *base = self.mapping.addr
        if status == ST_BAD_INDEX:
            self._fail("index", <uint64_t>(<const char *>&self.table[item] - base),
                       f"slot {item} points past the last row during {what}")
        if status == ST_BAD_OFFSETS:
            self._fail(self._where(SEC_OFFSETS, col),
                       <uint64_t>(<const char *>&self.cols[col].offsets[item] - base),
                       f"offsets of row {item} out of order or out of range during {what}")
        self._fail("segment", 0, f"internal status {status} during {what}")

    cdef Py_ssize_t _find(self, object key) except -2:
        """Row number of `key`, or -1.  The one check of a single key's type (the hot path): a
        KeyTypeError for a key of the wrong type."""
        cdef Py_ssize_t row = -1, klen
        cdef const char *kp
        cdef int st
        cdef int64_t ikey
        cdef int overflow = 0
        if self.key_is_string:
            try:  # the UTF-8 view refuses anything but a str: that is the check
                kp = PyUnicode_AsUTF8AndSize(key, &klen)
            except UnicodeEncodeError:
                return -1  # a lone surrogate has no UTF-8 form: no stored key equals it
            except TypeError:
                raise KeyTypeError(f"key {key!r:.80} is not a string (the key column is string)") from None
            st = self._probe_str(kp, klen, rd_xxh64(kp, <size_t>klen, KEY_SEED), &row)
        else:
            if type(key) is not int:  # exact int is the hot path; anything else is checked here
                if isinstance(key, (bool, _np_bool)) or not isinstance(key, (int, _np_integer)):
                    raise KeyTypeError(f"key {key!r:.80} is not an integer (the key column is int64)")
                key = int(key)
            ikey = PyLong_AsLongLongAndOverflow(key, &overflow)
            if overflow:
                return -1  # outside int64: no such key can be stored
            st = self._probe_int(ikey, &row)
        if st == ST_OK:
            return row
        if st == ST_NOT_FOUND:
            return -1
        self._raise_status(st, "a lookup", self.key_index, row)

    def find(self, key):
        """Row number of `key` in this segment, or -1."""
        return self._find(key)

    def find_many(self, keys):
        """Row numbers (int64, -1 where absent) for a sequence of keys, aligned with it.

        The keys come checked, as rodata._keys.coerce_keys gives them: a list of str for a string
        key column (anything else is refused by its UTF-8 conversion), an int64 array for an int64
        one (another sequence is converted to one, not checked again)."""
        if self.key_is_string:
            return find_many_str(self, keys)
        return find_many_int(self, np.ascontiguousarray(keys, dtype=np.int64).reshape(-1))

    # -- values -------------------------------------------------------------------

    cdef object _value(self, Py_ssize_t col, Py_ssize_t row):
        cdef ColumnDesc *c = &self.cols[col]
        cdef const char *p
        cdef Py_ssize_t plen
        cdef int64_t v
        cdef int code = c.code
        cdef int year, month, day
        if c.validity != NULL and not (c.validity[row >> 3] >> (row & 7)) & 1:
            return None
        p = c.data + row * c.itemsize
        if code == T_INT64:
            return (<const int64_t *>p)[0]
        if code == T_FLOAT64:
            return (<const double *>p)[0]
        if code == T_STRING:
            if self._string_at(c, row, &p, &plen) != ST_OK:
                self._raise_status(ST_BAD_OFFSETS, "a read", col, row)
            try:
                return PyUnicode_DecodeUTF8(p, plen, NULL)
            except UnicodeDecodeError as exc:
                self._fail(self._where(SEC_DATA, col), <uint64_t>(p - self.mapping.addr) + exc.start,
                           f"invalid UTF-8 in row {row}: {exc.reason}")
        if code == T_INT32:
            return (<const int32_t *>p)[0]
        if code == T_FLOAT32:
            return (<const float *>p)[0]
        if code == T_BOOL:
            return (<const uint8_t *>p)[0] != 0
        if code == T_INT8:
            return (<const int8_t *>p)[0]
        if code == T_INT16:
            return (<const int16_t *>p)[0]
        if code == T_UINT8:
            return (<const uint8_t *>p)[0]
        if code == T_UINT16:
            return (<const uint16_t *>p)[0]
        if code == T_UINT32:
            return (<const uint32_t *>p)[0]
        if code == T_UINT64:
            return (<const uint64_t *>p)[0]
        if code == T_TIMESTAMP:
            return _timestamp((<const int64_t *>p)[0])
        if code == T_DATE:
            v = (<const int64_t *>p)[0]
            if v < MIN_DATE_DAYS or v > MAX_DATE_DAYS:
                self._fail(self._where(SEC_DATA, col), <uint64_t>(p - self.mapping.addr),
                           f"date {v} days out of range in row {row}")
            rd_civil_from_days(v, &year, &month, &day)
            return date_new(year, month, day)
        if code == T_BYTES:
            if self._string_at(c, row, &p, &plen) != ST_OK:
                self._raise_status(ST_BAD_OFFSETS, "a read", col, row)
            return PyBytes_FromStringAndSize(p, plen)
        if code == T_VECTOR:
            return np.frombuffer(self.mapping, np.float32, c.dim, p - self.mapping.addr)
        raise AssertionError(code)

    def value(self, Py_ssize_t col, Py_ssize_t row):
        """One value as a Python object (None for null)."""
        _column(self, col)
        _check_row(self, row)
        return self._value(col, row)

    # -- checks of many column and row numbers (one of each: _column, _check_row) -----------

    cdef int _check_rows(self, const int64_t[::1] rows) except -1:
        """Row numbers where a negative one means none (-1: a key not found): the others are rows."""
        cdef Py_ssize_t bad = _first_past(rows, self.nrows)
        return 0 if bad < 0 else _check_row(self, rows[bad])

    cdef int _check_columns(self, tuple cols) except -1:
        """A tuple of column numbers."""
        cdef Py_ssize_t i
        for i in range(PyTuple_GET_SIZE(cols)):
            _column(self, PyLong_AsSsize_t(<object>PyTuple_GET_ITEM(cols, i)))
        return 0

    cdef dict _row_dict(self, Py_ssize_t row, tuple cols):
        """Row `row` as a dict of the columns in `cols` (checked by _check_columns)."""
        cdef Py_ssize_t i, col, n = PyTuple_GET_SIZE(cols)
        cdef tuple names = self.names
        cdef dict out = _PyDict_NewPresized(n)
        for i in range(n):
            col = <Py_ssize_t>PyLong_AsSsize_t(<object>PyTuple_GET_ITEM(cols, i))
            PyDict_SetItem(out, <object>PyTuple_GET_ITEM(names, col), self._value(col, row))
        return out

    def row(self, Py_ssize_t row, tuple cols not None):
        """Row `row` as a dict of the columns numbered in `cols`."""
        _check_row(self, row)
        self._check_columns(cols)
        return self._row_dict(row, cols)

    def get(self, key, tuple cols not None):
        """The row with `key` as a dict of the columns numbered in `cols`, or None."""
        self._check_columns(cols)
        cdef Py_ssize_t row = self._find(key)
        if row < 0:
            return None
        # Issue every column's load at once: the misses overlap instead of queueing.
        self._prefetch_row(row, cols)
        return self._row_dict(row, cols)

    def rows(self, const int64_t[::1] rows, tuple cols):
        """Dicts for the rows numbered in `rows` (None where the number is negative)."""
        cdef Py_ssize_t i, r, n = rows.shape[0]
        self._check_columns(cols)
        self._check_rows(rows)
        out = PyList_New(0)
        for i in range(n):
            if i + ROW_PREFETCH < n:
                # Random rows miss the cache in every column: start those loads a few rows
                # ahead so they overlap with building the dicts of the rows before.
                self._prefetch_row(rows[i + ROW_PREFETCH], cols)
            r = rows[i]
            out.append(None if r < 0 else self._row_dict(r, cols))
        return out

    cdef void _prefetch_row(self, Py_ssize_t row, tuple cols):
        cdef Py_ssize_t i, col
        cdef ColumnDesc *c
        if row < 0:
            return
        for i in range(PyTuple_GET_SIZE(cols)):
            col = PyLong_AsSsize_t(<object>PyTuple_GET_ITEM(cols, i))
            c = &self.cols[col]
            if c.offsets != NULL:
                RD_PREFETCH(&c.offsets[row])
            else:
                RD_PREFETCH(c.data + row * c.itemsize)
            if c.validity != NULL:
                RD_PREFETCH(&c.validity[row >> 3])

    def take_objects(self, Py_ssize_t col, const int64_t[::1] rows):
        """A list with the value of column `col` at each row (None where the row is negative)."""
        cdef Py_ssize_t i, r, n = rows.shape[0]
        _column(self, col)
        self._check_rows(rows)
        out = [None] * n
        for i in range(n):
            r = rows[i]
            if r >= 0:
                out[i] = self._value(col, r)
        return out

    def valid_rows(self, Py_ssize_t col, const int64_t[::1] rows):
        """Bool array: True where rows[i] is a row (>= 0) whose value in `col` is not null."""
        cdef Py_ssize_t i, r, n = rows.shape[0]
        cdef const uint8_t *bits = _column(self, col).validity
        self._check_rows(rows)
        out = np.empty(n, dtype=np.bool_)
        cdef uint8_t[::1] o = out.view(np.uint8)
        for i in range(n):
            r = rows[i]
            o[i] = r >= 0 and (bits == NULL or (bits[r >> 3] >> (r & 7)) & 1)
        return out

    def key_at(self, Py_ssize_t row):
        """The key of row `row`."""
        _check_row(self, row)
        return self._value(self.key_index, row)

    def lower_bound(self, key):
        """The first row whose key is >= `key` (rows are sorted by key)."""
        return lower_bound(self, key)

    # -- zero-copy views ----------------------------------------------------------

    def column_view(self, Py_ssize_t col):
        """A read-only numpy view of a fixed-width column's values (nulls read as 0)."""
        cdef ColumnDesc *c = _column(self, col)
        view = self._views.get(col)
        if view is not None:
            return view
        if c.code == T_STRING or c.code == T_BYTES:
            raise TypeError(f"column {self.names[col]!r} is variable-width: no array view")
        view = np.frombuffer(self.mapping, _DTYPES[c.code], self.nrows * c.dim,
                             c.data - self.mapping.addr)
        if c.code == T_VECTOR:
            view = view.reshape(self.nrows, c.dim)
        self._views[col] = view
        return view

    def validity_view(self, Py_ssize_t col):
        """Bool array (True = present) for a column with nulls, else None."""
        cdef ColumnDesc *c = _column(self, col)
        if c.validity == NULL:
            return None
        bits = np.frombuffer(self.mapping, np.uint8, (self.nrows + 7) // 8,
                             <const char *>c.validity - self.mapping.addr)
        return np.unpackbits(bits, count=self.nrows, bitorder="little").view(np.bool_)

    def offsets_view(self, Py_ssize_t col):
        """The (nrows + 1) uint64 offsets and the data bytes of a string/bytes column."""
        cdef ColumnDesc *c = _column(self, col)
        if c.offsets == NULL:
            raise TypeError(f"column {self.names[col]!r} is fixed-width")
        offsets = np.frombuffer(self.mapping, np.uint64, self.nrows + 1,
                                <const char *>c.offsets - self.mapping.addr)
        data = np.frombuffer(self.mapping, np.uint8, c.data_len, c.data - self.mapping.addr)
        return offsets, data

    def prefault(self):
        """Ask the kernel to read the whole file into the page cache now."""
        self.mapping.advise("willneed")

    @property
    def fingerprint(self):
        """The directory checksum from the trailer: it covers every section's checksum."""
        return rd_load64(self.mapping.addr + self.mapping.size - TRAILER_SIZE + 16)

    @property
    def size(self):
        return self.mapping.size

    def __len__(self):
        return self.nrows
