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

# The declarations every part shares, and each part's contract: _text.pxd.

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


include "text/values.pyx"
include "text/floats.pyx"
include "text/builders.pyx"
include "text/tokenizer.pyx"
include "text/csv.pyx"
include "text/json_scan.pyx"
include "text/jsonl.pyx"
include "text/scan.pyx"
include "text/sort.pyx"
