# Sorting keys for the ETL: stable radix argsorts for int64 and byte-string keys, binary
# search in sorted string runs, equal-neighbour detection, and a content-defined sample.

cdef enum:
    SMALL_SORT = 24        # ranges this small are sorted by insertion


cdef int radix_pairs(uint64_t *key, int64_t *idx, uint64_t *tkey, int64_t *tidx, Py_ssize_t n) noexcept nogil:
    """Stable LSD radix sort of (key, idx) pairs by key.  All digit histograms come from one read
    of the keys; passes whose digit is the same everywhere are skipped (keys that use few bits
    sort in few passes).  8-bit digits keep all eight histograms (16 KiB) in L1.
    The result ends in `key`/`idx`."""
    cdef int bits = 8
    cdef int passes = (64 + bits - 1) // bits
    cdef Py_ssize_t buckets = (<Py_ssize_t>1) << bits
    cdef uint64_t digit_mask = buckets - 1
    cdef Py_ssize_t *hist = <Py_ssize_t *>calloc(passes * buckets, sizeof(Py_ssize_t))
    cdef Py_ssize_t *count
    cdef Py_ssize_t i, total, c, d
    cdef int p, shift
    cdef uint64_t k
    cdef uint64_t *ks
    cdef int64_t *xs
    cdef uint64_t *kd
    cdef int64_t *xd
    cdef uint64_t *swap_k
    cdef int64_t *swap_x
    cdef bint in_tmp = False
    if hist == NULL:
        return F_NOMEM
    for i in range(n):
        k = key[i]
        for p in range(passes):
            hist[p * buckets + ((k >> (p * bits)) & digit_mask)] += 1
    ks = key
    xs = idx
    kd = tkey
    xd = tidx
    for p in range(passes):
        shift = p * bits
        count = hist + p * buckets
        if count[(ks[0] >> shift) & digit_mask] == n:
            continue
        total = 0
        for d in range(buckets):
            c = count[d]
            count[d] = total
            total += c
        for i in range(n):
            d = (ks[i] >> shift) & digit_mask
            kd[count[d]] = ks[i]
            xd[count[d]] = xs[i]
            count[d] += 1
        swap_k = ks
        ks = kd
        kd = swap_k
        swap_x = xs
        xs = xd
        xd = swap_x
        in_tmp = not in_tmp
    if in_tmp:
        memcpy(key, ks, n * sizeof(uint64_t))
        memcpy(idx, xs, n * sizeof(int64_t))
    free(hist)
    return V_OK


def argsort_int64(const int64_t[::1] keys not None):
    """The stable sort permutation of int64 `keys` (an int64 array)."""
    cdef Py_ssize_t n = keys.shape[0], i
    out = np.arange(n, dtype=np.int64)
    if n < 2:
        return out
    cdef int64_t[::1] idx = out
    tmp = np.empty(3 * n, dtype=np.uint64)
    cdef uint64_t[::1] t = tmp
    cdef int st
    with nogil:
        for i in range(n):
            t[i] = (<uint64_t>keys[i]) ^ (<uint64_t>1 << 63)   # signed order as unsigned
        st = radix_pairs(&t[0], &idx[0], &t[n], <int64_t *>&t[2 * n], n)
    if st != V_OK:
        raise MemoryError()
    return out


cdef inline uint64_t prefix8(const uint8_t *data, uint64_t a, uint64_t b, Py_ssize_t depth) noexcept nogil:
    """Bytes [depth, depth + 8) of the string data[a:b] as a big-endian integer, zero padded."""
    cdef uint64_t v = 0
    cdef Py_ssize_t k
    cdef uint64_t start = a + depth
    for k in range(8):
        v <<= 8
        if start + k < b:
            v |= data[start + k]
    return v


cdef inline int cmp_from(const uint64_t *off, const uint8_t *data, int64_t x, int64_t y, Py_ssize_t depth) noexcept nogil:
    cdef uint64_t la = off[x + 1] - off[x], lb = off[y + 1] - off[y]
    cdef uint64_t m = la if la < lb else lb
    cdef int r = 0
    if m > <uint64_t>depth:
        r = memcmp(data + off[x] + depth, data + off[y] + depth, m - depth)
    if r != 0:
        return r
    return (la > lb) - (la < lb)


