/* JSON text of column values, written in C exactly as rodata.encode defines it (the text orjson
 * writes for the library's values): the compiled row renderer (_core/rowjson.pyx) builds rows with
 * these.  No allocation but the growing output buffer; nothing here needs the GIL. */
#ifndef RODATA_JSON_H
#define RODATA_JSON_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rodata_c.h"
#include "rodata_pow10.h"

/* ---- the output buffer: starts in caller storage, grows on the heap ------------------------- */

typedef struct {
    char *p;
    size_t len;
    size_t cap;
    int heap;      /* p was malloc'd (else it is the caller's storage) */
} rd_jbuf;

static inline void rd_jb_init(rd_jbuf *b, char *storage, size_t cap) {
    b->p = storage;
    b->len = 0;
    b->cap = cap;
    b->heap = 0;
}

static inline void rd_jb_free(rd_jbuf *b) {
    if (b->heap) free(b->p);
    b->p = NULL;
    b->heap = 0;
}

/* Room for `more` bytes past len: 0, or -1 when the size overflows or memory is short. */
static int rd_jb_grow(rd_jbuf *b, size_t more) {
    if (more > SIZE_MAX / 2 - b->len) return -1;
    size_t want = b->len + more;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want) cap = cap > SIZE_MAX / 4 ? want : cap * 2;
    char *q;
    if (b->heap) {
        q = (char *)realloc(b->p, cap);
    } else {
        q = (char *)malloc(cap);
        if (q != NULL && b->len) memcpy(q, b->p, b->len);
    }
    if (q == NULL) return -1;
    b->p = q;
    b->cap = cap;
    b->heap = 1;
    return 0;
}

static inline int rd_jb_reserve(rd_jbuf *b, size_t more) {
    return (more <= b->cap - b->len) ? 0 : rd_jb_grow(b, more);
}

/* n * k + extra, or SIZE_MAX when it overflows (a reservation that then fails). */
static inline size_t rd_jb_size(size_t n, size_t k, size_t extra) {
    if (n > (SIZE_MAX - extra) / k) return SIZE_MAX;
    return n * k + extra;
}

/* ---- numbers -------------------------------------------------------------------------------- */

