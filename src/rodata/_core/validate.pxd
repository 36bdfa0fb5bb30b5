# Deep validation (validate.pyx): the fault codes its nogil checks return, and where.
cdef enum:
    INDEX_PREFETCH = 32         # rows ahead whose home slots are prefetched while the index is checked

cdef enum FaultCode:
    V_OK = 0
    V_OFFSETS_START = 1
    V_OFFSETS_ORDER = 2
    V_OFFSETS_END = 3
    V_UTF8 = 4
    V_UTF8_BOUNDARY = 5
    V_BOOL = 6
    V_DATE = 7
    V_PADDING_BITS = 8
    V_NO_NULLS = 9
    V_NULL_SLOT = 10
    V_KEY_ORDER = 11
    V_INDEX_ROW = 12
    V_INDEX_TAG = 13
    V_INDEX_UNREACHABLE = 14
    V_INDEX_COUNT = 15
    V_GAP = 16
    V_RESERVED = 17

ctypedef struct Fault:
    int code
    uint64_t offset     # byte offset of the first bad byte in the file
    uint64_t item       # the row, value, slot or count the fault concerns
