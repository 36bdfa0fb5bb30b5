"""rodata.parts: a version built from parts written by other processes (a multiprocessing pool),
attempts that replace each other, the checks of commit, abort and stale staging areas; every
version is read back with rodata.open."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import rodata
import rodata.parts as parts
from rodata.store import current_version, list_versions

SCHEMA = {"id": "int64", "name": "string", "score": "float64", "emb": "vector[2]"}


def table(keys: range | list[int], tag: str = "a") -> dict[str, Any]:
    """A dict-of-numpy part: name `<tag><key>`, score key / 2, emb (key, -key)."""
    k = np.asarray(list(keys), dtype=np.int64)
    return {"id": k, "name": np.array([f"{tag}{int(i)}" for i in k], dtype=object), "score": k / 2,
            "emb": np.stack([k, -k], axis=1).astype(np.float32)}


def rows_of(dataset_dir: Path) -> dict[int, dict[str, Any]]:
    with rodata.open(dataset_dir) as ds:
        out = {}
        for batch in ds.scan():
            for row in batch.to_pylist():
                out[row["id"]] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in row.items()}
        return out


def staging_areas(dataset_dir: Path) -> list[str]:
    return sorted(p.name for p in dataset_dir.iterdir() if p.name.startswith(".staging"))


def _pool_write(args: tuple[bytes, int, int, int, str]) -> int:
    staging_bytes, index, lo, hi, tag = args
    staging = pickle.loads(staging_bytes)
    parts.write_part(staging, index, table(range(lo, hi), tag))
    return os.getpid()


def test_a_pool_of_processes_writes_the_parts_and_one_rewritten_index_replaces_the_first(data_root: Path) -> None:
    staging = parts.begin(data_root, "users", key="id", schema=SCHEMA)
    blob = pickle.dumps(staging)
    # indices in no key order and not contiguous; index 5 is written twice, by "b" last
    jobs = [(blob, 7, 0, 100, "a"), (blob, 3, 200, 300, "a"), (blob, 5, 100, 200, "a"), (blob, 12, 300, 350, "a")]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pids = pool.map(_pool_write, jobs)
        assert os.getpid() not in pids
        pool.map(_pool_write, [(blob, 5, 100, 200, "b")])
    version = parts.commit(staging)
    assert [(p.min_key, p.max_key) for p in version.manifest.parts] == [(0, 99), (100, 199), (200, 299), (300, 349)]
    assert [p.file for p in version.manifest.parts] == [f"part-{i:05d}.seg" for i in range(4)]
    got = rows_of(data_root / "users")
    assert sorted(got) == list(range(350))
    assert got[150] == {"id": 150, "name": "b150", "score": 75.0, "emb": [150.0, -150.0]}
    assert got[250]["name"] == "a250"
    # the version holds its parts and manifest only: no records, no losing attempt, no staging left
    assert sorted(os.listdir(version.path)) == ["manifest.json"] + [f"part-{i:05d}.seg" for i in range(4)] + [
        "verdicts"]
    assert staging_areas(data_root / "users") == []
    assert version.manifest.build["source"] == "rodata.parts"


def _racing_write(args: tuple[bytes, str]) -> None:
    staging = pickle.loads(args[0])
    for _ in range(3):
        parts.write_part(staging, 0, table(range(0, 2000), args[1]))


def test_speculative_attempts_of_one_index_never_mix(data_root: Path) -> None:
    staging = parts.begin(data_root, "race", key="id", schema=SCHEMA)
    blob = pickle.dumps(staging)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_racing_write, [(blob, "x"), (blob, "y")])
    parts.commit(staging)
    names = {row["name"][0] for row in rows_of(data_root / "race").values()}
    assert len(names) == 1 and names <= {"x", "y"}


def test_a_killed_attempt_leaves_nothing_that_commit_takes(data_root: Path) -> None:
    staging = parts.begin(data_root, "users", key="id", schema=SCHEMA)
    parts.write_part(staging, 0, table(range(10)))
    path = Path(staging.path)
    # an attempt killed after writing its segment, before its record: a segment no record names
    segment = next(path.glob("attempt-000000-*.seg"))
    shutil.copy(segment, path / "attempt-000001-deadbeef0000.seg")
    (path / ".index-000001.json.0123456789ab.tmp").write_bytes(b'{"half": ')
    version = parts.commit(staging)
    assert version.rows == 10
    assert sorted(os.listdir(version.path)) == ["manifest.json", "part-00000.seg", "verdicts"]


def test_every_table_kind_is_a_part(data_root: Path) -> None:
    staging = parts.begin(data_root, "kinds", key="id", schema=SCHEMA)
    arrow = pa.table({"id": pa.array([1, 0], pa.int64()), "name": ["t1", None], "score": [0.5, None],
                      "emb": pa.array([[1, -1], [0, 0]], pa.list_(pa.float32(), 2))})
    batch = pa.RecordBatch.from_pydict({"id": pa.array([11, 10], pa.int32()), "name": ["r11", "r10"],
                                        "score": [5.5, 5.0], "emb": [[11.0, -11.0], None]})
    frame = pd.DataFrame({"name": ["p20", "p21"], "id": [20, 21], "score": [10.0, float("nan")],
                          "emb": [[20.0, -20.0], [21.0, -21.0]]})
    parts.write_part(staging, 0, arrow)
    parts.write_part(staging, 1, batch)
    parts.write_part(staging, 2, frame)
    parts.write_part(staging, 3, table([30, 31]))
    parts.commit(staging)
    got = rows_of(data_root / "kinds")
    assert got == {
        0: {"id": 0, "name": None, "score": None, "emb": [0.0, 0.0]},
        1: {"id": 1, "name": "t1", "score": 0.5, "emb": [1.0, -1.0]},
        10: {"id": 10, "name": "r10", "score": 5.0, "emb": None},
        11: {"id": 11, "name": "r11", "score": 5.5, "emb": [11.0, -11.0]},
        20: {"id": 20, "name": "p20", "score": 10.0, "emb": [20.0, -20.0]},
        21: {"id": 21, "name": "p21", "score": None, "emb": [21.0, -21.0]},
        30: {"id": 30, "name": "a30", "score": 15.0, "emb": [30.0, -30.0]},
        31: {"id": 31, "name": "a31", "score": 15.5, "emb": [31.0, -31.0]},
    }


def test_a_pyarrow_schema_and_an_integer_key_that_widens(data_root: Path) -> None:
    schema = pa.schema([pa.field("k", pa.int32(), nullable=False), pa.field("when", pa.timestamp("us", "UTC")),
                        pa.field("day", pa.date32()), pa.field("raw", pa.binary()), pa.field("ok", pa.bool_())])
    staging = parts.begin(data_root, "arrow", key="k", schema=schema)
    assert dict((c.name, c.type_name) for c in staging.schema.columns)["k"] == "int64"
    t = pa.table({"k": pa.array([2, 1], pa.int32()),
                  "when": pa.array([1_700_000_000_000_000, None], pa.timestamp("us", "UTC")),
                  "day": pa.array([19000, 0], pa.date32()), "raw": [b"\x00\xff", None], "ok": [True, None]},
                 schema=schema)
    parts.write_part(staging, 0, t)
    parts.commit(staging)
    with rodata.open(data_root / "arrow") as ds:
        assert ds.schema.key_column.type == "int64"
        row = ds.get(2)
        assert row is not None and row["raw"] == b"\x00\xff" and row["ok"] is True
        assert row["when"].timestamp() == 1_700_000_000
        assert row["day"].isoformat() == "2022-01-08"
        assert ds.get(1) == {"k": 1, "when": None, "day": row["day"].fromisoformat("1970-01-01"), "raw": None,
                             "ok": None}


def test_overlapping_ranges_are_refused_and_the_staging_stays_to_be_fixed(data_root: Path) -> None:
    rodata.write(data_root, "users", table(range(5)), key="id")
    before = current_version(data_root / "users")
    staging = parts.begin(data_root, "users", key="id", schema=SCHEMA)
    parts.write_part(staging, 0, table(range(0, 10)))
    parts.write_part(staging, 1, table(range(9, 20)))
    with pytest.raises(rodata.PublishError, match=r"parts 0 and 1 overlap in key range: 0\.\.9 and 9\.\.19"):
        parts.commit(staging)
    assert current_version(data_root / "users") == before
    assert len(list_versions(data_root / "users")) == 1
    # nothing was rearranged: the offending part is written again and commit succeeds
    parts.write_part(staging, 1, table(range(10, 20)))
    version = parts.commit(staging)
    assert current_version(data_root / "users") == version.name
    assert sorted(rows_of(data_root / "users")) == list(range(20))


def test_a_part_of_another_schema_is_refused(data_root: Path) -> None:
    staging = parts.begin(data_root, "users", key="id", schema=SCHEMA)
    other = dataclasses.replace(staging, columns=(("id", "int64", False), ("name", "string", True)))
    parts.write_part(staging, 0, table(range(3)))
    parts.write_part(other, 1, {"id": np.arange(10, 13), "name": np.array(["x"] * 3, dtype=object)})
    with pytest.raises(rodata.PublishError, match="part 1 was written with another schema"):
        parts.commit(staging)
    with pytest.raises(rodata.PublishError, match="another dataset or schema"):
        parts.commit(other)
    assert current_version(data_root / "users") is None


def test_duplicates_within_a_part_follow_the_policy(data_root: Path) -> None:
    staging = parts.begin(data_root, "users", key="id", schema=SCHEMA)
    dup = table([3, 1, 3])
    dup["name"] = np.array(["first", "one", "last"], dtype=object)
    with pytest.raises(rodata.DuplicateKeyError, match="duplicate key 3 in column 'id'"):
        parts.write_part(staging, 0, dup)
    assert not list(Path(staging.path).glob("*.seg"))  # the failed attempt left no segment
    parts.abort(staging)
    staging = parts.begin(data_root, "users", key="id", schema=SCHEMA, on_duplicate="last")
    parts.write_part(staging, 0, dup)
    parts.commit(staging)
    assert {k: r["name"] for k, r in rows_of(data_root / "users").items()} == {1: "one", 3: "last"}


def test_bad_parts_are_refused_naming_the_column(data_root: Path) -> None:
    schema = {"id": "int64", "name": {"type": "string", "nullable": False}}
    staging = parts.begin(data_root, "users", key="id", schema=schema)
    with pytest.raises(rodata.SchemaError, match=r"column 'name' has a null at row 1, and is not nullable"):
        parts.write_part(staging, 0, pa.table({"id": [1, 2], "name": ["a", None]}))
    with pytest.raises(rodata.SchemaError, match=r"column 'id' has a null at row 0"):
        parts.write_part(staging, 0, pa.table({"id": [None, 2], "name": ["a", "b"]}))
    with pytest.raises(rodata.SchemaError, match=r"missing \['name'\]"):
        parts.write_part(staging, 0, {"id": np.arange(3)})
    with pytest.raises(rodata.SchemaError, match=r"part 4: column 'name': cannot store int64 as string"):
        parts.write_part(staging, 4, pa.table({"id": [1], "name": [5]}))
    with pytest.raises(rodata.UsageError, match="a part index"):
        parts.write_part(staging, -1, {"id": np.arange(3), "name": np.array(["a"] * 3, dtype=object)})
    with pytest.raises(rodata.SchemaError, match="key column 'f' has type float64"):
        parts.begin(data_root, "users", key="f", schema={"f": "float64"})


def test_empty_parts_are_dropped_and_no_parts_make_an_empty_version(data_root: Path) -> None:
    staging = parts.begin(data_root, "users", key="id", schema=SCHEMA)
    parts.write_part(staging, 0, table([]))
    parts.write_part(staging, 1, table([4, 5]))
    assert [p.rows for p in parts.commit(staging).manifest.parts] == [2]
    staging = parts.begin(data_root, "empty", key="id", schema=SCHEMA)
    version = parts.commit(staging)
    assert version.rows == 0 and len(version.manifest.parts) == 1
    with rodata.open(data_root / "empty") as ds:
        assert len(ds) == 0


def test_abort_removes_the_staging_and_it_takes_no_more_parts(data_root: Path) -> None:
    staging = parts.begin(data_root, "users", key="id", schema=SCHEMA)
    parts.write_part(staging, 0, table(range(3)))
    parts.abort(staging)
    assert staging_areas(data_root / "users") == []
    with pytest.raises(rodata.PublishError, match="no such staging area"):
        parts.write_part(staging, 1, table(range(3)))
    with pytest.raises(rodata.PublishError, match="no such file"):
        parts.commit(staging)
    assert current_version(data_root / "users") is None
    with pytest.raises(rodata.UsageError, match="not a staging area"):
        parts.abort(data_root / "users")


def test_attach_rebuilds_the_handle_from_its_path(data_root: Path) -> None:
    staging = parts.begin(data_root, "users", key="id", schema=SCHEMA, on_duplicate="first")
    assert parts.attach(staging.path) == staging
    parts.write_part(parts.attach(staging.path), 0, table(range(4)))
    assert parts.commit(staging).rows == 4


def test_stale_staging_areas_are_cleaned_and_live_ones_survive_other_writers(data_root: Path) -> None:
    old = parts.begin(data_root, "users", key="id", schema=SCHEMA)
    parts.write_part(old, 0, table(range(3)))
    past = time.time() - parts.STALE_AFTER - 60
    for p in [Path(old.path), *Path(old.path).iterdir()]:
        os.utime(p, (past, past))
    live = parts.begin(data_root, "users", key="id", schema=SCHEMA)
    assert not Path(old.path).exists()
    # rodata.write cleans the stale staging of dead builds by pid: a parts staging area is not one
    rodata.write(data_root, "users", table(range(3)), key="id")
    assert Path(live.path).is_dir()
    parts.write_part(live, 0, table(range(3)))
    assert parts.commit(live).rows == 3


def test_keep_versions_is_honoured(data_root: Path) -> None:
    for n in range(4):
        staging = parts.begin(data_root, "users", key="id", schema=SCHEMA)
        parts.write_part(staging, 0, table(range(10 + n)))
        parts.commit(staging, keep_versions=2)
    assert len(list_versions(data_root / "users")) == 2
    with rodata.open(data_root / "users") as ds:
        assert len(ds) == 13


def test_a_guard_refusal_leaves_the_staging_as_it_was(data_root: Path) -> None:
    rodata.write(data_root, "users", table(range(100)), key="id")
    staging = parts.begin(data_root, "users", key="id", schema=SCHEMA)
    parts.write_part(staging, 0, table(range(10)))
    with pytest.raises(rodata.PublishGuardError, match="fewer than half"):
        parts.commit(staging)
    assert len(list_versions(data_root / "users")) == 1
    assert parts.commit(staging, allow_shrink=True).rows == 10


def test_a_late_attempt_during_commit_is_shut_out(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    staging = parts.begin(data_root, "users", key="id", schema=SCHEMA)
    parts.write_part(staging, 0, table(range(10)))
    real = parts._ordered_parts
    late: list[BaseException] = []

    def with_a_late_attempt(path: Path, schema: Any) -> Any:
        try:  # a speculative attempt of index 0, and a new index, arriving while commit reads the parts
            parts.write_part(staging, 0, table(range(10), "late"))
            parts.write_part(staging, 1, table(range(10, 20), "late"))
        except rodata.RodataError as exc:
            late.append(exc)
        return real(path, schema)

    monkeypatch.setattr(parts, "_ordered_parts", with_a_late_attempt)
    version = parts.commit(staging)
    assert len(late) == 1 and "no such staging area" in str(late[0])
    assert version.rows == 10 and {r["name"][0] for r in rows_of(data_root / "users").values()} == {"a"}
    assert sorted(os.listdir(version.path)) == ["manifest.json", "part-00000.seg", "verdicts"]


def test_rodata_parts_loads_on_first_use_and_never_loads_pyspark() -> None:
    code = ("import sys, rodata\n"
            "assert 'rodata.parts' not in sys.modules\n"
            "assert rodata.parts.begin is sys.modules['rodata.parts'].begin\n"
            "assert 'pyspark' not in sys.modules, 'only rodata.spark imports pyspark'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_arrow_string_views_and_large_strings_are_strings(data_root: Path) -> None:
    schema = pa.schema([("k", pa.large_string()), ("s", pa.string_view())])
    staging = parts.begin(data_root, "views", key="k", schema=schema)
    parts.write_part(staging, 0, pa.table({"k": pa.array(["b", "a"], pa.large_string()),
                                           "s": pa.array(["view", None], pa.string_view())}))
    parts.commit(staging)
    with rodata.open(data_root / "views") as ds:
        assert [ds.get("a"), ds.get("b")] == [{"k": "a", "s": None}, {"k": "b", "s": "view"}]
