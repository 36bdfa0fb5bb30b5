/* Small C helpers of both compiled extensions: XXH64, an integer mixer, unaligned
 * little-endian loads, a prefetch hint, checked spans and the gather of variable-width
 * values.  Header-only so that each Cython extension stays one translation unit and the
 * compiler can inline all of it. */
#ifndef RODATA_C_H
#define RODATA_C_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "rodata segments are little-endian and are mapped as-is: a big-endian host is not supported"
#endif

#if defined(__GNUC__) || defined(__clang__)
#define RD_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 1)
#define RD_LIKELY(x) __builtin_expect(!!(x), 1)
#define RD_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define RD_PREFETCH(p) ((void)0)
#define RD_LIKELY(x) (x)
#define RD_UNLIKELY(x) (x)
#endif

#define RD_NO_COLUMN 0xFFFFFFFFULL
#define RD_MAX_ROWS 0xFFFFFFFEULL

static inline uint64_t rd_load64(const void *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint32_t rd_load32(const void *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* ---- XXH64 (the public xxHash specification, 64-bit variant) ---------------- */

#define RD_P1 0x9E3779B185EBCA87ULL
#define RD_P2 0xC2B2AE3D27D4EB4FULL
#define RD_P3 0x165667B19E3779F9ULL
#define RD_P4 0x85EBCA77C2B2AE63ULL
#define RD_P5 0x27D4EB2F165667C5ULL

static inline uint64_t rd_rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t rd_xxh_round(uint64_t acc, uint64_t input) {
    acc += input * RD_P2;
    acc = rd_rotl64(acc, 31);
    return acc * RD_P1;
}

static inline uint64_t rd_xxh_merge(uint64_t acc, uint64_t val) {
    acc ^= rd_xxh_round(0, val);
    return acc * RD_P1 + RD_P4;
}

static uint64_t rd_xxh64(const void *data, size_t len, uint64_t seed) {
    const uint8_t *p = (const uint8_t *)data;
    const uint8_t *end = p + len;
    uint64_t h;

    if (len >= 32) {
        const uint8_t *limit = end - 32;
        uint64_t v1 = seed + RD_P1 + RD_P2, v2 = seed + RD_P2, v3 = seed, v4 = seed - RD_P1;
        do {
            v1 = rd_xxh_round(v1, rd_load64(p));
            v2 = rd_xxh_round(v2, rd_load64(p + 8));
            v3 = rd_xxh_round(v3, rd_load64(p + 16));
            v4 = rd_xxh_round(v4, rd_load64(p + 24));
            p += 32;
        } while (p <= limit);
        h = rd_rotl64(v1, 1) + rd_rotl64(v2, 7) + rd_rotl64(v3, 12) + rd_rotl64(v4, 18);
        h = rd_xxh_merge(h, v1);
        h = rd_xxh_merge(h, v2);
        h = rd_xxh_merge(h, v3);
        h = rd_xxh_merge(h, v4);
    } else {
        h = seed + RD_P5;
    }
    h += (uint64_t)len;
    while (p + 8 <= end) {
        h ^= rd_xxh_round(0, rd_load64(p));
        h = rd_rotl64(h, 27) * RD_P1 + RD_P4;
        p += 8;
    }
    if (p + 4 <= end) {
        h ^= (uint64_t)rd_load32(p) * RD_P1;
        h = rd_rotl64(h, 23) * RD_P2 + RD_P3;
        p += 4;
    }
    while (p < end) {
        h ^= (uint64_t)(*p) * RD_P5;
        h = rd_rotl64(h, 11) * RD_P1;
        p++;
    }
    h ^= h >> 33;
    h *= RD_P2;
    h ^= h >> 29;
    h *= RD_P3;
    h ^= h >> 32;
    return h;
}

/* splitmix64's finalizer: a bijective mixer, so distinct int64 keys never
 * collide in the full 64-bit hash, only in the table slot. */
static inline uint64_t rd_mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return x;
}

/* Days since 1970-01-01 to a proleptic Gregorian (year, month, day): H. Hinnant's
 * civil_from_days, exact for every int64 day count whose year fits in int32. */
static inline void rd_civil_from_days(int64_t z, int *year, int *month, int *day) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const uint64_t doe = (uint64_t)(z - era * 146097);
    const uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t y = (int64_t)yoe + era * 400;
    const uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const uint64_t mp = (5 * doy + 2) / 153;
    const uint64_t d = doy - (153 * mp + 2) / 5 + 1;
    const uint64_t m = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(y + (m <= 2));
    *month = (int)m;
    *day = (int)d;
}

