# Column helpers for writers: gathering variable-width values in a new order.


def take_varwidth(const uint64_t[::1] offsets not None, const uint8_t[::1] data not None,
                  const int64_t[::1] order not None):
    """Reorder a variable-width column: value i of the result is value order[i] of the input.

    Returns (offsets, data) as new numpy arrays (uint64 n + 1, uint8)."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, m = order.shape[0], i
    cdef int64_t r
    cdef uint64_t total = 0, a, b, pos = 0
    cdef uint64_t data_len = <uint64_t>data.shape[0]
    if n < 0:
        raise ValueError("offsets must hold at least one entry")
    # Check everything once, with the GIL, so that the copy loop cannot fail.
    for i in range(m):
        r = order[i]
        if r < 0 or r >= n:
            raise IndexError(f"order[{i}] = {r} is out of range for {n} values")
        a = offsets[r]
        b = offsets[r + 1]
        if a > b or b > data_len:
            raise ValueError(f"offsets of value {r} are not monotonic within the data")
        total += b - a
    out_offsets = np.empty(m + 1, dtype=np.uint64)
    out_data = np.empty(total, dtype=np.uint8)
    cdef uint64_t[::1] oo = out_offsets
    cdef uint8_t[::1] od = out_data
    with nogil:
        oo[0] = 0
        for i in range(m):
            r = order[i]
            a = offsets[r]
            b = offsets[r + 1]
            if b > a:
                memcpy(&od[pos], &data[a], b - a)
            pos += b - a
            oo[i + 1] = pos
    return out_offsets, out_data
