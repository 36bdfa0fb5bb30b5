/* Small C helpers of the text readers: a 64x64 -> 128-bit product and a leading-zero count,
 * for the Eisel-Lemire float parser in values.pyx. */
#ifndef RODATA_TEXT_H
#define RODATA_TEXT_H

#include <stdint.h>
#include <string.h>

static inline uint64_t rdt_mul128(uint64_t a, uint64_t b, uint64_t *hi) {
    unsigned __int128 r = (unsigned __int128)a * b;
    *hi = (uint64_t)(r >> 64);
    return (uint64_t)r;
}

static inline int rdt_clz64(uint64_t x) { return __builtin_clzll(x); }
static inline int rdt_ctz64(uint64_t x) { return __builtin_ctzll(x); }

/* Copy n bytes without a library call for the short strings that make up most fields:
 * overlapping fixed-size moves that never read outside src[0:n). */
static inline void rdt_copy_short(uint8_t *dst, const uint8_t *src, size_t n) {
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

#endif /* RODATA_TEXT_H */
