"""Datasets and batches as pyarrow Tables and pandas DataFrames (``to_arrow`` / ``to_pandas``).

Arrow: a part's columns are wrapped, not copied, wherever Arrow's layout is rodata's (fixed-width
numbers, timestamps, vectors, and strings and bytes as 64-bit-offset large_string / large_binary);
validity bitmaps are rebuilt (one bit per row, LSB first, as both formats have them), bools
(bit-packed in Arrow) and dates (int32 days in Arrow) are converted.

pandas, as pandas users expect: a float column's nulls are NaN; nullable integer and bool
columns (and any column of a lookup with absent keys) use pandas' nullable dtypes (``Int64``,
``boolean``, ...);
timestamps are ``datetime64[ns, UTC]`` with NaT; strings, bytes, dates and vectors are object
columns with None for null.  Writing a DataFrame back reads NaN and NaT as null, the rule a CSV
follows for ``NaN`` (docs/etl.md), so a round trip keeps every null."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rodata._core import Segment
from rodata.errors import RodataError
from rodata.schema import Column, Schema

__all__ = ["batch_to_arrow", "batch_to_pandas", "segments_to_arrow"]


def _require(module: str, extra: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise RodataError(f"{module} is not installed: pip install 'rodata[{extra}]' (or pip install {module})") \
            from None


# -- Arrow -----------------------------------------------------------------------------------


def _arrow_type(pa: Any, column: Column) -> Any:
    if column.type == "vector":
        return pa.list_(pa.float32(), column.dim)
    return {"string": pa.large_string(), "bytes": pa.large_binary(), "timestamp": pa.timestamp("ns", tz="UTC"),
            "date": pa.date32(), "bool": pa.bool_()}.get(column.type) or pa.from_numpy_dtype(column.dtype)


def _segment_column(pa: Any, seg: Segment, index: int, column: Column) -> Any:
    """One part's column as an Arrow array, wrapping the mapping where the layouts agree."""
    n = len(seg)
    valid = seg.validity_view(index)
    validity = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    if column.type in ("string", "bytes"):
        offsets, data = seg.offsets_view(index)
        return pa.Array.from_buffers(_arrow_type(pa, column), n,
                                     [validity, pa.py_buffer(offsets), pa.py_buffer(data)])
    values = seg.column_view(index)
    if column.type == "bool":
        return pa.array(values, mask=None if valid is None else ~valid)
    if column.type == "date":
        days = values.view(np.int64).astype(np.int32)
        return pa.Array.from_buffers(pa.date32(), n, [validity, pa.py_buffer(days)])
    if column.type == "vector":
        child = pa.Array.from_buffers(pa.float32(), n * column.dim, [None, pa.py_buffer(values)])
        return pa.FixedSizeListArray.from_buffers(_arrow_type(pa, column), n, [validity], children=[child])
    return pa.Array.from_buffers(_arrow_type(pa, column), n, [validity, pa.py_buffer(values)])


def segments_to_arrow(schema: Schema, segments: Sequence[Segment], columns: tuple[int, ...]) -> Any:
    """A pyarrow Table of the given columns over every part (one record batch per part)."""
    pa = _require("pyarrow", "arrow")
    fields = [pa.field(schema.columns[i].name, _arrow_type(pa, schema.columns[i]), schema.columns[i].nullable)
              for i in columns]
    arrow_schema = pa.schema(fields)
    batches = [pa.RecordBatch.from_arrays([_segment_column(pa, seg, i, schema.columns[i]) for i in columns],
                                          schema=arrow_schema) for seg in segments]
    return pa.Table.from_batches(batches, schema=arrow_schema)


def batch_to_arrow(batch: Any) -> Any:
    """A pyarrow Table of a Batch: its columns aligned with it, absent rows and nulls as nulls."""
    pa = _require("pyarrow", "arrow")
    arrays, fields = [], []
    for name in batch.names:
        column = batch.schema[name]
        arrow_type = _arrow_type(pa, column)
        values, null = batch[name], ~batch.valid(name)
        if column.type == "vector":
            flat = pa.array(np.ascontiguousarray(values, dtype=np.float32).reshape(-1))
            array = pa.FixedSizeListArray.from_arrays(flat, column.dim, mask=pa.array(null))
        elif column.type == "date":
            array = pa.array(np.asarray(values).view(np.int64).astype(np.int32), type=pa.int32(),
                             mask=null).cast(pa.date32())
        elif column.type == "timestamp":
            array = pa.array(np.asarray(values).view(np.int64), mask=null).cast(arrow_type)
        elif column.fixed_width:
            array = pa.array(np.asarray(values), type=arrow_type, mask=null)
        else:
            array = pa.array(values, type=arrow_type)
        arrays.append(array)
        fields.append(pa.field(name, arrow_type, column.nullable or bool(null.any())))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


# -- pandas ----------------------------------------------------------------------------------

_NULLABLE_INTS = {"int8": "Int8", "int16": "Int16", "int32": "Int32", "int64": "Int64", "uint8": "UInt8",
                  "uint16": "UInt16", "uint32": "UInt32", "uint64": "UInt64", "bool": "boolean"}


def _pandas_column(pd: Any, column: Column, values: Any, valid: np.ndarray[Any, Any]) -> Any:
    null = ~valid
    if not column.fixed_width:
        return pd.Series(values, dtype=object)
    if column.type == "vector":
        rows = list(np.asarray(values))
        return pd.Series([None if null[i] else rows[i] for i in range(len(rows))], dtype=object)
    if column.type == "date":
        dates = np.asarray(values).astype(object)
        dates[null] = None
        return pd.Series(dates, dtype=object)
    if column.type == "timestamp":
        stamps = np.array(values, dtype="M8[ns]")
        stamps[null] = np.datetime64("NaT")
        return pd.Series(stamps).dt.tz_localize("UTC")
    if column.type in ("float32", "float64"):
        floats = np.array(values)
        floats[null] = np.nan
        return pd.Series(floats)
    if column.nullable or null.any():
        return pd.Series(pd.array(np.asarray(values), dtype=_NULLABLE_INTS[column.type]).copy()).mask(null)
    return pd.Series(np.array(values))


def batch_to_pandas(batch: Any) -> Any:
    """A pandas DataFrame of a Batch (module docstring: how each type and its nulls appear)."""
    pd = _require("pandas", "pandas")
    data = {name: _pandas_column(pd, batch.schema[name], batch[name], batch.valid(name)) for name in batch.names}
    return pd.DataFrame(data, columns=list(batch.names))
