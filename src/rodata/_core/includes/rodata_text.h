/* Small C helpers of the text readers (_text): a 64x64 -> 128-bit product and leading/trailing
 * zero counts, for the Eisel-Lemire float parser (text/floats.pyx) and the CSV scanner. */
#ifndef RODATA_TEXT_H
#define RODATA_TEXT_H

#include <stdint.h>

static inline uint64_t rdt_mul128(uint64_t a, uint64_t b, uint64_t *hi) {
    unsigned __int128 r = (unsigned __int128)a * b;
    *hi = (uint64_t)(r >> 64);
    return (uint64_t)r;
}

static inline int rdt_clz64(uint64_t x) { return __builtin_clzll(x); }
static inline int rdt_ctz64(uint64_t x) { return __builtin_ctzll(x); }

#endif /* RODATA_TEXT_H */
