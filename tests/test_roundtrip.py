"""Property tests: whatever columns go in through rodata.write come back out exactly."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rodata

INT_RANGES = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}
UTC = dt.timezone.utc

int64s = st.integers(-(2**63), 2**63 - 1)
texts = st.text(st.characters(codec="utf-8"), max_size=12)


def _values(type_name: str) -> st.SearchStrategy[Any]:
    if type_name in INT_RANGES:
        bits = INT_RANGES[type_name]
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if type_name.startswith("uint"):
        return st.integers(0, 2 ** int(type_name[4:]) - 1)
    if type_name == "float64":
        return st.floats(allow_nan=False)
    if type_name == "float32":
        return st.floats(width=32, allow_nan=False)
    if type_name == "bool":
        return st.booleans()
    if type_name == "string":
        return texts
    if type_name == "bytes":
        return st.binary(max_size=12)
    if type_name == "timestamp":
        return st.datetimes(min_value=dt.datetime(1678, 1, 1), max_value=dt.datetime(2261, 12, 31),
                            timezones=st.just(UTC))
    if type_name == "date":
        return st.dates()
    if type_name == "vector[3]":
        return st.lists(st.floats(width=32, allow_nan=False), min_size=3, max_size=3)
    raise AssertionError(type_name)


TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64", "bool",
         "string", "bytes", "timestamp", "date", "vector[3]"]


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, dict[str, list[Any]], dict[str, str]]:
    key_type = draw(st.sampled_from(["int64", "string"]))
    keys = draw(st.lists(int64s if key_type == "int64" else texts, unique=True, max_size=40))
    n = len(keys)
    chosen = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=5, unique=True))
    columns: dict[str, list[Any]] = {"k": keys}
    schema = {"k": key_type}
    for t in chosen:
        nullable = draw(st.booleans())
        values = st.one_of(st.none(), _values(t)) if nullable else _values(t)
        columns[f"c_{t}"] = draw(st.lists(values, min_size=n, max_size=n))
        schema[f"c_{t}"] = t
    return key_type, columns, schema


def _expected(type_name: str, v: Any) -> Any:
    if v is None:
        return None
    if type_name == "float32":
        return float(np.float32(v))
    if type_name == "vector[3]":
        return [float(np.float32(x)) for x in v]
    if type_name == "timestamp":
        return v.astimezone(UTC)
    return v


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables())
def test_write_then_read_gives_back_every_value(tmp_path: Path, table: Any) -> None:
    key_type, columns, schema = table
    root = tmp_path / f"r{abs(hash(repr(columns))) % 10**9}"
    # Each example replaces the last: another schema and size by design, so the publish guard is told.
    rodata.write(root, "t", columns, key="k", schema=schema, allow_schema_change=True, allow_shrink=True)
    keys = columns["k"]
    with rodata.open(root / "t") as ds:
        assert len(ds) == len(keys)
        for i, key in enumerate(keys):
            row = ds.get(key)
            assert row is not None
            for name, t in schema.items():
                got = row[name]
                if isinstance(got, np.ndarray):
                    got = got.tolist()
                want = _expected(t, columns[name][i])
                assert _same(got, want) or (isinstance(got, list) and got == want), (name, got, want)
        batch = ds.get_many(list(keys))
        assert batch.found.all()
        scanned = [r["k"] for b in ds.scan() for r in b.to_pylist()]
        order = sorted(keys, key=(lambda k: k.encode("utf-8")) if key_type == "string" else None)
        assert scanned == order


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(int64s, unique=True, max_size=200), probes=st.lists(int64s, max_size=50))
def test_lookups_agree_with_a_dict(tmp_path: Path, keys: list[int], probes: list[int]) -> None:
    root = tmp_path / f"d{abs(hash((tuple(keys), tuple(probes)))) % 10**9}"
    rodata.write(root, "t", {"k": keys, "v": [k // 3 for k in keys]}, key="k", schema={"k": "int64", "v": "int64"})
    reference = {k: k // 3 for k in keys}
    asked = probes + keys[:20]
    with rodata.open(root / "t") as ds:
        for p in asked:
            row = ds.get(p)
            assert (row["v"] if row else None) == reference.get(p)
        batch = ds.get_many(asked)
        assert batch.found.tolist() == [p in reference for p in asked]
        assert batch["v"].tolist() == [reference.get(p, 0) for p in asked]
        lo, hi = [*sorted(probes[:2]), None, None][:2]
        got = [int(k) for b in ds.scan(start=lo, end=hi) for k in b["k"]]
        assert got == sorted(k for k in keys if (lo is None or k >= lo) and (hi is None or k < hi))
