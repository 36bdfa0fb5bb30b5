"""rodata.parts_writer.write_part: sort, duplicate policy, segment and deep validation, read back with
rodata.open and compared with a plain-Python reference of the policy."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata._columns import ColumnData, encode_strings
from rodata.parts_writer import write_part
from rodata.schema import Column, Schema
from rodata.store import staging_dir
from rodata.writer import publish_parts

SCHEMA_INT = Schema((Column("k", "int64"), Column("s", "string", True), Column("x", "float64", True),
                     Column("v", "vector", False, 2)), "k")
SCHEMA_STR = Schema((Column("k", "string"), Column("s", "string", True), Column("x", "float64", True),
                     Column("v", "vector", False, 2)), "k")


def table(rng: random.Random, n: int, string_key: bool) -> list[dict[str, Any]]:
    pool = [rng.randrange(-2**40, 2**40) for _ in range(max(1, n // 2))]
    words = ["", "a", "é", "日本", "b\x00", "zz"]
    rows = []
    for i in range(n):
        k: Any = rng.choice(pool)
        rows.append({"k": f"k{k}" if string_key else k,
                     "s": None if rng.random() < 0.2 else rng.choice(words) + str(i),
                     "x": None if rng.random() < 0.2 else float(i),
                     "v": [float(i), -float(i)]})
    return rows


def columns_of(rows: list[dict[str, Any]], string_key: bool) -> list[ColumnData]:
    def strings(values: list[str | None]) -> ColumnData:
        offsets, data = encode_strings([(v or "").encode() for v in values])
        valid = np.array([v is not None for v in values], dtype=bool)
        return ColumnData(offsets=offsets, data=data, valid=valid)

    keys = [r["k"] for r in rows]
    key = strings(keys) if string_key else ColumnData(values=np.array(keys, dtype=np.int64))
    if string_key:
        key.valid = None
    xs = [r["x"] for r in rows]
    return [key, strings([r["s"] for r in rows]),
            ColumnData(values=np.array([x or 0.0 for x in xs], dtype=np.float64),
                       valid=np.array([x is not None for x in xs], dtype=bool)),
            ColumnData(values=np.array([r["v"] for r in rows], dtype=np.float32).reshape(len(rows), 2))]


def reference(rows: list[dict[str, Any]], policy: str) -> list[dict[str, Any]]:
    """The rows a policy keeps, in key order (Python's str order is UTF-8 byte order)."""
    chosen: dict[Any, dict[str, Any]] = {}
    for row in rows:
        if policy == "last" or row["k"] not in chosen:
            chosen[row["k"]] = row
    return [chosen[k] for k in sorted(chosen)]


def publish_one(data_root: Path, schema: Schema, columns: list[ColumnData], policy: str) -> int:
    with staging_dir(data_root, "d") as staging:
        written = write_part(staging / "part-00000.seg", schema, columns, policy)
        publish_parts(staging, "d", schema, [written.info], allow_schema_change=True, allow_shrink=True)
    return written.duplicates


def read_back(data_root: Path) -> list[dict[str, Any]]:
    with rodata.open(data_root / "d") as ds:
        out = []
        for batch in ds.scan():
            for row in batch.to_pylist():
                row["v"] = [float(f) for f in row["v"]]
                out.append(row)
        return out


@pytest.mark.parametrize("string_key", [False, True])
@pytest.mark.parametrize("policy", ["first", "last"])
@pytest.mark.parametrize("seed", range(3))
def test_the_part_holds_the_rows_the_policy_keeps(data_root: Path, string_key: bool, policy: str, seed: int) -> None:
    rows = table(random.Random(seed), random.Random(seed).choice([1, 40, 600]), string_key)
    schema = SCHEMA_STR if string_key else SCHEMA_INT
    want = reference(rows, policy)
    dropped = publish_one(data_root, schema, columns_of(rows, string_key), policy)
    assert read_back(data_root) == want
    assert dropped == len(rows) - len(want)


@pytest.mark.parametrize("string_key", [False, True])
def test_unique_rows_under_error_are_written_in_key_order(data_root: Path, string_key: bool) -> None:
    rows = reference(table(random.Random(9), 300, string_key), "first")
    random.Random(1).shuffle(rows)
    schema = SCHEMA_STR if string_key else SCHEMA_INT
    assert publish_one(data_root, schema, columns_of(rows, string_key), "error") == 0
    assert read_back(data_root) == sorted(rows, key=lambda r: r["k"])


@pytest.mark.parametrize(("keys", "shown"), [([4, 2, 9, 2], "2"), (["b", "é", "a", "é"], "'é'")])
def test_a_duplicate_under_error_names_the_key(tmp_path: Path, keys: list[Any], shown: str) -> None:
    string_key = isinstance(keys[0], str)
    rows = [{"k": k, "s": "x", "x": 1.0, "v": [0.0, 0.0]} for k in keys]
    path = tmp_path / "part-00000.seg"
    with pytest.raises(rodata.DuplicateKeyError, match=rf"^duplicate key {shown} in column 'k' \(rows 1 and 3\)$") \
            as info:
        write_part(path, SCHEMA_STR if string_key else SCHEMA_INT, columns_of(rows, string_key), "error")
    assert info.value.key == keys[1]


def test_columns_that_do_not_fit_the_schema_are_refused(tmp_path: Path) -> None:
    rows = [{"k": 1, "s": "x", "x": 1.0, "v": [0.0, 0.0]}]
    with pytest.raises(rodata.SchemaError, match="3 columns for a schema of 4"):
        write_part(tmp_path / "part-00000.seg", SCHEMA_INT, columns_of(rows, False)[:3])
    assert not (tmp_path / "part-00000.seg").exists()
