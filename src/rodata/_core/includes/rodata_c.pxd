# C declarations of includes/rodata_c.h (the only C the core uses beyond libc/POSIX).
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t


cdef extern from "rodata_c.h" nogil:
    uint64_t rd_xxh64(const void *data, size_t length, uint64_t seed)
    uint64_t rd_mix64(uint64_t x)
    uint64_t rd_load64(const void *p)
    uint32_t rd_load32(const void *p)
    void RD_PREFETCH(const void *p)
    bint RD_LIKELY(bint x)
    bint RD_UNLIKELY(bint x)
    void rd_civil_from_days(int64_t z, int *year, int *month, int *day)
    size_t rd_utf8_check(const uint8_t *s, size_t length)
    bint rd_all_zero(const uint8_t *p, size_t n)
    bint span_ok "rd_span_ok"(uint64_t size, uint64_t off, uint64_t length)
    bint range_ok "rd_range_ok"(uint64_t size, uint64_t a, uint64_t b)
    void rd_copy_short(uint8_t *dst, const uint8_t *src, size_t n)
    int64_t rd_gather_check(const uint64_t *off, int64_t n, uint64_t data_len, const int64_t *order, int64_t m,
                            uint64_t *total, int *why)
    void rd_gather(const uint64_t *off, const uint8_t *src, const int64_t *order, int64_t m, uint64_t *out_off,
                   uint8_t *dst)