cdef int sort_strings(const uint64_t *off, const uint8_t *data, int64_t *idx, Py_ssize_t n) noexcept nogil:
    """Stable sort of row numbers `idx` by their strings: an 8-byte prefix radix sort per level,
    then the ranges whose prefixes tie are sorted again from the next 8 bytes."""
    cdef uint64_t *pref = <uint64_t *>malloc(n * sizeof(uint64_t))
    cdef uint64_t *tpref = <uint64_t *>malloc(n * sizeof(uint64_t))
    cdef int64_t *tidx = <int64_t *>malloc(n * sizeof(int64_t))
    cdef Py_ssize_t cap = 64, top = 0
    cdef Py_ssize_t *stack = <Py_ssize_t *>malloc(cap * 3 * sizeof(Py_ssize_t))
    cdef Py_ssize_t lo, hi, depth, i, j, a, b, k, nfin, w
    cdef int64_t x
    cdef uint64_t lenx
    cdef Py_ssize_t[10] cnt
    cdef void *grown
    cdef int st = V_OK
    if pref == NULL or tpref == NULL or tidx == NULL or stack == NULL:
        st = F_NOMEM
    else:
        stack[0] = 0
        stack[1] = n
        stack[2] = 0
        top = 1
    while st == V_OK and top > 0:
        top -= 1
        lo = stack[3 * top]
        hi = stack[3 * top + 1]
        depth = stack[3 * top + 2]
        if hi - lo <= SMALL_SORT:
            for i in range(lo + 1, hi):
                x = idx[i]
                j = i
                while j > lo and cmp_from(off, data, idx[j - 1], x, depth) > 0:
                    idx[j] = idx[j - 1]
                    j -= 1
                idx[j] = x
            continue
        for i in range(lo, hi):
            pref[i] = prefix8(data, off[idx[i]], off[idx[i] + 1], depth)
        st = radix_pairs(pref + lo, idx + lo, tpref + lo, tidx + lo, hi - lo)
        if st != V_OK:
            break
        a = lo
        while a < hi:
            b = a + 1
            while b < hi and pref[b] == pref[a]:
                b += 1
            if b - a > 1:
                # Strings that end within these 8 bytes are prefixes of the longer ones: they go
                # first, shorter before longer (a counting sort on the length keeps it stable).
                memset(cnt, 0, sizeof(cnt))
                nfin = 0
                for i in range(a, b):
                    lenx = off[idx[i] + 1] - off[idx[i]]
                    if lenx <= <uint64_t>(depth + 8):
                        cnt[lenx - depth if lenx >= <uint64_t>depth else 0] += 1
                        nfin += 1
                if nfin:
                    w = 0
                    for k in range(9):
                        j = cnt[k]
                        cnt[k] = w
                        w += j
                    cnt[9] = nfin
                    for i in range(a, b):
                        lenx = off[idx[i] + 1] - off[idx[i]]
                        if lenx <= <uint64_t>(depth + 8):
                            k = lenx - depth if lenx >= <uint64_t>depth else 0
                            tidx[a + cnt[k]] = idx[i]
                            cnt[k] += 1
                        else:
                            tidx[a + cnt[9]] = idx[i]
                            cnt[9] += 1
                    memcpy(idx + a, tidx + a, (b - a) * sizeof(int64_t))
                if b - (a + nfin) > 1:
                    if top >= cap:
                        cap *= 2
                        grown = realloc(stack, cap * 3 * sizeof(Py_ssize_t))
                        if grown == NULL:
                            st = F_NOMEM
                            break
                        stack = <Py_ssize_t *>grown
                    stack[3 * top] = a + nfin
                    stack[3 * top + 1] = b
                    stack[3 * top + 2] = depth + 8
                    top += 1
            a = b
    free(pref)
    free(tpref)
    free(tidx)
    free(stack)
    return st


cdef int check_offsets(const uint64_t[::1] offsets, Py_ssize_t data_len) except -1:
    cdef Py_ssize_t i, n = offsets.shape[0] - 1
    if n < 0:
        raise ValueError("offsets must hold at least one entry")
    for i in range(n):
        if offsets[i] > offsets[i + 1]:
            raise ValueError(f"offsets are not monotonic at {i}")
    if offsets[n] > <uint64_t>data_len:
        raise ValueError("offsets point past the data")
    return 0


