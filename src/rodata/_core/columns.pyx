# Column helpers for writers: gathering variable-width values in a new order.  Both extensions
# include this part (rodata.write's columns and the ETL's sorted runs); the gather itself is
# rd_gather (includes/rodata_c.h).


def take_varwidth(const uint64_t[::1] offsets not None, const uint8_t[::1] data not None,
                  const int64_t[::1] order not None):
    """Reorder a variable-width column: value i of the result is value order[i] of the input.

    Returns (offsets, data) as new numpy arrays (uint64 n + 1, uint8)."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, m = order.shape[0]
    cdef int64_t bad
    cdef int why = 0
    cdef uint64_t total = 0
    if n < 0:
        raise ValueError("offsets must hold at least one entry")
    # Check everything once, with the GIL, so that the copy loop cannot fail.
    bad = rd_gather_check(&offsets[0], n, <uint64_t>data.shape[0], &order[0] if m else NULL, m, &total, &why)
    if bad >= 0 and why == 1:
        raise IndexError(f"order[{bad}] = {order[bad]} is out of range for {n} values")
    if bad >= 0:
        raise ValueError(f"offsets of value {order[bad]} are not monotonic within the data")
    out_offsets = np.empty(m + 1, dtype=np.uint64)
    out_data = np.empty(total, dtype=np.uint8)
    cdef uint64_t[::1] oo = out_offsets
    cdef uint8_t[::1] od = out_data
    cdef const uint8_t *src = &data[0] if data.shape[0] else <const uint8_t *>&oo[0]
    cdef uint8_t *dst = &od[0] if total else <uint8_t *>&oo[0]   # never written: every value is empty
    with nogil:
        rd_gather(&offsets[0], src, &order[0] if m else NULL, m, &oo[0], dst)
    return out_offsets, out_data
