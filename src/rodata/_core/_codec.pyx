# cython: language_level=3
"""rodata's compiled core.  Private: the public API is the pure-Python package."""

import datetime
import errno
import json
import os
import stat

import numpy as np
from orjson import loads as orjson_loads

from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES, PyBUF_WRITABLE
from cpython.bytes cimport (PyBytes_AS_STRING, PyBytes_AsStringAndSize, PyBytes_FromStringAndSize,
                            PyBytes_GET_SIZE)
from cpython.datetime cimport date_new, datetime_new, import_datetime
from cpython.dict cimport PyDict_SetItem
from cpython.list cimport PyList_New
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_AsSsize_t
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.mem cimport PyMem_Calloc, PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy
from posix.mman cimport (MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MAP_FAILED, MAP_SHARED,
                         PROT_READ, madvise, mmap, munmap)

from rodata.errors import FormatError, KeyTypeError

include "includes/rodata_c.pxd"

cdef extern from "Python.h":
    dict _PyDict_NewPresized(Py_ssize_t minused)
    const char *PyUnicode_AsUTF8AndSize(object s, Py_ssize_t *size) except NULL

import_datetime()

FORMAT_VERSION = (FORMAT_MAJOR, FORMAT_MINOR)
FORMAT_CONSTANTS = {
    "ALIGN": ALIGN, "HEADER_SIZE": HEADER_SIZE, "TRAILER_SIZE": TRAILER_SIZE,
    "DIR_ENTRY_SIZE": DIR_ENTRY_SIZE, "ENDIAN_TAG": ENDIAN_TAG, "NO_COLUMN": NO_COLUMN,
    "MAX_ROWS": MAX_ROWS, "SEC_SCHEMA": SEC_SCHEMA, "SEC_VALIDITY": SEC_VALIDITY,
    "SEC_DATA": SEC_DATA, "SEC_OFFSETS": SEC_OFFSETS, "SEC_INDEX": SEC_INDEX,
    "MAX_COLUMNS": MAX_COLUMNS, "MAX_SCHEMA_BYTES": MAX_SCHEMA_BYTES, "MAX_VECTOR_DIM": MAX_VECTOR_DIM,
}

include "checksum.pyx"
include "mapping.pyx"
include "index.pyx"
include "layout.pyx"
include "segment.pyx"
include "lookups.pyx"
include "validate.pyx"
include "columns.pyx"
include "rowjson.pyx"
include "keyjson.pyx"
