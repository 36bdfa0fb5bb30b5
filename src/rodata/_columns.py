"""Turning user columns (numpy arrays, lists, pandas or pyarrow tables) into typed, contiguous buffers."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rodata._core import take_varwidth
from rodata.errors import SchemaError
from rodata.schema import Column, parse_type

__all__ = ["ColumnData", "coerce_columns", "encode_strings"]

_INT_TYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
_FLOAT_TYPES = {"float32", "float64"}


@dataclass
class ColumnData:
    """One column's values in storage form: what a worker spills as a run, the merge reads back,
    and the part writer writes.  Its type is the schema's (carried beside it, never inside).

    Fixed-width columns have ``values`` (a contiguous array of the column's dtype,
    ``(n, dim)`` for vectors); strings and bytes have ``offsets`` (uint64, n + 1)
    and ``data`` (uint8).  ``valid`` is a bool mask, or None when nothing is null."""

    values: np.ndarray[Any, Any] | None = None
    offsets: np.ndarray[Any, Any] | None = None
    data: np.ndarray[Any, Any] | None = None
    valid: np.ndarray[Any, Any] | None = None

    def __len__(self) -> int:
        if self.values is not None:
            return int(self.values.shape[0])
        assert self.offsets is not None
        return int(self.offsets.shape[0]) - 1

    def arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        """The arrays present, by field name."""
        fields = (("values", self.values), ("offsets", self.offsets), ("data", self.data), ("valid", self.valid))
        return {name: arr for name, arr in fields if arr is not None}

    def take(self, order: np.ndarray[Any, Any]) -> ColumnData:
        """The values in a new order (order[i] is the source row of row i)."""
        valid = None if self.valid is None else np.take(self.valid, order)
        if self.values is not None:
            return ColumnData(values=np.take(self.values, order, axis=0), valid=valid)
        assert self.offsets is not None and self.data is not None
        offsets, data = take_varwidth(np.ascontiguousarray(self.offsets, dtype=np.uint64),
                                      np.ascontiguousarray(self.data, dtype=np.uint8),
                                      np.ascontiguousarray(order, dtype=np.int64))
        return ColumnData(offsets=offsets, data=data, valid=valid)

    def slice(self, lo: int, hi: int) -> ColumnData:
        """Rows [lo, hi) without copying fixed-width values."""
        valid = None if self.valid is None else self.valid[lo:hi]
        if valid is not None and valid.all():
            valid = None
        if self.values is not None:
            return ColumnData(values=self.values[lo:hi], valid=valid)
        assert self.offsets is not None and self.data is not None
        start, end = int(self.offsets[lo]), int(self.offsets[hi])
        return ColumnData(offsets=self.offsets[lo : hi + 1] - np.uint64(start), data=self.data[start:end],
                          valid=valid)

    def bytes_at(self, row: int) -> bytes:
        """The raw bytes of a variable-width value."""
        assert self.offsets is not None and self.data is not None
        return bytes(self.data[int(self.offsets[row]) : int(self.offsets[row + 1])])

    @classmethod
    def empty(cls, column: Column) -> ColumnData:
        """No rows of `column`'s type."""
        if column.fixed_width:
            shape = (0, column.dim) if column.type == "vector" else (0,)
            return cls(values=np.zeros(shape, dtype=column.dtype))
        return cls(offsets=np.zeros(1, dtype=np.uint64), data=np.zeros(0, dtype=np.uint8))


