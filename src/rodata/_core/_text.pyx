# cython: language_level=3
"""rodata's compiled text readers: CSV and JSON Lines tokenizers that write typed columns
directly, value parsers, quote-aware chunk scanning and key sorting for the ETL.

Private: the ETL (``rodata.etl``) is the public face.  Every hot loop runs without the
GIL over buffers whose lengths were checked once at the ``def`` boundary."""

import numpy as np

from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.math cimport INFINITY, NAN, floor, isinf
from libc.stdint cimport (INT64_MAX, INT64_MIN, int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t,
                          uint64_t)
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy, memset

include "includes/rodata_c.pxd"
include "includes/rodata_types.pxd"
include "includes/rodata_text.pxd"

# Status of one value or record.  V_OK is success; everything else says what is wrong.
cdef enum:
    V_OK = 0
    F_SYNTAX = 1          # the text is not a value of the column's type
    F_RANGE = 2           # a number outside the column type's range
    F_NOMEM = 3
    F_NULL_KEY = 4
    F_NULL = 5            # null in a column declared not nullable
    F_UTF8 = 6
    F_FIELDS = 7          # wrong number of fields
    F_QUOTE_IN_FIELD = 8
    F_AFTER_QUOTE = 9
    F_UNTERMINATED = 10
    F_DIM = 11            # a vector with the wrong number of values
    F_JSON = 12           # malformed JSON
    F_MISSING_KEY = 13
    F_DUP_FIELD = 14
    F_NOT_OBJECT = 15
    F_TOO_MANY_NEW = 16   # too many unknown fields in JSON Lines
    F_BAD_ESCAPE = 17
    F_NOT_IMPLEMENTED = 18  # the base Tokenizer has no record loop

# Kinds seen by inference: a column's type is resolved from the set of kinds of its values.
cdef enum:
    KIND_NULL = 1
    KIND_BOOL = 2
    KIND_INT = 4
    KIND_FLOAT = 8
    KIND_DATE = 16
    KIND_TIMESTAMP = 32
    KIND_STRING = 64
    KIND_VECTOR = 128
    KIND_VECTOR_MIXED = 256
    KIND_DATE_WIDE = 512  # a date outside what a timestamp (int64 ns) holds: a date, never a timestamp

# Column storage kinds are the type codes (includes/rodata_types.pxd, T_*), and one more:
cdef enum:
    C_INFER = NTYPES + 1  # sample mode: classify values, store nothing (not a column type)

# What feed() stopped on.
cdef enum:
    S_DONE = 0            # reached the limit or the end of the data
    S_MORE = 1            # a record runs past the buffer: feed more bytes from the returned position
    S_BAD = 2             # a bad record: details in .error(); the returned position is after it

FAIL_NAMES = {
    F_SYNTAX: "syntax", F_RANGE: "range", F_NOMEM: "memory", F_NULL_KEY: "null_key", F_NULL: "null",
    F_UTF8: "utf8", F_FIELDS: "field_count", F_QUOTE_IN_FIELD: "quote_in_field",
    F_AFTER_QUOTE: "after_quote", F_UNTERMINATED: "unterminated_quote", F_DIM: "vector_length",
    F_JSON: "json", F_MISSING_KEY: "missing_key", F_DUP_FIELD: "duplicate_field",
    F_NOT_OBJECT: "not_object", F_TOO_MANY_NEW: "too_many_fields", F_BAD_ESCAPE: "bad_escape",
}
KINDS = {"null": KIND_NULL, "bool": KIND_BOOL, "int": KIND_INT, "float": KIND_FLOAT, "date": KIND_DATE,
         "timestamp": KIND_TIMESTAMP, "string": KIND_STRING, "vector": KIND_VECTOR,
         "vector_mixed": KIND_VECTOR_MIXED, "date_wide": KIND_DATE_WIDE}
STATUS_DONE, STATUS_MORE, STATUS_BAD = S_DONE, S_MORE, S_BAD

# Type name -> storage kind, and kind -> numpy dtype, from the type table.
cdef dict _COL_KINDS = {rd_type(code).name.decode("ascii"): code for code in range(1, NTYPES + 1)}
_COL_KINDS["infer"] = C_INFER
cdef dict _DTYPES = {code: rd_type(code).dtype.decode("ascii") for code in range(1, NTYPES + 1)
                     if rd_type(code).dtype[0] != 0}


ctypedef struct Col:
    int kind
    Py_ssize_t itemsize      # bytes per row of `values` (a vector: 4 * dim)
    Py_ssize_t dim
    int64_t lo, hi           # accepted range of signed integer kinds
    bint inferred            # an inferred type: a value that does not fit widens it, never fails
    bint not_null            # declared not nullable
    bint is_key
    char *values
    uint8_t *valid           # one byte per row
    uint64_t *offsets        # strings and bytes: rows + 1
    uint8_t *data
    size_t data_len, data_cap
    int widen                # kinds seen that the type could not hold (inferred columns)
    int seen                 # kinds seen (sample mode and JSON inference)
    int pending_widen, pending_seen   # of the record being parsed, kept only if it is good
    int64_t vec_dim          # JSON inference: the length of the first numeric array (-1: none yet)
    int64_t pending_vec_dim  # ... met in the record being parsed (0: none), kept only if it is good


ctypedef struct Core:
    Col *cols
    int ncols
    int64_t nrows, cap
    int64_t *lines
    uint8_t *scratch
    size_t scratch_cap
    # null tokens (copies owned here)
    int nnull
    uint8_t **null_ptr
    Py_ssize_t *null_len
    Py_ssize_t null_maxlen
    bint empty_is_null
    uint8_t null_first[256]
    bint pending             # some column holds a pending widen/seen mask
    # the last failure
    int err_code
    Py_ssize_t err_pos
    int err_field


include "text/values.pyx"
include "text/floats.pyx"
include "text/builders.pyx"
include "text/tokenizer.pyx"
include "text/csv.pyx"
include "text/json_scan.pyx"
include "text/jsonl.pyx"
include "text/scan.pyx"
include "text/sort.pyx"
include "columns.pyx"

# The ETL's name of the gather (columns.pyx, shared with _codec): one implementation.
gather_strings = take_varwidth
