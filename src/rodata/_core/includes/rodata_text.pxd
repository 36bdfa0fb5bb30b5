# C declarations the text readers (_text) use beyond rodata_c.pxd: includes/rodata_text.h, and
# the C library's locale-independent strtod.
from libc.stdint cimport uint64_t


cdef extern from "rodata_text.h" nogil:
    uint64_t rdt_mul128(uint64_t a, uint64_t b, uint64_t *hi)
    int rdt_clz64(uint64_t x)
    int rdt_ctz64(uint64_t x)

cdef extern from "<locale.h>" nogil:
    ctypedef struct __locale_struct:
        pass
    ctypedef __locale_struct *locale_t
    locale_t newlocale(int category_mask, const char *locale, locale_t base)
    int LC_ALL_MASK

cdef extern from "<stdlib.h>" nogil:
    double strtod_l(const char *nptr, char **endptr, locale_t loc)
