"""One JSON encoding per column type, used by every answer of the server.

A value reads the same whichever route carries it (a row, a lookup, a scan page, a
column slice) and whichever path served it.  The rules, by column type:

=================  ==================================================================
type               JSON
=================  ==================================================================
int*, uint*        a number, exact (uint64 up to 18446744073709551615)
float64            the shortest text that reads back as the same float64
float32            the shortest text that reads back as the same float32 (``0.1469``)
bool               ``true`` / ``false``
timestamp          ``"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"``: ISO 8601 in UTC, microseconds
                   (floored, as the library reads them), the fraction left out when 0
date               ``"YYYY-MM-DD"``
string             a JSON string (control characters, ``"`` and ``\\`` escaped)
bytes              a base64 string (RFC 4648, standard alphabet, with padding)
vector[N]          an array of N float32 numbers, each as a float32 above
null               ``null``
NaN, +-Infinity    ``null`` (JSON has no such numbers), in floats and vectors alike
=================  ==================================================================

:func:`value_json` is the definition: the text of one value as the library reads
it (``Dataset.get``).  Rows and lookups are written by the compiled renderer
(``_core/rowjson.pyx`` over ``includes/rodata_json.h``) straight from the mapped
columns, byte for byte this text (``tests/core/test_rowjson.py`` compares them);
scans, and rows that are mostly long vectors, convert each library value with
:func:`converter` and let orjson write the document; column slices are encoded a
whole array at a time by :func:`column_json`, which writes the same text
(checked value by value by the test suite).  :func:`max_value_bytes` bounds the
text of one fixed-width value, so that an answer's size can be known before it
is built."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson

from rodata.errors import FormatError
from rodata.schema import MAX_DATE_DAYS, MIN_DATE_DAYS, Column

__all__ = [
    "JSON_OPTIONS",
    "column_json",
    "converter",
    "dumps",
    "fix_rows",
    "json_default",
    "max_value_bytes",
    "value_json",
]

#: numpy arrays and scalars natively (float32 as float32), aware and naive datetimes as UTC with a ``Z``.
JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC

#: The longest text of one value of each fixed-width type ("null" included), quotes included.
_MAX_BYTES = {
    "int8": 4, "int16": 6, "int32": 11, "int64": 20,      # "-128", ..., "-9223372036854775808"
    "uint8": 4, "uint16": 5, "uint32": 10, "uint64": 20,  # "null" is 4
    "float32": 16,  # "-0.0000012345678": a sign, "0.0000" and 9 significant digits
    "float64": 24,  # "-0.000012345678901234568", "-2.2250738585072014e-308"
    "bool": 5,
    "timestamp": 29,  # "\"1677-09-21T00:12:43.145224Z\""
    "date": 12,  # "\"9999-12-31\""
}
#: Types whose ``ndarray.tolist()`` values orjson writes exactly as it writes the array itself.
_TOLIST_EXACT = frozenset(("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float64",
                           "bool"))


def json_default(value: Any) -> Any:
    """What orjson cannot encode on its own (bytes in documents that are not rows, odd arrays)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, np.ndarray):  # not C-contiguous: orjson wants a contiguous array
        return np.ascontiguousarray(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> bytes:
    """JSON bytes of a document whose values were converted by :func:`converter` (or need none)."""
    return orjson.dumps(value, default=json_default, option=JSON_OPTIONS)


# -- one value ---------------------------------------------------------------------------


def _bytes(value: Any) -> Any:
    return base64.b64encode(value).decode("ascii")


# The library reads a float32 as the Python float of the same value; as a numpy float32 orjson
# writes the shortest text that reads back as that float32.
_CONVERTERS: dict[str, Callable[[Any], Any]] = {"float32": np.float32, "bytes": _bytes}


def converter(column: Column) -> Callable[[Any], Any] | None:
    """The function that turns a (non-null) library value of `column` into what orjson writes as
    the one text of that value; None when the library value is written as it is (most types: a
    vector is read as a float32 array, which orjson writes as float32 numbers)."""
    return _CONVERTERS.get(column.type)


def value_json(column: Column, value: Any) -> bytes:
    """The JSON text of one value of `column` as the library reads it (None for null)."""
    if column.type == "vector" and value is not None:
        return dumps(np.ascontiguousarray(value, dtype=np.float32))
    convert = converter(column)
    return dumps(value if convert is None or value is None else convert(value))


def max_value_bytes(column: Column) -> int:
    """The longest JSON text of one value of a fixed-width `column` (``null`` included)."""
    if column.type == "vector":
        return 2 + column.dim * _MAX_BYTES["float32"] + (column.dim - 1)
    return _MAX_BYTES[column.type]


# -- a whole column slice ---------------------------------------------------------------------


def column_json(column: Column, values: Any, valid: np.ndarray[Any, Any] | None = None) -> bytes:
    """A JSON array of a column slice: `values` as ``Dataset.column`` gives them (an array for
    fixed-width types, a list with None for nulls otherwise) and, for a fixed-width column,
    `valid` (True where not null; None when nothing is null).  Each element is written exactly
    as :func:`value_json` writes that value."""
    kind = column.type
    if kind == "string":
        return dumps(values)
    if kind == "bytes":
        return dumps([None if v is None else base64.b64encode(v).decode("ascii") for v in values])
    if valid is not None and valid.all():
        valid = None
    if kind == "date":
        return dumps(_with_nulls(_date_strings(values), valid))
    if valid is None:
        return dumps(np.ascontiguousarray(values))  # numbers, bools, timestamps, vectors: natively
    # Python ints, floats and bools write like the array's own values; float32 (scalars and
    # vectors) and timestamps stay numpy objects so that they write as float32 and ISO 8601.
    items = values.tolist() if kind in _TOLIST_EXACT else list(np.ascontiguousarray(values))
    return dumps(_with_nulls(items, valid))


def _with_nulls(items: list[Any], valid: np.ndarray[Any, Any] | None) -> list[Any]:
    if valid is not None:
        for i in np.flatnonzero(~valid).tolist():
            items[i] = None
    return items


def _date_strings(values: np.ndarray[Any, Any]) -> list[str]:
    """``YYYY-MM-DD`` for each day: straight from the day numbers (no nanosecond conversion, so
    every date from 0001-01-01 to 9999-12-31 is written)."""
    days = values.view(np.int64)
    if len(days) and (int(days.min()) < MIN_DATE_DAYS or int(days.max()) > MAX_DATE_DAYS):
        bad = int(days[(days < MIN_DATE_DAYS) | (days > MAX_DATE_DAYS)][0])
        raise FormatError(f"date {bad} days from 1970-01-01 is outside 0001-01-01..9999-12-31")
    out: list[str] = np.datetime_as_string(values.astype("M8[D]", copy=False), unit="D").tolist()
    return out


def fix_rows(rows: Sequence[dict[str, Any] | None], fixes: Sequence[tuple[str, Callable[[Any], Any]]],
             arrays: Mapping[str, Any] | None = None) -> None:
    """Convert, in place, the values of the columns in `fixes` (``(name, converter)``) of every row.

    A column whose values are also given in `arrays` (aligned with `rows`, as a batch has them:
    a float32 array) takes them from there: the array's own elements, no conversion per value."""
    for name, convert in fixes:
        if arrays is not None and name in arrays:
            for row, value in zip(rows, list(arrays[name]), strict=True):
                if row is not None and row[name] is not None:
                    row[name] = value
            continue
        for row in rows:
            if row is not None:
                value = row[name]
                if value is not None:
                    row[name] = convert(value)