def argsort_strings(const uint64_t[::1] offsets not None, const uint8_t[::1] data not None):
    """The stable sort permutation (int64) of byte strings given as offsets + data."""
    check_offsets(offsets, data.shape[0])
    cdef Py_ssize_t n = offsets.shape[0] - 1
    out = np.arange(n, dtype=np.int64)
    if n < 2:
        return out
    cdef int64_t[::1] idx = out
    cdef const uint8_t *dp = &data[0] if data.shape[0] else <const uint8_t *>b""
    cdef int st
    with nogil:
        st = sort_strings(&offsets[0], dp, &idx[0], n)
    if st != V_OK:
        raise MemoryError()
    return out


def strings_sorted(const uint64_t[::1] offsets not None, const uint8_t[::1] data not None, bint strict=False):
    """True when the strings are in (strictly, with `strict`) increasing byte order."""
    check_offsets(offsets, data.shape[0])
    cdef Py_ssize_t n = offsets.shape[0] - 1, i
    cdef const uint8_t *dp = &data[0] if data.shape[0] else <const uint8_t *>b""
    cdef int r
    cdef bint ok = True
    with nogil:
        for i in range(n - 1):
            r = cmp_from(&offsets[0], dp, i, i + 1, 0)
            if r > 0 or (strict and r == 0):
                ok = False
                break
    return ok


def equal_neighbors_strings(const uint64_t[::1] offsets not None, const uint8_t[::1] data not None):
    """Bool array of n - 1: string i equals string i + 1."""
    check_offsets(offsets, data.shape[0])
    cdef Py_ssize_t n = offsets.shape[0] - 1, i
    out = np.zeros(max(n - 1, 0), dtype=np.bool_)
    if n < 2:
        return out
    cdef uint8_t[::1] o = out.view(np.uint8)
    cdef const uint8_t *dp = &data[0] if data.shape[0] else <const uint8_t *>b""
    with nogil:
        for i in range(n - 1):
            o[i] = cmp_from(&offsets[0], dp, i, i + 1, 0) == 0
    return out


def search_strings(const uint64_t[::1] offsets not None, const uint8_t[::1] data not None, bytes key not None,
                   bint right=False):
    """Binary search in sorted strings: the first index whose string is >= `key` (> with `right`).
    The offsets are trusted to lie within the data (checked where the run was read)."""
    cdef Py_ssize_t n = offsets.shape[0] - 1, lo = 0, hi, mid
    cdef const uint8_t *k = <const uint8_t *>PyBytes_AS_STRING(key)
    cdef uint64_t klen = PyBytes_GET_SIZE(key), a, b, m
    cdef const uint8_t *dp = &data[0] if data.shape[0] else <const uint8_t *>b""
    cdef int r
    if n < 0:
        raise ValueError("offsets must hold at least one entry")
    if offsets[n] > <uint64_t>data.shape[0]:
        raise ValueError("offsets point past the data")
    hi = n
    with nogil:
        while lo < hi:
            mid = lo + (hi - lo) // 2
            a = offsets[mid]
            b = offsets[mid + 1]
            if not range_ok(offsets[n], a, b):
                break
            m = b - a if b - a < klen else klen
            r = memcmp(dp + a, k, m) if m else 0
            if r == 0:
                r = (b - a > klen) - (b - a < klen)
            if r < 0 or (right and r == 0):
                lo = mid + 1
            else:
                hi = mid
    return lo


def sample_int64(const int64_t[::1] keys not None, uint64_t mask):
    """Bool array: the keys whose hash has no bits of `mask` set (a content-defined sample)."""
    cdef Py_ssize_t n = keys.shape[0], i
    out = np.zeros(n, dtype=np.bool_)
    if n == 0:
        return out
    cdef uint8_t[::1] o = out.view(np.uint8)
    with nogil:
        for i in range(n):
            o[i] = (rd_mix64(<uint64_t>keys[i]) & mask) == 0
    return out


def sample_strings(const uint64_t[::1] offsets not None, const uint8_t[::1] data not None, uint64_t mask):
    """As sample_int64, for strings."""
    check_offsets(offsets, data.shape[0])
    cdef Py_ssize_t n = offsets.shape[0] - 1, i
    out = np.zeros(max(n, 0), dtype=np.bool_)
    if n <= 0:
        return out
    cdef uint8_t[::1] o = out.view(np.uint8)
    cdef const uint8_t *dp = &data[0] if data.shape[0] else <const uint8_t *>b""
    with nogil:
        for i in range(n):
            o[i] = (rd_xxh64(dp + offsets[i], offsets[i + 1] - offsets[i], 0) & mask) == 0
    return out