def encode_strings(values: Sequence[bytes]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Offsets (uint64, n + 1) and data (uint8) for a list of byte strings."""
    offsets = np.zeros(len(values) + 1, dtype=np.uint64)
    if values:
        np.cumsum(np.fromiter(map(len, values), dtype=np.uint64, count=len(values)), out=offsets[1:])
    data = np.frombuffer(b"".join(values), dtype=np.uint8)
    return offsets, data


def coerce_columns(columns: Any, declared: Mapping[str, Any] | None = None) -> list[tuple[Column, ColumnData]]:
    """Typed columns, (type, values) in input order, from a dict of arrays/lists, a pandas DataFrame
    or a pyarrow Table.

    `declared` maps a column name to a type name (``"int32"``, ``"vector[8]"``), a
    :class:`Column`, or ``{"type": ..., "nullable": ...}``; other columns are inferred."""
    raw = _as_mapping(columns)
    declared = dict(declared or {})
    unknown = set(declared) - set(raw)
    if unknown:
        raise SchemaError(f"schema names columns that are not in the data: {sorted(unknown)}")
    out = [_coerce_one(str(name), values, _declared_column(str(name), declared.get(name)))
           for name, values in raw.items()]
    lengths = {len(c) for _, c in out}
    if len(lengths) > 1:
        sizes = ", ".join(f"{column.name}={len(c)}" for column, c in out)
        raise SchemaError(f"columns have different lengths: {sizes}")
    return out


def _declared_column(name: str, spec: Any) -> Column | None:
    if spec is None:
        return None
    if isinstance(spec, Column):
        return spec
    if isinstance(spec, str):
        type_, dim = parse_type(spec)
        return Column(name, type_, False, dim)
    if isinstance(spec, Mapping):
        type_, dim = parse_type(str(spec["type"]))
        return Column(name, type_, bool(spec.get("nullable", False)), dim)
    raise SchemaError(f"column {name!r}: cannot read the type description {spec!r}")


def _as_mapping(columns: Any) -> Mapping[str, Any]:
    if isinstance(columns, Mapping):
        return columns
    module = type(columns).__module__.split(".")[0]
    if module == "pandas" and hasattr(columns, "columns"):
        return {str(name): columns[name] for name in columns.columns}
    if module == "pyarrow" and hasattr(columns, "column_names"):
        return {name: columns.column(name) for name in columns.column_names}
    raise SchemaError(
        f"columns must be a dict of arrays or lists, a pandas DataFrame or a pyarrow Table, not {type(columns)}"
    )


def _coerce_one(name: str, values: Any, declared: Column | None) -> tuple[Column, ColumnData]:
    module = type(values).__module__.split(".")[0]
    if module == "pyarrow":
        values = _from_arrow(values)
    elif module == "pandas":
        values = _from_pandas(values)
    if isinstance(values, np.ma.MaskedArray):
        mask: np.ndarray[Any, Any] = np.ma.getmaskarray(values)
        data = np.ma.getdata(values)
        if mask.ndim > 1:
            mask = np.asarray(mask.any(axis=tuple(range(1, mask.ndim))))
        column, col = _from_numpy(name, data, declared, nullable=bool(mask.any()))
        if mask.any():
            col.valid = ~mask
            _zero_nulls(col)
        return column, col
    if isinstance(values, np.ndarray) and values.dtype.kind not in "OUS":
        return _from_numpy(name, values, declared)
    if isinstance(values, np.ndarray):
        values = values.tolist()
    elif not isinstance(values, (list, tuple)):
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise SchemaError(f"column {name!r}: expected an array or a list, not {type(values).__name__}")
        values = list(values)
    return _from_list(name, values, declared)


def _from_arrow(values: Any) -> Any:
    if hasattr(values, "combine_chunks"):
        values = values.combine_chunks()
    import pyarrow as pa

    t = values.type
    if values.null_count == 0 and (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)):
        return values.to_numpy(zero_copy_only=False)
    if values.null_count == 0 and pa.types.is_timestamp(t):
        return values.cast(pa.timestamp("ns", tz=t.tz)).to_numpy(zero_copy_only=False)
    return values.to_pylist()


def _from_pandas(values: Any) -> Any:
    """A pandas Series as numpy (or a list): NaN in a float column and NaT are pandas' nulls,
    and read as null, the rule a CSV's ``NaN`` follows too (docs/etl.md)."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "fM":
        arr = values.to_numpy()
        missing = np.isnan(arr) if dtype.kind == "f" else np.isnat(arr)
        return np.ma.MaskedArray(arr, mask=missing) if missing.any() else arr
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":
        return values.to_numpy()
    objects = values.to_numpy(dtype=object, na_value=None)
    return [None if _is_missing(v) else v for v in objects.tolist()]


def _is_missing(v: Any) -> bool:
    return v is None or (type(v).__name__ in ("NAType", "NaTType"))


def _zero_nulls(col: ColumnData) -> None:
    if col.values is not None and col.valid is not None:
        col.values = np.array(col.values, copy=True)
        col.values[~col.valid] = 0


def _from_numpy(name: str, arr: np.ndarray[Any, Any], declared: Column | None,
                nullable: bool = False) -> tuple[Column, ColumnData]:
    kind = arr.dtype.kind
    if declared is not None:
        column = Column(name, declared.type, declared.nullable or nullable, declared.dim)
    elif arr.ndim == 2 and kind in "iuf":
        column = Column(name, "vector", nullable, int(arr.shape[1]))
    elif kind in "iu" or (kind == "f" and arr.dtype.itemsize in (4, 8)) or kind == "b":
        column = Column(name, "bool" if kind == "b" else str(arr.dtype.newbyteorder("=")), nullable)
    elif kind == "f":
        column = Column(name, "float32", nullable)
    elif kind == "M":
        unit = np.datetime_data(arr.dtype)[0]
        column = Column(name, "date" if unit in ("D", "W", "M", "Y") else "timestamp", nullable)
    else:
        raise SchemaError(f"column {name!r}: numpy dtype {arr.dtype} is not supported")
    return column, ColumnData(values=_cast(column, arr))


def _cast(column: Column, arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    name, type_ = column.name, column.type
    if type_ in ("string", "bytes"):
        raise SchemaError(f"column {name!r}: numeric values cannot be stored as {type_}")
    if type_ == "vector":
        if arr.ndim != 2 or arr.shape[1] != column.dim:
            raise SchemaError(f"column {name!r}: expected shape (n, {column.dim}), got {arr.shape}")
        return np.ascontiguousarray(arr, dtype="<f4")
    if arr.ndim != 1:
        raise SchemaError(f"column {name!r}: expected a 1-D array, got shape {arr.shape}")
    target = column.dtype
    kind = arr.dtype.kind
    if type_ in ("timestamp", "date"):
        if kind != "M":
            raise SchemaError(f"column {name!r}: {arr.dtype} values cannot be stored as {type_}")
        return np.ascontiguousarray(arr.astype(target))
    if type_ in _INT_TYPES:
        if kind == "f":
            if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.trunc(arr)):
                raise SchemaError(f"column {name!r}: non-integral floats cannot be stored as {type_}")
        elif kind not in "iub":
            raise SchemaError(f"column {name!r}: {arr.dtype} values cannot be stored as {type_}")
        info = np.iinfo(target)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            raise SchemaError(f"column {name!r}: values outside the range of {type_}")
    elif type_ in _FLOAT_TYPES and kind not in "iuf":
        raise SchemaError(f"column {name!r}: {arr.dtype} values cannot be stored as {type_}")
    elif type_ == "bool" and kind != "b" and (kind not in "iu" or (arr.size and not np.isin(arr, (0, 1)).all())):
        raise SchemaError(f"column {name!r}: {arr.dtype} values cannot be stored as bool")
    return np.ascontiguousarray(arr.astype(target, copy=False))


def _kind_of_type(t: type) -> str | None:
    """The storage kind of a Python value type, checked once per distinct type, not per value."""
    for kind, bases in _KIND_BASES:
        if issubclass(t, bases):
            return kind
    return None


_KIND_BASES: tuple[tuple[str, Any], ...] = (
    ("bool", (bool, np.bool_)),
    ("int", (int, np.integer)),
    ("float", (float, np.floating)),
    ("string", str),
    ("bytes", (bytes, bytearray, memoryview)),
    ("timestamp", (_dt.datetime, np.datetime64)),
    ("date", _dt.date),
    ("vector", (list, tuple, np.ndarray)),
)
_SINGLE_KIND_TYPES = {"bool": "bool", "int": "int64", "string": "string", "bytes": "bytes",
                      "timestamp": "timestamp", "date": "date", "vector": "vector"}


def _infer_list_type(name: str, values: Sequence[Any], value_types: set[type]) -> Column:
    kinds: set[str] = set()
    for t in value_types:
        kind = _kind_of_type(t)
        if kind is None:
            pos, bad = next((i, v) for i, v in enumerate(values) if type(v) is t)
            raise SchemaError(f"column {name!r}: value {bad!r:.60} at row {pos} has unsupported type {t.__name__}")
        kinds.add(kind)
    nullable = type(None) in value_types
    if kinds <= {"int", "float"} and "float" in kinds:
        return Column(name, "float64", nullable)
    if len(kinds) == 1:
        kind = kinds.pop()
        dim = len(next(v for v in values if v is not None)) if kind == "vector" else 1
        return Column(name, _SINGLE_KIND_TYPES[kind], nullable, dim)
    if not kinds:
        raise SchemaError(f"column {name!r}: every value is null, so its type must be declared")
    raise SchemaError(f"column {name!r}: mixed value types {sorted(kinds)}; declare the type")


def _from_list(name: str, values: Sequence[Any], declared: Column | None) -> tuple[Column, ColumnData]:
    value_types = set(map(type, values))
    has_null = type(None) in value_types
    inferred = _infer_list_type(name, values, value_types - {type(None)}) if declared is None else declared
    column = Column(name, inferred.type, inferred.nullable or has_null, inferred.dim)
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=len(values)) if has_null else None
    try:
        if column.type == "string":
            if not value_types <= {str, type(None)} and not all(isinstance(v, str) for v in values if v is not None):
                bad = next(v for v in values if v is not None and not isinstance(v, str))
                raise SchemaError(f"column {name!r}: {bad!r:.60} is not a string")
            encoded = [b"" if v is None else v.encode("utf-8") for v in values] if has_null else \
                [v.encode("utf-8") for v in values]
            offsets, data = encode_strings(encoded)
            return column, ColumnData(offsets=offsets, data=data, valid=valid)
        if column.type == "bytes":
            raw = [b"" if v is None else bytes(v) for v in values]
            offsets, data = encode_strings(raw)
            return column, ColumnData(offsets=offsets, data=data, valid=valid)
        fixed = _fixed_from_list(column, values)
    except (TypeError, ValueError, OverflowError, UnicodeError) as exc:
        if isinstance(exc, SchemaError):
            raise
        raise SchemaError(f"column {name!r}: cannot store the values as {column.type_name}: {exc}") from None
    return column, ColumnData(values=fixed, valid=valid)


