"""The reference Parquet reader of the differential suite: pyarrow reads the files; the types
follow docs/etl.md ("Parquet ... Types come from the file; lists of numbers become vectors"),
and a row with a null key, a string that is not UTF-8, or a null where the schema says not
nullable is a bad record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .ref_build import Bad, Col, Expected, Good, finish, reason
from .ref_csv import declared

_UNITS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def arrow_type(t: pa.DataType) -> tuple[str, int]:
    """The rodata (type, dim) of an Arrow type (dim -1: from the first list)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return "bool", 1
    if pa.types.is_integer(t):
        return str(t), 1
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float32", 1
    if pa.types.is_float64(t):
        return "float64", 1
    if pa.types.is_date(t):
        return "date", 1
    if pa.types.is_timestamp(t):
        return "timestamp", 1
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return "string", 1
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "bytes", 1
    if pa.types.is_fixed_size_list(t):
        return "vector", t.list_size
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "vector", -1
    raise AssertionError(f"the generator does not write {t}")


def values_of(arr: pa.ChunkedArray, type_: str) -> list[Any]:
    """The column's values in rodata's terms (strings as raw bytes, to be checked)."""
    t = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(t)
    if type_ == "string":
        return [None if v is None else v for v in arr.cast(pa.large_binary()).to_pylist()] \
            if not pa.types.is_null(t) else [None] * len(arr)
    if type_ == "timestamp":
        factor = _UNITS[t.unit]
        return [None if v is None else v * factor for v in arr.cast(pa.int64()).to_pylist()]
    if type_ == "date":
        if pa.types.is_date64(t):
            return [None if v is None else v // 86_400_000 for v in arr.cast(pa.int64()).to_pylist()]
        return arr.cast(pa.int32()).to_pylist()
    if type_ == "float32":
        return [None if v is None else np.float32(v) for v in arr.cast(pa.float32()).to_pylist()]
    if type_ == "vector":
        return [None if v is None else tuple(np.float32(x) for x in v) for v in arr.to_pylist()]
    return arr.to_pylist()


def reference(paths: Sequence[Path], *, key: str, schema: Mapping[str, Any], max_bad: int, on_duplicate: str,
              rejects: str | None, live: tuple[str, int] | None) -> Expected:
    """What building the Parquet files `paths` must give."""
    specs = {src: declared(spec) for src, spec in schema.get("columns", {}).items()}
    tables = [pq.read_table(p) for p in paths]
    columns = []
    for field in tables[0].schema:
        type_, dim, nullable, rename, drop = specs.get(field.name, (None, 1, None, None, False))
        if drop:
            continue
        name = rename or field.name
        file_type, file_dim = arrow_type(field.type)
        if type_ is None:
            type_, dim = file_type, file_dim
            if dim == -1:  # the length of the first list of the first file
                dim = next((len(v) for v in tables[0].column(field.name).to_pylist() if v is not None), -1)
                if dim == -1:
                    return Expected(error=("SchemaError", f"column {field.name!r}: a list column with no values: "
                                           "declare its type (vector[DIM]) in the schema file"))
        if name == key and type_ in ("int8", "int16", "int32", "uint8", "uint16", "uint32"):
            type_ = "int64"
        columns.append(Col(name, field.name, type_, dim, nullable, name == key))
    good, bad = [], []
    for index, (path, table) in enumerate(zip(paths, tables, strict=True)):
        data = {c.name: values_of(table.column(c.source), c.type or "") for c in columns}
        for row in range(table.num_rows):
            values, fault = {}, None
            for n, col in enumerate(columns):
                v = data[col.name][row]
                if v is None and (col.key or col.nullable is False):
                    fault = (n, reason("null_key" if col.key else "null", col.name))
                elif col.type == "string" and v is not None:
                    try:
                        v = v.decode("utf-8")
                    except UnicodeDecodeError:
                        fault = (n, reason("utf8", col.name))
                if fault:
                    break
                values[col.name] = v
            if fault:
                record = b""  # a row's JSON rendering is not compared
                bad.append(Bad(str(path), row + 1, fault[0] + 1, f"row {row + 1}: {fault[1]}", record, (index, row)))
            else:
                good.append(Good(str(path), row + 1, (index, row), values))
    return finish(columns, good, bad, key=key, max_bad=max_bad, on_duplicate=on_duplicate, rejects=rejects,
                  inferred=None, paths=[str(p) for p in paths], live=live)
