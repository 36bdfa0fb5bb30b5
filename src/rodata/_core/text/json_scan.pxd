# JSON scanning (json_scan.pyx): the extent and syntax of strings, numbers and values.
# Inline helpers other parts use, defined in the .pyx: skip_ws.

cdef int json_string_end(const uint8_t *b, Py_ssize_t i, Py_ssize_t n, Py_ssize_t *end, bint *esc) noexcept nogil
cdef int json_unescape(const uint8_t *b, Py_ssize_t i, Py_ssize_t end, uint8_t *out, Py_ssize_t *out_len,
                       Py_ssize_t *bad_at) noexcept nogil
cdef bint json_number_syntax(const uint8_t *v, Py_ssize_t n) noexcept nogil
cdef int json_skip_value(const uint8_t *b, Py_ssize_t i, Py_ssize_t n, Py_ssize_t *end) noexcept nogil
cdef int json_scalar_end(const uint8_t *b, Py_ssize_t i, Py_ssize_t n, Py_ssize_t *end) noexcept nogil