/* Decimal digits of u at out; returns their count (at most 20). */
static inline size_t rd_json_u64(char *out, uint64_t u) {
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

static inline size_t rd_json_i64(char *out, int64_t v) {
    if (v < 0) {
        out[0] = '-';
        return 1 + rd_json_u64(out + 1, (uint64_t)0 - (uint64_t)v);
    }
    return rd_json_u64(out, (uint64_t)v);
}

/* The shortest decimal digits that read back as `v` (positive, finite): digits at dig (no
 * trailing zeros), their count returned, *exp10 the exponent of the first digit.
 * Precision starts at DBL_DIG (15; FLT_DIG, 6, for a float32): every decimal of at most that
 * many digits reads as a float that prints back as that decimal, so when v's text at that
 * precision reads back as v, it is the shortest, trailing zeros stripped (a subnormal, which
 * holds fewer bits, starts at one digit).  Else precision rises
 * until the correctly rounded text reads back; at a power of two the lower half-gap is
 * narrower, so the neighbour above the rounded digits is tried too (the shortest text in the
 * rounding interval, which is what orjson writes).  `single`: read back as a float32. */
static int rd_shortest(double v, int single, char *dig, int *exp10) {
    char buf[40], alt[40];
    int maxp = single ? 9 : 17;
    /* a subnormal has fewer bits than DBL_DIG needs: its search starts at one digit */
    int from = single ? (v < 1.17549435e-38 ? 1 : 6) : (v < 2.2250738585072014e-308 ? 1 : 15);
    for (int p = from; p <= maxp; p++) {
        int len = snprintf(buf, sizeof buf, "%.*e", p - 1, v);
        if (len <= 0 || len >= (int)sizeof buf) return 0;
        int ok = single ? (strtof(buf, NULL) == (float)v) : (strtod(buf, NULL) == v);
        const char *e = strchr(buf, 'e');
        if (e == NULL) return 0;
        if (!ok && p < maxp) {
            /* the next p-digit number above: add one to the last digit, carrying */
            memcpy(alt, buf, (size_t)len + 1);
            char *q = alt + (e - buf) - 1;
            int expo = atoi(e + 1);
            for (;;) {
                if (*q < '0' || *q > '9') { q--; continue; }  /* the decimal point, whatever the locale */
                if (*q == '9') { *q = '0'; if (q == alt) break; q--; continue; }
                (*q)++;
                break;
            }
            if (alt[0] == '0') { /* 9.99 -> 10.0: one more power of ten */
                alt[0] = '1';
                expo += 1;
                snprintf(alt + (e - buf), sizeof alt - (size_t)(e - buf), "e%d", expo);
            }
            ok = single ? (strtof(alt, NULL) == (float)v) : (strtod(alt, NULL) == v);
            if (ok) {
                memcpy(buf, alt, sizeof buf);
                e = strchr(buf, 'e');
            }
        }
        if (!ok && p < maxp) continue;
        int n = 0;
        for (const char *s = buf; s < e; s++)
            if (*s >= '0' && *s <= '9') dig[n++] = *s;
        while (n > 1 && dig[n - 1] == '0') n--;
        *exp10 = atoi(e + 1);
        return n;
    }
    return 0;
}

/* The fast path of rd_shortest for the float64 values most data holds (2.0, 227.5, 0.1469): v
 * (positive, normal) as r / 10^k for an integer r of at most DBL_DIG digits.  Such an r that reads
 * back as v is the shortest text (the uniqueness above).  The test is exact: IEEE division rounds
 * r / 10^k (both exact) as strtod rounds the decimal.  0 when no such r is found. */
static int rd_short_decimal(double v, char *dig, int *exp10) {
    for (int k = 0; k <= 22; k++) {
        double m = v * rd_pow10[k];
        if (m >= 1e15) return 0;
        if (m < 0.5) continue;
        double r = (double)(uint64_t)(m + 0.5);
        if (r / rd_pow10[k] != v) continue;
        int n = (int)rd_json_u64(dig, (uint64_t)r);
        *exp10 = n - 1 - k;
        while (n > 1 && dig[n - 1] == '0') n--;
        return n;
    }
    return 0;
}

/* Whether a p-digit decimal reads back as float32 v, by arithmetic in double, whose errors
 * (2^-51 of the scaled value: a power of ten rounded, a product rounded) are far below float32's
 * rounding interval (2^-25 of it): the integer r nearest to v * 10^s (and r + 1 at a power of two, where the interval [v - down, v + up] is
 * lopsided) is tested against the interval.  1: inside (*r, *s set), -1: no p-digit decimal is
 * inside, 0: a comparison fell within a tolerance of its edge (a tie, a candidate on the boundary),
 * left to rd_shortest.  *e is the decimal exponent of v's first digit, corrected here. */
static int rd_f32_digits(double v, double up, double down, int p, int *e, uint64_t *r, int *s) {
    int sc = p - 1 - *e;
    if (sc < -63 || sc > 63) return 0;
    double m = v * rd_p10x[sc + 64];
    if (m < rd_pow10[p - 1]) { *e -= 1; sc += 1; m = v * rd_p10x[sc + 64]; }
    else if (m >= rd_pow10[p]) { *e += 1; sc -= 1; m = v * rd_p10x[sc + 64]; }
    if (m < rd_pow10[p - 1] || m >= rd_pow10[p]) return 0;
    double tol = m * (1.0 / 281474976710656.0);  /* 2^-48 of m: 16 times the error */
    double fl = (double)(uint64_t)m;  /* floor: m is positive and below 10^9 */
    if (fabs(m - fl - 0.5) <= tol) return 0;
    double cand = (double)(uint64_t)(m + 0.5);
    for (int tries = 0; tries < 2; tries++) {
        double diff = cand - m;
        double edge = (diff >= 0 ? up : down) * rd_p10x[sc + 64];
        double dist = fabs(diff);
        if (fabs(dist - edge) <= tol) return 0;
        if (dist < edge) {
            *r = (uint64_t)cand;
            *s = sc;
            return 1;
        }
        if (diff >= 0) break;  /* above and outside: nothing nearer is inside at p digits */
        cand += 1;
    }
    return -1;
}

/* The shortest text of a normal float32 `f` (rd_shortest's contract), or 0 to leave it to
 * rd_shortest.  Being inside at p digits implies being inside at p + 1, so the search goes down
 * from 8 digits (most float32 values need 8 or 9) to the first p that fails; at 6 digits a
 * decimal inside is the shortest (FLT_DIG). */
static int rd_short_f32(float f, char *dig, int *exp10) {
    double v = f;
    uint32_t bits, nb;
    float next, prev;
    memcpy(&bits, &f, 4);
    nb = bits + 1;  /* the neighbours of a positive normal float are its bit patterns +- 1 */
    memcpy(&next, &nb, 4);
    nb = bits - 1;
    memcpy(&prev, &nb, 4);
    double down = (v - (double)prev) / 2;
    double up = isinf(next) ? down : ((double)next - v) / 2;  /* above the largest: its ulp again */
    int bexp = (int)((bits >> 23) & 0xFF) - 127;  /* v = 1.x * 2^bexp */
    int e = (int)(bexp * 0.30102999566398120);  /* trunc: off by one at most, corrected */
    if (bexp < 0) e -= 1;
    uint64_t r = 0, best_r = 0;
    int sc = 0, best_s = 0, p = 8, st = rd_f32_digits(v, up, down, 8, &e, &r, &sc);
    if (st == 0) return 0;
    if (st < 0) {
        if (rd_f32_digits(v, up, down, 9, &e, &r, &sc) != 1) return 0;
        best_r = r;
        best_s = sc;
    } else {
        best_r = r;
        best_s = sc;
        for (p = 7; p >= 6; p--) {
            st = rd_f32_digits(v, up, down, p, &e, &r, &sc);
            if (st == 0) return 0;
            if (st < 0) break;
            best_r = r;
            best_s = sc;
        }
    }
    int n = (int)rd_json_u64(dig, best_r);
    *exp10 = n - 1 - best_s;
    while (n > 1 && dig[n - 1] == '0') n--;
    return n;
}

/* rd_f32_digits' test for a float64, in long double (x87: 64-bit mantissas, errors 2^-62 of the
 * scaled value against a rounding interval of 2^-55 of it at least).  Where long double is no
 * wider than double, the tolerance covers every interval and everything is left to rd_shortest. */
static int rd_f64_digits(double v, long double up, long double down, int p, int *e, uint64_t *r, int *s) {
    int sc = p - 1 - *e;
    if (sc < -329 || sc > 329) return 0;
    long double m = (long double)v * rd_p10l[sc + 330];
    if (m < rd_pow10[p - 1]) { *e -= 1; sc += 1; m = (long double)v * rd_p10l[sc + 330]; }
    else if (m >= rd_pow10[p]) { *e += 1; sc -= 1; m = (long double)v * rd_p10l[sc + 330]; }
    if (m < rd_pow10[p - 1] || m >= rd_pow10[p]) return 0;
    long double tol = m * (LDBL_EPSILON * 16);
    long double fl = (long double)(uint64_t)m;  /* floor: m is positive and below 10^17 */
    if (fabsl(m - fl - 0.5L) <= tol) return 0;
    long double cand = (long double)(uint64_t)(m + 0.5L);
    for (int tries = 0; tries < 2; tries++) {
        long double diff = cand - m;
        long double edge = (diff >= 0 ? up : down) * rd_p10l[sc + 330];
        long double dist = fabsl(diff);
        if (fabsl(dist - edge) <= tol) return 0;
        if (dist < edge) {
            *r = (uint64_t)cand;
            *s = sc;
            return 1;
        }
        if (diff >= 0) break;
        cand += 1;
    }
    return -1;
}

/* The shortest text of a normal float64 (rd_shortest's contract), or 0 to leave it to
 * rd_shortest: 16 digits, then 17 if no 16-digit decimal is inside, or 15 if one is (at 15 a
 * decimal inside is the shortest: DBL_DIG). */
static int rd_short_f64(double v, char *dig, int *exp10) {
    uint64_t bits, nb;
    double next, prev;
    memcpy(&bits, &v, 8);
    nb = bits + 1;
    memcpy(&next, &nb, 8);
    nb = bits - 1;
    memcpy(&prev, &nb, 8);
    long double down = ((long double)v - (long double)prev) / 2;
    long double up = isinf(next) ? down : ((long double)next - (long double)v) / 2;
    int bexp = (int)((bits >> 52) & 0x7FF) - 1023;
    int e = (int)(bexp * 0.30102999566398120);
    if (bexp < 0) e -= 1;
    uint64_t r = 0, best_r;
    int sc = 0, best_s;
    int st = rd_f64_digits(v, up, down, 16, &e, &r, &sc);
    if (st == 0) return 0;
    if (st < 0) {
        if (rd_f64_digits(v, up, down, 17, &e, &r, &sc) != 1) return 0;
        best_r = r;
        best_s = sc;
    } else {
        best_r = r;
        best_s = sc;
        st = rd_f64_digits(v, up, down, 15, &e, &r, &sc);
        if (st == 0) return 0;
        if (st > 0) {
            best_r = r;
            best_s = sc;
        }
    }
    int n = (int)rd_json_u64(dig, best_r);
    *exp10 = n - 1 - best_s;
    while (n > 1 && dig[n - 1] == '0') n--;
    return n;
}

/* A float as orjson writes it: shortest round trip, "1.0" for integers, "0.00001" above the
 * low threshold, "1e-7" / "1.5e+16" outside; NaN and infinities as null.  `single` selects
 * float32's thresholds (decimal for 1e-6 <= |v| < 1e13) over float64's (1e-5 <= |v| < 1e16).
 * Writes at most 32 bytes. */
static size_t rd_json_float(char *out, double v, int single) {
    char dig[20];
    char *o = out;
    if (isnan(v) || isinf(v)) {
        memcpy(out, "null", 4);
        return 4;
    }
    if (signbit(v)) {
        *o++ = '-';
        v = -v;
    }
    if (v == 0.0) {
        memcpy(o, "0.0", 3);
        return (size_t)(o - out) + 3;
    }
    int e10 = 0;
    int n = 0;
    if (!single) {
        n = rd_short_decimal(v, dig, &e10);
        if (n == 0 && v >= 2.2250738585072014e-308) n = rd_short_f64(v, dig, &e10);  /* a normal float64 */
    } else if (v >= 1.17549435e-38) n = rd_short_f32((float)v, dig, &e10);  /* a normal float32 */
    if (n == 0) n = rd_shortest(v, single, dig, &e10);
    if (n <= 0) { /* cannot happen for a finite double; write it in full rather than nothing */
        return (size_t)(o - out) + (size_t)snprintf(o, 30, "%.17g", v);
    }
    int kk = e10 + 1;                      /* digits before the decimal point */
    int maxk = single ? 13 : 16, mink = single ? -6 : -5;
    if (kk >= n && kk <= maxk) {           /* an integer: digits, zeros, ".0" */
        memcpy(o, dig, (size_t)n);
        o += n;
        for (int i = n; i < kk; i++) *o++ = '0';
        *o++ = '.';
        *o++ = '0';
    } else if (kk > 0 && kk <= maxk) {     /* the point inside the digits */
        memcpy(o, dig, (size_t)kk);
        o += kk;
        *o++ = '.';
        memcpy(o, dig + kk, (size_t)(n - kk));
        o += n - kk;
    } else if (kk > mink && kk <= 0) {     /* 0.000ddd */
        *o++ = '0';
        *o++ = '.';
        for (int i = kk; i < 0; i++) *o++ = '0';
        memcpy(o, dig, (size_t)n);
        o += n;
    } else {                               /* d.ddde+X, de-X */
        *o++ = dig[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)(n - 1));
            o += n - 1;
        }
        *o++ = 'e';
        *o++ = e10 < 0 ? '-' : '+';
        o += rd_json_u64(o, (uint64_t)(e10 < 0 ? -e10 : e10));
    }
    return (size_t)(o - out);
}

