# C declarations of includes/rodata_types.h: the one table of column types (code, name, layout,
# item size, numpy dtype, limits) that both extensions read.
from libc.stdint cimport int64_t, uint64_t


cdef extern from "rodata_types.h" nogil:
    # Column type codes (what the compiled parts know a type by; never renumbered).
    cdef enum:
        T_INT8 "RD_T_INT8"
        T_INT16 "RD_T_INT16"
        T_INT32 "RD_T_INT32"
        T_INT64 "RD_T_INT64"
        T_UINT8 "RD_T_UINT8"
        T_UINT16 "RD_T_UINT16"
        T_UINT32 "RD_T_UINT32"
        T_UINT64 "RD_T_UINT64"
        T_FLOAT32 "RD_T_FLOAT32"
        T_FLOAT64 "RD_T_FLOAT64"
        T_BOOL "RD_T_BOOL"
        T_TIMESTAMP "RD_T_TIMESTAMP"
        T_DATE "RD_T_DATE"
        T_STRING "RD_T_STRING"
        T_BYTES "RD_T_BYTES"
        T_VECTOR "RD_T_VECTOR"
        NTYPES "RD_NTYPES"
        LAYOUT_FIXED "RD_FIXED"
        LAYOUT_VARWIDTH "RD_VARWIDTH"
        LAYOUT_VECTOR "RD_VECTOR"
        MAX_VECTOR_DIM "RD_MAX_VECTOR_DIM"

    const int64_t MIN_DATE_DAYS "RD_MIN_DATE_DAYS"   # 0001-01-01, days since 1970-01-01
    const int64_t MAX_DATE_DAYS "RD_MAX_DATE_DAYS"   # 9999-12-31

    ctypedef struct rd_type_info:
        int code
        const char *name
        int layout
        int itemsize
        const char *dtype
        bint key
        bint ranged
        int64_t lo
        uint64_t hi

    const rd_type_info *rd_type(int code)
    bint rd_is_integer(const rd_type_info *t)
