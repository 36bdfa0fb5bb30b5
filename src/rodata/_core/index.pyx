# The point-lookup index: an open-addressing table of 64-bit slots, linear
# probing.  A slot is (high 32 bits of the key's hash) << 32 | (row + 1), 0 when
# empty, so a probe compares a tag before it touches the key column and a miss
# usually costs one cache line.  The reader's probes live in segment.pyx.


def table_slots(Py_ssize_t nrows):
    """Slots for `nrows` keys: a power of two with a load factor of at most 0.7."""
    if nrows < 0 or nrows > MAX_ROWS:
        raise ValueError(f"row count {nrows} out of range (at most {MAX_ROWS} rows per segment)")
    cdef uint64_t want = <uint64_t>nrows * 10 // 7 + 1
    cdef uint64_t slots = 8
    while slots < want:
        slots <<= 1
    return slots


cdef inline void _insert(uint64_t *table, uint64_t mask, uint64_t h, uint64_t row) noexcept nogil:
    cdef uint64_t i = h & mask
    while table[i] != 0:
        i = (i + 1) & mask
    table[i] = ((h >> 32) << 32) | (row + 1)


def build_index_int64(const int64_t[::1] keys not None):
    """The index table (uint64 array) for unique int64 keys; row i holds keys[i]."""
    cdef Py_ssize_t n = keys.shape[0], i
    table = np.zeros(table_slots(n), dtype=np.uint64)
    cdef uint64_t[::1] t = table
    cdef uint64_t mask = t.shape[0] - 1
    with nogil:
        for i in range(n):
            _insert(&t[0], mask, rd_mix64(<uint64_t>keys[i]), <uint64_t>i)
    return table


def build_index_strings(const uint64_t[::1] offsets not None, const uint8_t[::1] data not None):
    """The index table for unique UTF-8 keys stored as offsets (n + 1) into data."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, i
    cdef uint64_t data_len = <uint64_t>data.shape[0]
    if n < 0:
        raise ValueError("offsets must hold at least one entry")
    cdef int bad = 0
    table = np.zeros(table_slots(n), dtype=np.uint64)
    cdef uint64_t[::1] t = table
    cdef uint64_t mask = t.shape[0] - 1
    cdef const char *base = <const char *>&data[0] if data_len else <const char *>&t[0]
    with nogil:
        for i in range(n):
            if not range_ok(data_len, offsets[i], offsets[i + 1]):
                bad = 1
                break
            _insert(&t[0], mask, rd_xxh64(base + offsets[i], <size_t>(offsets[i + 1] - offsets[i]), KEY_SEED),
                    <uint64_t>i)
    if bad:
        raise ValueError("string offsets are not monotonic within the data")
    return table