/* ---- dates and timestamps ------------------------------------------------------------------- */

static inline char *rd_json_digits(char *o, int v, int width) {
    for (int i = width - 1; i >= 0; i--) {
        o[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return o + width;
}

/* YYYY-MM-DD (unquoted) of a day number in 0001-01-01..9999-12-31: 10 bytes. */
static inline char *rd_json_ymd(char *o, int64_t days) {
    int y, m, d;
    rd_civil_from_days(days, &y, &m, &d);
    o = rd_json_digits(o, y, 4);
    *o++ = '-';
    o = rd_json_digits(o, m, 2);
    *o++ = '-';
    return rd_json_digits(o, d, 2);
}

/* "YYYY-MM-DD" (quoted): 12 bytes. */
static inline size_t rd_json_date(char *out, int64_t days) {
    char *o = out;
    *o++ = '"';
    o = rd_json_ymd(o, days);
    *o++ = '"';
    return (size_t)(o - out);
}

static inline int64_t rd_floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}

/* "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" (quoted) of int64 nanoseconds since the epoch, floored to
 * microseconds as the library reads them: at most 29 bytes. */
static inline size_t rd_json_timestamp(char *out, int64_t ns) {
    int64_t us = rd_floordiv(ns, 1000);
    int64_t days = rd_floordiv(us, 86400000000LL);
    int64_t rest = us - days * 86400000000LL;
    char *o = out;
    *o++ = '"';
    o = rd_json_ymd(o, days);
    *o++ = 'T';
    o = rd_json_digits(o, (int)(rest / 3600000000LL), 2);
    *o++ = ':';
    o = rd_json_digits(o, (int)(rest / 60000000LL % 60), 2);
    *o++ = ':';
    o = rd_json_digits(o, (int)(rest / 1000000LL % 60), 2);
    int frac = (int)(rest % 1000000LL);
    if (frac) {
        *o++ = '.';
        o = rd_json_digits(o, frac, 6);
    }
    *o++ = 'Z';
    *o++ = '"';
    return (size_t)(o - out);
}

/* ---- strings and bytes ---------------------------------------------------------------------- */

/* A JSON string of UTF-8 s[0:n] as orjson escapes it: '"', '\\' and the control characters
 * below 0x20 (\b \t \n \f \r, the rest as \u00xx), nothing else (DEL, U+2028 and non-ASCII
 * as they are).  Writes at most 6 n + 2 bytes. */
static size_t rd_json_string(char *out, const uint8_t *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] != '"' && s[run] != '\\') run++;
        if (run > i) {
            memcpy(o, s + i, run - i);
            o += run - i;
            i = run;
            if (i == n) break;
        }
        uint8_t c = s[i++];
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\t': *o++ = 't'; break;
        case '\n': *o++ = 'n'; break;
        case '\f': *o++ = 'f'; break;
        case '\r': *o++ = 'r'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    return (size_t)(o - out);
}

/* Base64 (RFC 4648, standard alphabet, padded) of s[0:n], quoted: 4 ceil(n / 3) + 2 bytes. */
static size_t rd_json_base64(char *out, const uint8_t *s, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = out;
    *o++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8) | s[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = '=';
    }
    *o++ = '"';
    return (size_t)(o - out);
}

#endif /* RODATA_JSON_H */
