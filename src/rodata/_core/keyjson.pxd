# The keys of a lookup body (keyjson.pyx): a body of the plain shape read without a Python
# object per int64 key; any other body is left to the general JSON reader.
cdef Py_ssize_t _int_array(const char *p, const char *end, int64_t *out, Py_ssize_t cap,
                           const char **stop) noexcept nogil
cdef object _plain_string(const char **at, const char *end)
cdef object _string_array(const char **at, const char *end, Py_ssize_t cap)
cdef object _int_keys(const char **at, const char *end, Py_ssize_t max_keys)
