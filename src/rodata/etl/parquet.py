"""Parquet files through pyarrow (the optional extra ``rodata[parquet]``): their schema as rodata
types, their row groups, and Arrow arrays as typed columns without a Python object per value.
The reader of the format (rodata.etl.formats.parquet) plans and parses with these."""

from __future__ import annotations

from typing import Any

import numpy as np

from rodata._columns import ColumnData
from rodata.errors import BadInputError, SchemaError
from rodata.schema import MAX_DATE, MIN_DATE

__all__ = ["import_pyarrow", "parquet_fields", "row_group_ranges", "to_run_column"]


def import_pyarrow() -> Any:
    """pyarrow.parquet, or an error naming the extra that installs it."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SchemaError("reading Parquet needs pyarrow: install it with  pip install 'rodata[parquet]'") from None
    return pq


def _rodata_type(name: str, t: Any) -> tuple[str, int]:
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return "bool", 1
    if pa.types.is_integer(t):
        return str(t), 1  # int8 ... uint64, named as rodata names them
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float32", 1
    if pa.types.is_float64(t) or pa.types.is_decimal(t):
        return "float64", 1
    if pa.types.is_date(t):
        return "date", 1
    if pa.types.is_timestamp(t):
        return "timestamp", 1
    if pa.types.is_string(t) or pa.types.is_large_string(t) or getattr(pa.types, "is_string_view", _no)(t):
        return "string", 1
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "bytes", 1
    if pa.types.is_null(t):
        return "string", 1
    if pa.types.is_fixed_size_list(t) and (pa.types.is_floating(t.value_type) or pa.types.is_integer(t.value_type)):
        return "vector", t.list_size
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and (
            pa.types.is_floating(t.value_type) or pa.types.is_integer(t.value_type)):
        return "vector", -1  # the length comes from the data
    raise SchemaError(f"column {name!r}: Parquet type {t} is not supported; drop it in the schema file "
                      f"({{\"columns\": {{\"{name}\": {{\"drop\": true}}}}}})")


def _no(_t: Any) -> bool:
    return False


def parquet_fields(path: str, *, lengths: bool = True, dropped: frozenset[str] = frozenset(),
                   ) -> list[tuple[str, str, int]]:
    """(name, type, dim) of each column of a Parquet file, from its schema (and, for
    variable-length lists, the length of the first list; -1 without `lengths`).  A `dropped`
    column is never read, so its type is not looked at (any Arrow type may be dropped)."""
    pq = import_pyarrow()
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise BadInputError(f"not a readable Parquet file: {exc}", path=path) from None
    out = []
    for field in pf.schema_arrow:
        if field.name in dropped:
            out.append((field.name, "string", 1))
            continue
        type_, dim = _rodata_type(field.name, field.type)
        if type_ == "vector" and dim < 0 and lengths:
            dim = _first_list_length(pf, field.name)
        out.append((field.name, type_, dim))
    return out


def _first_list_length(pf: Any, name: str) -> int:
    for rg in range(pf.metadata.num_row_groups):
        col = pf.read_row_group(rg, columns=[name]).column(0)
        for chunk in col.chunks:
            lengths = chunk.value_lengths().drop_null()
            if len(lengths):
                return int(lengths[0].as_py())
    raise SchemaError(f"column {name!r}: a list column with no values: declare its type (vector[DIM]) "
                      "in the schema file")


def row_group_ranges(path: str, target_bytes: int) -> list[tuple[int, int]]:
    """Consecutive row groups batched to about `target_bytes` of data each."""
    pq = import_pyarrow()
    meta = pq.ParquetFile(path).metadata
    ranges: list[tuple[int, int]] = []
    start, size = 0, 0
    for rg in range(meta.num_row_groups):
        size += max(meta.row_group(rg).total_byte_size, 1)
        if size >= target_bytes:
            ranges.append((start, rg + 1))
            start, size = rg + 1, 0
    if start < meta.num_row_groups:
        ranges.append((start, meta.num_row_groups))
    return ranges


def to_run_column(arr: Any, type_: str, dim: int, name: str, path: str) -> ColumnData:
    """An Arrow array as a typed run column (values or offsets + data, and validity)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    n = len(arr)
    valid = arr.is_valid().to_numpy(zero_copy_only=False) if arr.null_count else None
    try:
        if type_ in ("string", "bytes"):
            target = pa.large_string() if type_ == "string" else pa.large_binary()
            if pa.types.is_dictionary(arr.type):
                arr = arr.dictionary_decode()
            arr = pc.fill_null(arr.cast(target), pa.scalar("" if type_ == "string" else b"", target))
            bufs = arr.buffers()
            offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
            data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.empty(0, np.uint8)
            first, last = int(offsets[0]), int(offsets[-1])
            return ColumnData(offsets=(offsets - first).astype(np.uint64), data=np.array(data[first:last]),
                             valid=valid)
        if type_ == "vector":
            return _vector(arr, dim, valid, name, path)
        if type_ == "timestamp":
            ts = arr.cast(pa.timestamp("ns", tz=arr.type.tz if pa.types.is_timestamp(arr.type) else None))
            values = pc.fill_null(ts.cast(pa.int64()), 0).to_numpy(zero_copy_only=False).view("<M8[ns]")
            return ColumnData(values=np.ascontiguousarray(values), valid=valid)
        if type_ == "date":
            days = pc.fill_null(arr.cast(pa.date32()).cast(pa.int32()), 0).to_numpy(zero_copy_only=False)
            values = days.astype(np.int64).view("<M8[D]")
            if values.size and (values.min() < MIN_DATE or values.max() > MAX_DATE):
                raise BadInputError(f"column {name!r}: dates must lie in years 1 to 9999", path=path)
            return ColumnData(values=values, valid=valid)
        arrow_type = {"bool": pa.bool_(), "float32": pa.float32(), "float64": pa.float64()}.get(
            type_) or getattr(pa, type_)()
        zero = False if type_ == "bool" else 0
        values = pc.fill_null(arr.cast(arrow_type), pa.scalar(zero, arrow_type)).to_numpy(zero_copy_only=False)
        return ColumnData(values=np.ascontiguousarray(values), valid=valid)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise BadInputError(f"column {name!r}: cannot convert to {type_}: {exc}", path=path) from None


def _vector(arr: Any, dim: int, valid: Any, name: str, path: str) -> ColumnData:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(arr)
    out = np.zeros((n, dim), dtype=np.float32)
    if pa.types.is_fixed_size_list(arr.type) and arr.type.list_size == dim and not arr.null_count:
        flat = arr.flatten().cast(pa.float32())
        if flat.null_count:
            raise BadInputError(f"column {name!r}: a vector holds a null", path=path)
        return ColumnData(values=flat.to_numpy(zero_copy_only=False).reshape(n, dim), valid=None)
    lengths = pc.fill_null(pc.list_value_length(arr), dim).to_numpy(zero_copy_only=False)
    if (lengths != dim).any():
        row = int(np.flatnonzero(lengths != dim)[0])
        raise BadInputError(f"column {name!r}: row {row + 1} holds {int(lengths[row])} numbers, expected {dim}",
                            path=path)
    present = np.flatnonzero(valid) if valid is not None else np.arange(n)
    flat = pc.list_flatten(arr).cast(pa.float32())
    if flat.null_count:
        raise BadInputError(f"column {name!r}: a vector holds a null", path=path)
    out[present] = flat.to_numpy(zero_copy_only=False).reshape(len(present), dim)
    return ColumnData(values=out, valid=valid)