/* The offset of the first byte of the first invalid UTF-8 sequence in s[0:len], or
 * len when all of it is valid.  Strict RFC 3629, as Python's decoder: no overlong
 * forms, no surrogates, nothing above U+10FFFF.  ASCII runs go 8 bytes at a time. */
static size_t rd_utf8_check(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8 && (rd_load64(s + i) & 0x8080808080808080ULL) == 0) {
            i += 8;
            continue;
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            i += 1;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (len - i < 2 || (s[i + 1] & 0xC0) != 0x80) return i;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (len - i < 3 || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80) return i;
            if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F)) return i;  /* overlong, surrogate */
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (len - i < 4 || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80
                    || (s[i + 3] & 0xC0) != 0x80) return i;
            if ((c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F)) return i;  /* overlong, > U+10FFFF */
            i += 4;
        } else {
            return i;
        }
    }
    return len;
}

/* True when the n bytes at p are all zero. */
static inline int rd_all_zero(const uint8_t *p, size_t n) {
    while (n >= 8) {
        if (rd_load64(p) != 0) return 0;
        p += 8;
        n -= 8;
    }
    while (n--) {
        if (*p++ != 0) return 0;
    }
    return 1;
}

/* ---- checked spans and the gather of variable-width values ------------------ */

/* The one checked-read primitive: [off, off + length) lies inside [0, size), without overflow. */
static inline int rd_span_ok(uint64_t size, uint64_t off, uint64_t length) {
    return off <= size && length <= size - off;
}

/* ... and its form for a value's offsets: a <= b <= size, so [a, b) lies inside [0, size). */
static inline int rd_range_ok(uint64_t size, uint64_t a, uint64_t b) {
    return a <= b && b <= size;
}

/* Copy n bytes without a library call for the short strings that make up most values:
 * overlapping fixed-size moves that never read outside src[0:n). */
static inline void rd_copy_short(uint8_t *dst, const uint8_t *src, size_t n) {
    uint64_t a, b;
    uint32_t c, d;
    if (n >= 8) {
        if (n > 16) { memcpy(dst, src, n); return; }
        memcpy(&a, src, 8); memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8); memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4) {
        memcpy(&c, src, 4); memcpy(&d, src + n - 4, 4);
        memcpy(dst, &c, 4); memcpy(dst + n - 4, &d, 4);
    } else {
        for (size_t i = 0; i < n; i++) dst[i] = src[i];
    }
}

/* The check of a gather (rd_gather) of m of the n values given by off (n + 1 entries) into data
 * of data_len bytes: -1 when every order[i] is a value whose offsets lie within the data (then
 * *total is the bytes gathered), else the first bad i, with *why 1 (order[i] is no value) or 2
 * (its offsets are out of order or past the data). */
static inline int64_t rd_gather_check(const uint64_t *off, int64_t n, uint64_t data_len, const int64_t *order,
                                      int64_t m, uint64_t *total, int *why) {
    uint64_t t = 0;
    for (int64_t i = 0; i < m; i++) {
        int64_t r = order[i];
        if (r < 0 || r >= n) { *why = 1; return i; }
        if (!rd_range_ok(data_len, off[r], off[r + 1])) { *why = 2; return i; }
        t += off[r + 1] - off[r];
    }
    *total = t;
    return -1;
}

#define RD_GATHER_AHEAD 16   /* values between prefetching a value's offsets and its bytes */

/* Values in a new order (checked by rd_gather_check): value i of the result is value order[i].
 * out_off gets m + 1 offsets, dst the bytes.  The random reads are prefetched two steps ahead
 * (offsets, then bytes): a gather is otherwise two dependent cache misses per value. */
static inline void rd_gather(const uint64_t *off, const uint8_t *src, const int64_t *order, int64_t m,
                             uint64_t *out_off, uint8_t *dst) {
    uint64_t pos = 0;
    out_off[0] = 0;
    for (int64_t i = 0; i < m; i++) {
        if (i + 2 * RD_GATHER_AHEAD < m) RD_PREFETCH(&off[order[i + 2 * RD_GATHER_AHEAD]]);
        if (i + RD_GATHER_AHEAD < m) RD_PREFETCH(src + off[order[i + RD_GATHER_AHEAD]]);
        uint64_t a = off[order[i]], b = off[order[i] + 1];
        rd_copy_short(dst + pos, src + a, (size_t)(b - a));
        pos += b - a;
        out_off[i + 1] = pos;
    }
}

#endif /* RODATA_C_H */