def _fixed_from_list(column: Column, values: Sequence[Any]) -> np.ndarray[Any, Any]:
    if column.type == "vector":
        zero = [0.0] * column.dim
        if not values:
            return np.zeros((0, column.dim), dtype="<f4")
        for row, v in enumerate(values):
            if v is not None and len(v) != column.dim:
                raise SchemaError(f"column {column.name!r}: every vector must have {column.dim} values, "
                                  f"row {row} has {len(v)}")
        arr = np.array([zero if v is None else v for v in values], dtype="<f4")
        if arr.ndim != 2 or (len(values) and arr.shape[1] != column.dim):
            raise SchemaError(f"column {column.name!r}: every vector must have {column.dim} values")
        return arr.reshape(len(values), column.dim)
    if column.type == "timestamp":
        return np.array([_to_utc_naive(v) for v in values], dtype="datetime64[ns]").astype("<M8[ns]")
    if column.type == "date":
        return np.array([0 if v is None else _to_date(v) for v in values], dtype="datetime64[D]")
    if column.type == "bool" and any(not isinstance(v, (bool, np.bool_)) for v in values if v is not None):
        raise SchemaError(f"column {column.name!r}: bool columns take True/False values")
    if column.type in _INT_TYPES:
        if any(isinstance(v, (float, np.floating)) and not float(v).is_integer() for v in values if v is not None):
            raise SchemaError(f"column {column.name!r}: non-integral values cannot be stored as {column.type}")
        ints = [0 if v is None else int(v) for v in values]
        info = np.iinfo(column.dtype)
        if ints and (min(ints) < info.min or max(ints) > info.max):
            raise SchemaError(f"column {column.name!r}: values outside the range of {column.type}")
        return np.array(ints, dtype=column.dtype)
    return np.array([0 if v is None else v for v in values], dtype=column.dtype)


def _to_utc_naive(v: Any) -> Any:
    if v is None:
        return np.datetime64(0, "ns")
    if isinstance(v, _dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return np.datetime64(v, "ns")
    if isinstance(v, (np.datetime64, str)):
        return np.datetime64(v, "ns")  # type: ignore[call-overload]
    raise TypeError(f"{v!r:.60} is not a timestamp")


def _to_date(v: Any) -> Any:
    if isinstance(v, _dt.datetime):
        raise TypeError(f"{v!r:.60} is a timestamp, not a date")
    if isinstance(v, (_dt.date, np.datetime64, str)):
        return np.datetime64(v, "D")  # type: ignore[call-overload]
    raise TypeError(f"{v!r:.60} is not a date")
