"""Typing of user columns: inference, declared types, nulls and clear errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from rodata._columns import coerce_columns
from rodata.errors import SchemaError


def types_of(columns: dict[str, object], declared: dict[str, object] | None = None) -> dict[str, str]:
    return {column.name: column.type_name + ("?" if column.nullable else "")
            for column, _ in coerce_columns(columns, declared)}


def test_inference_from_lists() -> None:
    assert types_of({
        "i": [1, 2], "f": [1, 2.5], "b": [True, False], "s": ["a", None], "y": [b"x", b""],
        "t": [dt.datetime(2024, 1, 1)] * 2, "d": [dt.date(2024, 1, 1)] * 2, "v": [[1.0, 2.0]] * 2,
    }) == {"i": "int64", "f": "float64", "b": "bool", "s": "string?", "y": "bytes", "t": "timestamp",
           "d": "date", "v": "vector[2]"}


def test_inference_from_numpy() -> None:
    assert types_of({
        "a": np.zeros(2, np.int16), "b": np.zeros(2, np.float32), "c": np.zeros(2, bool),
        "d": np.zeros(2, "M8[D]"), "e": np.zeros(2, "M8[s]"), "f": np.zeros((2, 3), np.float64),
        "g": np.array(["x", "y"]), "h": np.ma.masked_array([1, 2], mask=[False, True]),
    }) == {"a": "int16", "b": "float32", "c": "bool", "d": "date", "e": "timestamp", "f": "vector[3]",
           "g": "string", "h": "int64?"}


def test_declared_types_cast_and_check_ranges() -> None:
    assert types_of({"a": [1, 2]}, {"a": "int8"}) == {"a": "int8"}
    assert types_of({"a": [1, None]}, {"a": {"type": "uint16", "nullable": True}}) == {"a": "uint16?"}
    with pytest.raises(SchemaError, match="outside the range of int8"):
        coerce_columns({"a": [1, 300]}, {"a": "int8"})
    with pytest.raises(SchemaError, match="non-integral"):
        coerce_columns({"a": np.array([1.5])}, {"a": "int32"})
    with pytest.raises(SchemaError, match="unknown column type"):
        coerce_columns({"a": [1]}, {"a": "complex"})
    with pytest.raises(SchemaError, match="not in the data"):
        coerce_columns({"a": [1]}, {"b": "int8"})


def test_nulls_are_zero_in_storage_and_masked() -> None:
    ((_, col),) = coerce_columns({"a": [1, None, 3]})
    assert col.values is not None and col.values.tolist() == [1, 0, 3]
    assert col.valid is not None and col.valid.tolist() == [True, False, True]


def test_clear_errors_for_unusable_columns() -> None:
    with pytest.raises(SchemaError, match="mixed value types"):
        coerce_columns({"a": [1, "x"]})
    with pytest.raises(SchemaError, match="every value is null"):
        coerce_columns({"a": [None, None]})
    with pytest.raises(SchemaError, match="different lengths"):
        coerce_columns({"a": [1], "b": [1, 2]})
    with pytest.raises(SchemaError, match="unsupported type"):
        coerce_columns({"a": [object()]})
    with pytest.raises(SchemaError, match="every vector must have 2 values"):
        coerce_columns({"a": [[1.0, 2.0], [1.0]]})
    with pytest.raises(SchemaError, match="bad column name"):
        coerce_columns({"a/b": [1]})
