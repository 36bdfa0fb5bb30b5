# Lookups of many keys and range searches over a segment's key column: the pipelined batch
# probes and the binary search.  Segment's methods (segment.pyx) are their public face.  The
# keys come checked from the public edge (rodata._keys); what is done to them here anyway (the
# UTF-8 view of a str, the bytes of a bound, the int64 of a number) refuses a key of another
# type with a KeyTypeError, before the nogil loops, and checks nothing twice.


cdef inline Py_ssize_t _first_candidate(Segment seg, uint64_t h) noexcept nogil:
    """The row in the home slot of hash `h` when its tag matches (a prefetch hint only), else -1."""
    cdef uint64_t s = seg.table[h & seg.table_mask]
    cdef uint64_t r = (s & 0xFFFFFFFFULL) - 1
    if s == 0 or (s >> 32) != (h >> 32) or r >= <uint64_t>seg.nrows:
        return -1
    return <Py_ssize_t>r


cdef find_many_int(Segment seg, const int64_t[::1] keys):
    """Row numbers (-1 where absent) of int64 `keys`, probed in pipelined blocks without the GIL."""
    cdef Py_ssize_t n = keys.shape[0], i, j, end, row
    cdef uint64_t hs[PIPELINE]
    cdef int st = ST_OK
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] rows = out
    cdef const int64_t *kcol = <const int64_t *>seg.cols[seg.key_index].data
    if n == 0:
        return out
    with nogil:
        i = 0
        while i < n and st >= 0:
            end = i + PIPELINE if i + PIPELINE < n else n
            # A short software pipeline: hash a block and prefetch its slots,
            # then prefetch the keys those slots point at, then probe.  The
            # cache misses of the whole block overlap instead of queueing.
            for j in range(i, end):
                hs[j - i] = rd_mix64(<uint64_t>keys[j])
                RD_PREFETCH(&seg.table[hs[j - i] & seg.table_mask])
            for j in range(i, end):
                row = _first_candidate(seg, hs[j - i])
                if row >= 0:
                    RD_PREFETCH(&kcol[row])
            for j in range(i, end):
                row = -1
                st = seg._probe_int(keys[j], &row)
                if RD_UNLIKELY(st < 0):
                    break
                rows[j] = row
            i = end
    if st < 0:
        seg._raise_status(st, "a batch lookup", seg.key_index, row)
    return out


cdef find_many_str(Segment seg, keys):
    """Row numbers (-1 where absent) of string `keys`, probed in pipelined blocks without the GIL."""
    cdef Py_ssize_t n, i, j, end, row, klen
    cdef int st = ST_OK
    cdef uint64_t a
    cdef ColumnDesc *kc = &seg.cols[seg.key_index]
    if not isinstance(keys, (list, tuple)):
        keys = list(keys)
    n = len(keys)
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] rows = out
    cdef const char **ptrs = <const char **>PyMem_Malloc(n * sizeof(char *) + 1)
    cdef Py_ssize_t *lens = <Py_ssize_t *>PyMem_Malloc(n * sizeof(Py_ssize_t) + 1)
    cdef uint64_t hs[PIPELINE]
    cdef Py_ssize_t cand[PIPELINE]
    try:
        if ptrs == NULL or lens == NULL:
            raise MemoryError()
        for i in range(n):
            key = keys[i]
            # UTF-8 view owned by the str object, which `keys` keeps alive.  A str with a
            # lone surrogate has no UTF-8 form, so no stored key equals it: length -1, absent.
            try:
                ptrs[i] = PyUnicode_AsUTF8AndSize(key, &lens[i])
            except UnicodeEncodeError:
                ptrs[i] = NULL
                lens[i] = -1
            except TypeError:  # not a str
                raise KeyTypeError(f"key {key!r:.80} is not a string (the key column is string)") from None
        with nogil:
            i = 0
            while i < n and st >= 0:
                end = i + PIPELINE if i + PIPELINE < n else n
                # Three dependent misses per key (slot, offsets, bytes): prefetch
                # each level for the whole block before touching the next one.
                for j in range(i, end):
                    hs[j - i] = rd_xxh64(ptrs[j], <size_t>lens[j], KEY_SEED) if lens[j] >= 0 else 0
                    RD_PREFETCH(&seg.table[hs[j - i] & seg.table_mask])
                for j in range(i, end):
                    cand[j - i] = _first_candidate(seg, hs[j - i]) if lens[j] >= 0 else -1
                    if cand[j - i] >= 0:
                        RD_PREFETCH(&kc.offsets[cand[j - i]])
                for j in range(i, end):
                    if cand[j - i] >= 0:
                        a = kc.offsets[cand[j - i]]
                        if a < kc.data_len:
                            RD_PREFETCH(kc.data + a)
                for j in range(i, end):
                    row = -1
                    if lens[j] < 0:
                        rows[j] = -1
                        continue
                    st = seg._probe_str(ptrs[j], lens[j], hs[j - i], &row)
                    if RD_UNLIKELY(st < 0):
                        break
                    rows[j] = row
                i = end
    finally:
        PyMem_Free(ptrs)
        PyMem_Free(lens)
    if st < 0:
        seg._raise_status(st, "a batch lookup", seg.key_index, row)
    return out


cdef lower_bound(Segment seg, key):
    """The first row whose key is >= `key`: a binary search over the sorted key column."""
    cdef Py_ssize_t lo = 0, hi = seg.nrows, mid, klen, plen
    cdef const char *kp
    cdef const char *p
    cdef int64_t ikey
    cdef int cmp, overflow = 0
    cdef ColumnDesc *c = &seg.cols[seg.key_index]
    cdef const int64_t *ikeys = <const int64_t *>c.data
    cdef int st = ST_OK
    if seg.key_is_string:
        if isinstance(key, str):
            key = key.encode("utf-8", "surrogatepass")
        try:  # the bytes of the bound: refuses anything but bytes (and str, encoded above)
            PyBytes_AsStringAndSize(key, <char **>&kp, &klen)
        except TypeError:
            raise KeyTypeError(f"key {key!r:.80} is not a string (the key column is string)") from None
        with nogil:
            while lo < hi:
                mid = lo + (hi - lo) // 2
                if seg._string_at(c, mid, &p, &plen) != ST_OK:
                    st = ST_BAD_OFFSETS
                    break
                cmp = memcmp(p, kp, <size_t>(plen if plen < klen else klen))
                if cmp < 0 or (cmp == 0 and plen < klen):
                    lo = mid + 1
                else:
                    hi = mid
        if st != ST_OK:
            seg._raise_status(st, "a range search", seg.key_index, mid)
        return lo
    try:  # the int64 of the bound (one outside int64 is before or after every key)
        ikey = PyLong_AsLongLongAndOverflow(key, &overflow)
    except TypeError:
        raise KeyTypeError(f"key {key!r:.80} is not an integer (the key column is int64)") from None
    if overflow:
        return 0 if overflow < 0 else seg.nrows
    with nogil:
        while lo < hi:
            mid = lo + (hi - lo) // 2
            if ikeys[mid] < ikey:
                lo = mid + 1
            else:
                hi = mid
    return lo
