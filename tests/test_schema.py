"""Column and Schema: type names, validation and JSON round trips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata._core import FORMAT_CONSTANTS, TYPE_TABLE
from rodata.errors import SchemaError, UnknownColumnError
from rodata.schema import (
    FIXED_TYPES,
    KEY_TYPES,
    KEY_WIDENING_TYPES,
    MAX_DATE,
    MAX_DATE_DAYS,
    MAX_VECTOR_DIM,
    MIN_DATE,
    MIN_DATE_DAYS,
    TYPE_INFO,
    TYPES,
    VAR_TYPES,
    Column,
    Schema,
    key_storage_type,
    parse_type,
)


def test_parse_type_names_and_aliases() -> None:
    assert parse_type("int64") == ("int64", 1)
    assert parse_type(" Vector[128] ") == ("vector", 128)
    assert parse_type("str") == ("string", 1)
    for bad in ["vector[0]", "vector[x]", "int128", ""]:
        with pytest.raises(SchemaError):
            parse_type(bad)


def test_schema_json_round_trip_and_lookup() -> None:
    schema = Schema((Column("k", "string"), Column("e", "vector", True, 8), Column("n", "int32")), "k")
    again = Schema.from_json(schema.to_json(), "k")
    assert again == schema
    assert schema.to_json()[1] == {"name": "e", "type": "vector[8]", "nullable": True}
    assert schema.index("n") == 2 and schema["e"].dim == 8 and "e" in schema
    with pytest.raises(UnknownColumnError, match="unknown column 'zz'; columns are k, e, n"):
        schema.index("zz")


def test_key_rules() -> None:
    with pytest.raises(SchemaError, match="int64 or string"):
        Schema((Column("k", "float64"),), "k")
    with pytest.raises(SchemaError, match="cannot be nullable"):
        Schema((Column("k", "int64", True),), "k")
    with pytest.raises(SchemaError, match="duplicate column name"):
        Schema((Column("k", "int64"), Column("k", "int8")), "k")
    with pytest.raises(SchemaError, match="only vector columns"):
        Column("x", "int8", dim=3)


# -- the type table's Python face ------------------------------------------------------------


def _dtype_of(name: str) -> np.dtype[Any] | None:
    """What numpy itself calls each type (independent of the table)."""
    if name in ("string", "bytes"):
        return None
    if name == "vector":
        return np.dtype(np.float32)
    if name == "bool":
        return np.dtype(np.bool_)
    if name in ("timestamp", "date"):
        return np.dtype("M8[ns]" if name == "timestamp" else "M8[D]")
    return np.dtype(name)


def test_schema_names_are_the_tables() -> None:
    assert [t["name"] for t in TYPE_TABLE] == list(TYPES)
    assert {t["name"]: t for t in TYPE_TABLE} == TYPE_INFO
    for name in TYPES:
        expected = _dtype_of(name)
        if expected is None:
            assert name in VAR_TYPES and name not in FIXED_TYPES
        elif name == "vector":
            assert name not in FIXED_TYPES and TYPE_INFO[name]["dtype"] is not None
            assert np.dtype(TYPE_INFO[name]["dtype"]) == expected
        else:
            assert np.dtype(FIXED_TYPES[name]) == expected
            assert Column("c", name).dtype == expected
    assert FORMAT_CONSTANTS["MAX_VECTOR_DIM"] == MAX_VECTOR_DIM
    assert parse_type(f"vector[{MAX_VECTOR_DIM}]") == ("vector", MAX_VECTOR_DIM)
    with pytest.raises(SchemaError):
        parse_type(f"vector[{MAX_VECTOR_DIM + 1}]")


def test_date_limits_are_years_1_to_9999() -> None:
    assert np.datetime64("0001-01-01") == MIN_DATE and np.datetime64("9999-12-31") == MAX_DATE
    assert MIN_DATE.astype(np.int64) == MIN_DATE_DAYS and MAX_DATE.astype(np.int64) == MAX_DATE_DAYS


def _fits_int64(name: str) -> bool:
    dtype = _dtype_of(name)
    if dtype is None or dtype.kind not in "iu":
        return False
    info = np.iinfo(dtype)
    return bool(info.min >= np.iinfo(np.int64).min and info.max <= np.iinfo(np.int64).max)


@pytest.mark.parametrize("name", TYPES)
def test_the_key_rule_for_every_type(name: str, tmp_path: Path) -> None:
    """key_storage_type agrees with numpy's ranges and with what rodata.write stores as the key."""
    stored = key_storage_type(name)
    if name in ("int64", "string"):
        assert stored == name
    elif _fits_int64(name):
        assert stored == "int64" and name in KEY_WIDENING_TYPES
    else:
        assert stored is None and name not in KEY_WIDENING_TYPES
    dtype = _dtype_of(name)
    if name in ("string", "bytes"):
        values: Any = ["a", "b"] if name == "string" else [b"a", b"b"]
    elif name == "vector":
        values = np.eye(2, dtype=np.float32)
    else:
        assert dtype is not None
        values = np.array([0, 1]).astype(dtype)
    declared = "vector[2]" if name == "vector" else name
    if stored is None and name != "uint64":  # rodata.write also takes a uint64 key whose values fit int64
        with pytest.raises(SchemaError, match="key column"):
            rodata.write(tmp_path, "ds", {"k": values}, key="k", schema={"k": declared})
        return
    rodata.write(tmp_path, "ds", {"k": values}, key="k", schema={"k": declared})
    with rodata.open(tmp_path / "ds") as ds:
        assert ds.schema.key_column.type == (stored or "int64")
        assert ds.schema.key_column.type in KEY_TYPES
