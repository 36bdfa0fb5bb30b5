/* The column types: the one table both compiled extensions read (docs/FORMAT.md, "Column types").
 *
 * A type's code is the number the compiled readers know it by (a segment's schema section stores
 * its name); codes are never renumbered.  The table is indexed by code; rodata._core.TYPE_TABLE
 * exports it to Python and rodata.schema builds on it.
 * Adding a type: a row here, then its per-type functions (see docs/design.md). */
#ifndef RODATA_TYPES_H
#define RODATA_TYPES_H

#include <stddef.h>
#include <stdint.h>

enum {
    RD_T_INT8 = 1,
    RD_T_INT16 = 2,
    RD_T_INT32 = 3,
    RD_T_INT64 = 4,
    RD_T_UINT8 = 5,
    RD_T_UINT16 = 6,
    RD_T_UINT32 = 7,
    RD_T_UINT64 = 8,
    RD_T_FLOAT32 = 9,
    RD_T_FLOAT64 = 10,
    RD_T_BOOL = 11,
    RD_T_TIMESTAMP = 12,
    RD_T_DATE = 13,
    RD_T_STRING = 14,
    RD_T_BYTES = 15,
    RD_T_VECTOR = 16,
};
#define RD_NTYPES 16

/* How a type is laid out in a segment. */
enum {
    RD_FIXED = 0,     /* one data section of rows x itemsize bytes, a zero-copy numpy view */
    RD_VARWIDTH = 1,  /* offsets (rows + 1, uint64) into a data section */
    RD_VECTOR = 2,    /* rows x dim elements of itemsize bytes, row-major */
};

/* Dates: days since 1970-01-01, years 1 to 9999. */
#define RD_MIN_DATE_DAYS (-719162LL)   /* 0001-01-01 */
#define RD_MAX_DATE_DAYS 2932896LL     /* 9999-12-31 */
/* The largest vector dimension a schema may declare. */
#define RD_MAX_VECTOR_DIM (1 << 20)

typedef struct {
    int code;
    const char *name;      /* as schemas write it (a vector: "vector", its dim stored apart) */
    int layout;            /* RD_FIXED, RD_VARWIDTH, RD_VECTOR */
    int itemsize;          /* bytes per value (a vector: per element); 0 for variable width */
    const char *dtype;     /* numpy dtype of a value (a vector: of an element); "" for variable width */
    int key;               /* a key column may be stored as this type */
    int ranged;            /* the stored integer (of an int, uint, bool, timestamp or date) has limits: */
    int64_t lo;            /* ... the least value */
    uint64_t hi;           /* ... and the greatest (uint64 reaches past int64) */
} rd_type_info;

static const rd_type_info rd_types[RD_NTYPES + 1] = {
    [0] = {0, "", RD_FIXED, 0, "", 0, 0, 0, 0},
    [RD_T_INT8] = {RD_T_INT8, "int8", RD_FIXED, 1, "<i1", 0, 1, INT8_MIN, INT8_MAX},
    [RD_T_INT16] = {RD_T_INT16, "int16", RD_FIXED, 2, "<i2", 0, 1, INT16_MIN, INT16_MAX},
    [RD_T_INT32] = {RD_T_INT32, "int32", RD_FIXED, 4, "<i4", 0, 1, INT32_MIN, INT32_MAX},
    [RD_T_INT64] = {RD_T_INT64, "int64", RD_FIXED, 8, "<i8", 1, 1, INT64_MIN, INT64_MAX},
    [RD_T_UINT8] = {RD_T_UINT8, "uint8", RD_FIXED, 1, "<u1", 0, 1, 0, UINT8_MAX},
    [RD_T_UINT16] = {RD_T_UINT16, "uint16", RD_FIXED, 2, "<u2", 0, 1, 0, UINT16_MAX},
    [RD_T_UINT32] = {RD_T_UINT32, "uint32", RD_FIXED, 4, "<u4", 0, 1, 0, UINT32_MAX},
    [RD_T_UINT64] = {RD_T_UINT64, "uint64", RD_FIXED, 8, "<u8", 0, 1, 0, UINT64_MAX},
    [RD_T_FLOAT32] = {RD_T_FLOAT32, "float32", RD_FIXED, 4, "<f4", 0, 0, 0, 0},
    [RD_T_FLOAT64] = {RD_T_FLOAT64, "float64", RD_FIXED, 8, "<f8", 0, 0, 0, 0},
    [RD_T_BOOL] = {RD_T_BOOL, "bool", RD_FIXED, 1, "?", 0, 1, 0, 1},
    [RD_T_TIMESTAMP] = {RD_T_TIMESTAMP, "timestamp", RD_FIXED, 8, "<M8[ns]", 0, 1, INT64_MIN, INT64_MAX},
    [RD_T_DATE] = {RD_T_DATE, "date", RD_FIXED, 8, "<M8[D]", 0, 1, RD_MIN_DATE_DAYS, RD_MAX_DATE_DAYS},
    [RD_T_STRING] = {RD_T_STRING, "string", RD_VARWIDTH, 0, "", 1, 0, 0, 0},
    [RD_T_BYTES] = {RD_T_BYTES, "bytes", RD_VARWIDTH, 0, "", 0, 0, 0, 0},
    [RD_T_VECTOR] = {RD_T_VECTOR, "vector", RD_VECTOR, 4, "<f4", 0, 0, 0, 0},
};

/* The row of `code`, or row 0 (name "") for a code that is no type. */
static inline const rd_type_info *rd_type(int code) {
    return (code >= 1 && code <= RD_NTYPES) ? &rd_types[code] : &rd_types[0];
}

/* An integer type (int8 ... uint64): its values are its limits' integers. */
static inline int rd_is_integer(const rd_type_info *t) {
    return t->dtype[0] == '<' && (t->dtype[1] == 'i' || t->dtype[1] == 'u');
}

#endif /* RODATA_TYPES_H */
