# Lookups (lookups.pyx): batch probes and range searches over a Segment's key column.
cdef find_many_int(Segment seg, const int64_t[::1] keys)
cdef find_many_str(Segment seg, keys)
cdef lower_bound(Segment seg, key)
