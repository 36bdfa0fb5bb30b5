# The float parser (floats.pyx): Eisel-Lemire with a strtod fallback in the C locale.

cdef int parse_float64(const uint8_t *p, Py_ssize_t n, double *out) noexcept nogil
