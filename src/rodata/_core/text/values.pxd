# Value parsers (values.pyx): one field's bytes to a typed value, and its kind for inference.
# Each returns V_OK or a status of core.pxd and runs without the GIL.
# Inline helpers other parts use, defined in the .pyx: is_digit, skip_digits, digits_value.

cdef bint equals_nocase(const uint8_t *p, Py_ssize_t n, const char *word) noexcept nogil
cdef int parse_int64(const uint8_t *p, Py_ssize_t n, int64_t *out) noexcept nogil
cdef int parse_uint64(const uint8_t *p, Py_ssize_t n, uint64_t *out) noexcept nogil
cdef int parse_bool(const uint8_t *p, Py_ssize_t n, uint8_t *out, bint lenient) noexcept nogil
cdef int parse_date(const uint8_t *p, Py_ssize_t n, int64_t *days) noexcept nogil
cdef int parse_timestamp(const uint8_t *p, Py_ssize_t n, int64_t *ns, bint *has_time) noexcept nogil
cdef bint utf8_valid(const uint8_t *p, Py_ssize_t n, Py_ssize_t *bad_at) noexcept nogil
cdef int classify(const uint8_t *p, Py_ssize_t n) noexcept nogil
cdef int classify_text_only(const uint8_t *p, Py_ssize_t n) noexcept nogil
