# Checksums: XXH64 (includes/rodata_c.h) over any contiguous buffer.

cdef inline uint64_t xxh64_bytes(bytes data) except? 0:
    return rd_xxh64(PyBytes_AS_STRING(data), <size_t>PyBytes_GET_SIZE(data), 0)


def xxh64(const uint8_t[::1] data not None, uint64_t seed=0):
    """XXH64 of a contiguous buffer (bytes, memoryview, numpy array), GIL released."""
    cdef uint64_t h
    cdef size_t n = <size_t>data.shape[0]
    cdef const uint8_t *p = &data[0] if n else NULL
    with nogil:
        h = rd_xxh64(p, n, seed)
    return h
