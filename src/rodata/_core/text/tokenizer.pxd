# The tokenizers' base (tokenizer.pyx): the column builders of a column list, the checked
# feed() around a format's nogil record loop (_run, which csv.pyx and jsonl.pyx provide), the
# record of the last bad record, and the hand-over of the parsed columns to numpy.

cdef class Tokenizer:
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

    cdef int _run(self, const uint8_t *buf, Py_ssize_t n, Py_ssize_t *pos_io, Py_ssize_t limit, bint eof,
                  int64_t *line_io) noexcept nogil
    cdef _free(self)
    cdef _setup(self, list columns, null_values, int64_t rows_hint)
    cdef void _set_bad(self, int code, Py_ssize_t rec_start, Py_ssize_t rec_end, Py_ssize_t pos, int field,
                       int64_t line) noexcept nogil
