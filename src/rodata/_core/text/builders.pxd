# Column builders (builders.pyx): growing a tokenizer's columns (Core, Col of core.pxd) and
# storing parsed values in them, checked against each column's type.
# Inline helpers other parts use, defined in the .pyx: core_is_null, col_set_null, col_append_bytes,
# col_put_text, col_commit_pending, col_drop_pending, core_rollback.

cdef int core_grow_rows(Core *c, int64_t need) noexcept nogil
cdef int core_reserve_scratch(Core *c, size_t n) noexcept nogil
cdef int col_put_int(Col *col, int64_t row, int64_t x) noexcept nogil
cdef void core_commit_pending(Core *c) noexcept nogil
