# Deep validation of one mapped segment (docs/FORMAT.md, "Deep validation"): every
# structural invariant the format states, over every byte, beyond what open checks.
# Each check runs without the GIL, returns a fault code and fills a Fault with the
# byte offset of the first bad byte; deep_validate raises after leaving nogil.


cdef inline bint _bit(const uint8_t *bits, uint64_t i) noexcept nogil:
    return (bits[i >> 3] >> (i & 7)) & 1


cdef inline int _fault(Fault *f, int code, const char *base, const void *at, uint64_t item) noexcept nogil:
    f.code = code
    f.offset = <uint64_t>(<const char *>at - base)
    f.item = item
    return code


cdef int _check_validity(const char *base, ColumnDesc *c, uint64_t n, Fault *f) noexcept nogil:
    """Padding bits past the last row are zero; a bitmap is present only when a row is null."""
    cdef uint64_t nbytes = (n + 7) // 8, i
    cdef uint8_t last
    if n % 8 != 0:
        last = c.validity[nbytes - 1]
        if last >> (n % 8) != 0:
            return _fault(f, V_PADDING_BITS, base, &c.validity[nbytes - 1], n)
    for i in range(n // 8):
        if c.validity[i] != 0xFF:
            return V_OK
    if n % 8 != 0 and c.validity[nbytes - 1] != (1 << (n % 8)) - 1:
        return V_OK
    return _fault(f, V_NO_NULLS, base, c.validity, 0)


cdef int _check_null_slots(const char *base, ColumnDesc *c, uint64_t n, Fault *f) noexcept nogil:
    """A null's slot holds zero bytes (fixed width) or an empty value (strings, bytes)."""
    cdef uint64_t i, size = <uint64_t>c.itemsize
    for i in range(n):
        if _bit(c.validity, i):
            continue
        if c.offsets != NULL:
            if c.offsets[i] != c.offsets[i + 1]:
                return _fault(f, V_NULL_SLOT, base, &c.offsets[i], i)
        elif not rd_all_zero(<const uint8_t *>c.data + i * size, size):
            return _fault(f, V_NULL_SLOT, base, c.data + i * size, i)
    return V_OK


cdef int _check_offsets(const char *base, ColumnDesc *c, uint64_t n, Fault *f) noexcept nogil:
    """Offsets start at 0, never decrease and end at the data length."""
    cdef uint64_t i
    if c.offsets[0] != 0:
        return _fault(f, V_OFFSETS_START, base, c.offsets, 0)
    for i in range(n):
        if c.offsets[i + 1] < c.offsets[i]:
            return _fault(f, V_OFFSETS_ORDER, base, &c.offsets[i + 1], i + 1)
    if c.offsets[n] != c.data_len:
        return _fault(f, V_OFFSETS_END, base, &c.offsets[n], n)
    return V_OK


cdef int _check_utf8(const char *base, ColumnDesc *c, uint64_t n, Fault *f) noexcept nogil:
    """The data is valid UTF-8 and every value starts on a character (so each value is valid)."""
    cdef const uint8_t *data = <const uint8_t *>c.data
    cdef size_t bad = rd_utf8_check(data, <size_t>c.data_len)
    cdef uint64_t i
    if bad != c.data_len:
        return _fault(f, V_UTF8, base, data + bad, bad)
    for i in range(n):
        if c.offsets[i] < c.data_len and (data[c.offsets[i]] & 0xC0) == 0x80:
            return _fault(f, V_UTF8_BOUNDARY, base, &c.offsets[i], i)
    return V_OK


cdef int _check_fixed(const char *base, ColumnDesc *c, uint64_t n, Fault *f) noexcept nogil:
    """bool bytes are 0 or 1; dates lie in years 1 to 9999."""
    cdef uint64_t i
    cdef const uint8_t *b
    cdef const int64_t *d
    if c.code == T_BOOL:
        b = <const uint8_t *>c.data
        for i in range(n):
            if b[i] > 1:
                return _fault(f, V_BOOL, base, &b[i], i)
    elif c.code == T_DATE:
        d = <const int64_t *>c.data
        for i in range(n):
            if d[i] < MIN_DATE_DAYS or d[i] > MAX_DATE_DAYS:
                return _fault(f, V_DATE, base, &d[i], i)
    return V_OK


cdef int _check_keys(const char *base, ColumnDesc *c, uint64_t n, Fault *f) noexcept nogil:
    """Keys strictly increase: int64 numerically, strings byte-wise."""
    cdef uint64_t i, la, lb
    cdef const int64_t *k
    cdef int cmp
    if c.offsets == NULL:
        k = <const int64_t *>c.data
        for i in range(1, n):
            if k[i] <= k[i - 1]:
                return _fault(f, V_KEY_ORDER, base, &k[i], i)
        return V_OK
    for i in range(1, n):
        la = c.offsets[i] - c.offsets[i - 1]
        lb = c.offsets[i + 1] - c.offsets[i]
        cmp = memcmp(c.data + c.offsets[i - 1], c.data + c.offsets[i], <size_t>(la if la < lb else lb))
        if cmp > 0 or (cmp == 0 and la >= lb):
            return _fault(f, V_KEY_ORDER, base, &c.offsets[i], i)
    return V_OK


cdef inline uint64_t _key_hash(ColumnDesc *k, uint64_t row) noexcept nogil:
    """The index hash of row `row`'s key (FORMAT.md, "Index section")."""
    if k.offsets == NULL:
        return rd_mix64(<uint64_t>(<const int64_t *>k.data)[row])
    return rd_xxh64(k.data + k.offsets[row], <size_t>(k.offsets[row + 1] - k.offsets[row]), KEY_SEED)


cdef int _check_index(const char *base, const uint64_t *table, uint64_t mask, ColumnDesc *k, uint64_t n,
                      Fault *f) noexcept nogil:
    """Every row is in exactly one slot, with its key's tag, reachable from its key's home slot
    without crossing an empty slot (so every lookup finds it).

    One pass over the table counts the occupied slots and checks their rows; then the rows are
    walked in order (their keys are read sequentially) and each key's probe is replayed from its
    home slot, whose cache line is prefetched INDEX_PREFETCH rows ahead.  n rows found in n
    distinct slots, with exactly n slots occupied, leave no slot unaccounted for."""
    cdef uint64_t slots = mask + 1, i, s, r, h, count = 0, probes
    cdef uint64_t ring[INDEX_PREFETCH]
    for i in range(slots):
        s = table[i]
        if s != 0:
            if (s & 0xFFFFFFFFULL) - 1 >= n:
                return _fault(f, V_INDEX_ROW, base, &table[i], i)
            count += 1
    if count != n:
        return _fault(f, V_INDEX_COUNT, base, table, count)
    for r in range(n if n < INDEX_PREFETCH else INDEX_PREFETCH):
        ring[r] = _key_hash(k, r)
        RD_PREFETCH(&table[ring[r] & mask])
    for r in range(n):
        h = ring[r % INDEX_PREFETCH]
        if r + INDEX_PREFETCH < n:
            ring[r % INDEX_PREFETCH] = _key_hash(k, r + INDEX_PREFETCH)
            RD_PREFETCH(&table[ring[r % INDEX_PREFETCH] & mask])
        i = h & mask
        probes = 0
        while True:
            s = table[i]
            if s == 0 or probes == slots:
                return _fault(f, V_INDEX_UNREACHABLE, base, &table[h & mask], r)
            if (s & 0xFFFFFFFFULL) == r + 1:
                break
            i = (i + 1) & mask
            probes += 1
        if (h >> 32) != (s >> 32):
            return _fault(f, V_INDEX_TAG, base, &table[i], i)
    return V_OK


cdef int _check_padding(const char *base, uint64_t size, const DirEntry *entries, Py_ssize_t count,
                        uint64_t dir_off, Fault *f) noexcept nogil:
    """Reserved fields and the gaps between sections hold zero bytes."""
    cdef uint64_t pos = HEADER_SIZE, dir_end = dir_off + <uint64_t>count * DIR_ENTRY_SIZE
    cdef Py_ssize_t i
    cdef uint64_t trailer_at = size - TRAILER_SIZE
    if not rd_all_zero(<const uint8_t *>base + 32, 24):
        return _fault(f, V_RESERVED, base, base + 32, 0)
    if not rd_all_zero(<const uint8_t *>base + trailer_at + 32, 16):
        return _fault(f, V_RESERVED, base, base + trailer_at + 32, 0)
    for i in range(count):
        if entries[i].reserved != 0:
            return _fault(f, V_RESERVED, base, &entries[i].reserved, <uint64_t>i)
        if not rd_all_zero(<const uint8_t *>base + pos, entries[i].offset - pos):
            return _fault(f, V_GAP, base, base + pos, 0)
        pos = entries[i].offset + entries[i].length
    if not rd_all_zero(<const uint8_t *>base + pos, dir_off - pos):
        return _fault(f, V_GAP, base, base + pos, 0)
    if not rd_all_zero(<const uint8_t *>base + dir_end, trailer_at - dir_end):
        return _fault(f, V_GAP, base, base + dir_end, 0)
    return V_OK


cdef int _check_column(const char *base, ColumnDesc *c, uint64_t n, bint is_key, Fault *f) noexcept nogil:
    cdef int st = V_OK
    if c.offsets != NULL:
        st = _check_offsets(base, c, n, f)
        if st == V_OK and c.code == T_STRING:
            st = _check_utf8(base, c, n, f)
    else:
        st = _check_fixed(base, c, n, f)
    if st == V_OK and c.validity != NULL:
        st = _check_validity(base, c, n, f)
        if st == V_OK:
            st = _check_null_slots(base, c, n, f)
    if st == V_OK and is_key:
        st = _check_keys(base, c, n, f)
    return st


cdef dict _FAULTS = {
    V_OFFSETS_START: ("offsets", "the first offset is not 0"),
    V_OFFSETS_ORDER: ("offsets", "offsets decrease at value {item}"),
    V_OFFSETS_END: ("offsets", "the last offset is not the data length"),
    V_UTF8: ("data", "invalid UTF-8 at data byte {item}"),
    V_UTF8_BOUNDARY: ("offsets", "value {item} starts inside a UTF-8 character"),
    V_BOOL: ("data", "bool of row {item} is neither 0 nor 1"),
    V_DATE: ("data", "date of row {item} outside years 1 to 9999"),
    V_PADDING_BITS: ("validity", "padding bits past the last row are not zero"),
    V_NO_NULLS: ("validity", "a validity bitmap without any null"),
    V_NULL_SLOT: ("data", "the slot of null row {item} is not empty"),
    V_KEY_ORDER: ("keys", "keys do not strictly increase at row {item}"),
    V_INDEX_ROW: ("index", "slot {item} points past the last row"),
    V_INDEX_TAG: ("index", "slot {item} has a tag that is not its key's"),
    V_INDEX_UNREACHABLE: ("index", "the key of row {item} cannot be found from its home slot"),
    V_INDEX_COUNT: ("index", "{item} slots are occupied, not one per row"),
    V_GAP: ("padding", "non-zero bytes between sections"),
    V_RESERVED: ("reserved field", "a reserved field is not zero"),
}


def deep_validate(Segment seg not None):
    """Check every structural invariant of `seg` over every byte (the checksums are checked
    by Segment.verify); raise FormatError naming the section and byte offset of the first fault."""
    cdef Fault f
    cdef int st = V_OK
    cdef Py_ssize_t col = -1, i
    cdef uint64_t n = <uint64_t>seg.nrows
    cdef const char *base = seg.mapping.addr
    _check_schema_doc(seg)
    f.code = V_OK
    with nogil:
        st = _check_padding(base, seg.mapping.size, seg.entries, seg.nentries, seg.dir_offset, &f)
        i = 0
        while st == V_OK and i < seg.ncols:
            st = _check_column(base, &seg.cols[i], n, i == seg.key_index, &f)
            col = i
            i += 1
        if st == V_OK:
            col = -1
            st = _check_index(base, seg.table, seg.table_mask, &seg.cols[seg.key_index], n, &f)
    if st != V_OK:
        section, what = _FAULTS[st]
        if col >= 0 and section in ("data", "offsets", "validity", "keys"):
            section = f"{section} of column {seg.names[col]!r}"
        seg._fail(section, f.offset, what.format(item=f.item))


cdef _check_schema_doc(Segment seg):
    """The schema section agrees with the header: its row count and key column."""
    doc = seg.schema_doc
    off = next(s[2] for s in seg.sections if s[0] == SEC_SCHEMA)
    rows, key = doc.get("rows"), doc.get("key")
    if type(rows) is not int or rows != seg.nrows:
        seg._fail("schema", off, f"says {rows!r:.40} rows, the header {seg.nrows}")
    if key != seg.names[seg.key_index]:
        seg._fail("schema", off, f"names key {key!r:.80}, the header's key column is {seg.names[seg.key_index]!r}")
