ctypedef struct ColumnDesc:
    int code              # TypeCode
    Py_ssize_t itemsize   # bytes per row for fixed-width columns (a vector: 4 * dim)
    Py_ssize_t dim        # vector length, 1 otherwise
    const char *data      # DATA section
    uint64_t data_len
    const uint64_t *offsets   # OFFSETS section (strings and bytes), n + 1 entries
    const uint8_t *validity   # VALIDITY bitmap or NULL when the column has no nulls
    bint nullable
    unsigned seen             # bit k set once a section of kind k was bound


cdef class Segment:
    cdef readonly Mapping mapping
    cdef readonly object path
    cdef readonly Py_ssize_t nrows
    cdef readonly Py_ssize_t ncols
    cdef readonly Py_ssize_t key_index
    cdef readonly bint key_is_string
    cdef readonly object schema        # list of dicts, as stored
    cdef readonly tuple names
    cdef readonly list sections        # [(kind, column, offset, length, checksum)], known kinds
    cdef readonly object schema_doc    # the schema section's JSON object
    cdef readonly unsigned minor       # the file's minor format version
    cdef readonly uint64_t dir_offset
    cdef const DirEntry *entries       # the directory, in place in the mapping
    cdef Py_ssize_t nentries
    cdef ColumnDesc *cols
    cdef const uint64_t *table
    cdef uint64_t table_mask
    cdef object _views                 # cache of fixed-width column views

    cdef _fail(self, str where, uint64_t offset, str what)
    cdef _parse(self)
    cdef _parse_schema(self, uint64_t ncols, uint64_t key_index)
    cdef _bind_sections(self)
    cdef str _where(self, int kind, Py_ssize_t column)
    cdef _raise_status(self, int status, str what, Py_ssize_t col, Py_ssize_t item)
    cdef int _check_rows(self, const int64_t[::1] rows) except -1
    cdef int _check_columns(self, tuple cols) except -1
    cdef int _probe_int(self, int64_t key, Py_ssize_t *row) noexcept nogil
    cdef int _probe_str(self, const char *key, Py_ssize_t klen, uint64_t h, Py_ssize_t *row) noexcept nogil
    cdef int _string_at(self, ColumnDesc *c, Py_ssize_t row, const char **p, Py_ssize_t *n) noexcept nogil
    cdef object _value(self, Py_ssize_t col, Py_ssize_t row)
    cdef dict _row_dict(self, Py_ssize_t row, tuple cols)
    cdef void _prefetch_row(self, Py_ssize_t row, tuple cols)
    cdef Py_ssize_t _find(self, object key) except -2
