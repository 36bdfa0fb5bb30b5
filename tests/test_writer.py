"""rodata.write: typing, sorting, duplicates, parts and the publish rules."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import rodata


def test_publishes_a_version_and_current(data_root: Path) -> None:
    version = rodata.write(data_root, "d", {"k": [2, 1], "v": ["b", "a"]}, key="k")
    d = data_root / "d"
    assert (d / "CURRENT").read_text().strip() == version.name
    assert version.rows == 2 and version.path == d / version.name
    manifest = json.loads((d / version.name / "manifest.json").read_text())
    assert manifest["version"] == version.name and manifest["dataset"] == "d"
    assert manifest["parts"][0]["min_key"] == 1 and manifest["parts"][0]["max_key"] == 2
    assert manifest["schema"] == [{"name": "k", "type": "int64", "nullable": False},
                                  {"name": "v", "type": "string", "nullable": False}]
    assert not [p for p in d.iterdir() if p.name.startswith(".staging")]


def test_versions_increase_and_old_ones_are_pruned(data_root: Path) -> None:
    names = [rodata.write(data_root, "d", {"k": [i]}, key="k", keep_versions=2).name for i in range(4)]
    assert [int(n[1:7]) for n in names] == [1, 2, 3, 4]
    assert rodata.list_versions(data_root / "d") == names[-2:]
    with rodata.open(data_root / "d") as ds:
        assert ds.version == names[-1] and ds.get(3) == {"k": 3}


def test_rollback_goes_to_the_previous_version(data_root: Path) -> None:
    first = rodata.write(data_root, "d", {"k": [1]}, key="k")
    rodata.write(data_root, "d", {"k": [2]}, key="k")
    back = rodata.rollback(data_root, "d")
    assert back.name == first.name
    with rodata.open(data_root / "d") as ds:
        assert ds.get(1) == {"k": 1} and ds.get(2) is None
    # Without a VERSION, rollback returns to the version live before the current one: back again.
    assert rodata.rollback(data_root, "d").name != first.name


def test_rollback_follows_the_history_of_live_versions(data_root: Path) -> None:
    v1 = rodata.write(data_root, "d", {"k": [1]}, key="k", keep_versions=10)
    v2 = rodata.write(data_root, "d", {"k": [2]}, key="k", keep_versions=10)
    v3 = rodata.write(data_root, "d", {"k": [3]}, key="k", keep_versions=10)  # broken: roll it away
    assert rodata.rollback(data_root, "d").name == v2.name
    v4 = rodata.write(data_root, "d", {"k": [4]}, key="k", keep_versions=10)  # broken too
    # The version live before v4 is v2, not v3 (the previous number, rolled away from).
    assert rodata.rollback(data_root, "d").name == v2.name
    history = (data_root / "d" / "HISTORY").read_text().split()
    assert history == [v1.name, v2.name, v3.name, v2.name, v4.name, v2.name]


def test_rollback_without_history_or_anything_older_fails_cleanly(data_root: Path) -> None:
    rodata.write(data_root, "d", {"k": [1]}, key="k")
    with pytest.raises(rodata.PublishError, match="no version that was live before"):
        rodata.rollback(data_root, "d")


def test_pruning_keeps_the_version_live_before(data_root: Path) -> None:
    v1 = rodata.write(data_root, "d", {"k": [1]}, key="k", keep_versions=2)
    rodata.write(data_root, "d", {"k": [2]}, key="k", keep_versions=2)
    rodata.rollback(data_root, "d", v1.name)  # the oldest kept version is live again
    v3 = rodata.write(data_root, "d", {"k": [3]}, key="k", keep_versions=2)
    # v1 was live until v3: servers may still serve it and a rollback goes there, so it is kept.
    assert v1.name in rodata.list_versions(data_root / "d")
    assert rodata.rollback(data_root, "d").name == v1.name
    assert v3.name in rodata.list_versions(data_root / "d")


def test_rollback_refuses_a_corrupt_version(data_root: Path) -> None:
    first = rodata.write(data_root, "d", {"k": list(range(100))}, key="k")
    second = rodata.write(data_root, "d", {"k": [5]}, key="k", allow_shrink=True)
    part = first.path / "part-00000.seg"
    raw = bytearray(part.read_bytes())
    raw[200] ^= 1
    part.write_bytes(bytes(raw))
    with pytest.raises(rodata.FormatError):
        rodata.rollback(data_root, "d", first.name)
    assert (data_root / "d" / "CURRENT").read_text().strip() == second.name


def test_duplicate_keys_name_the_key_and_rows(data_root: Path) -> None:
    with pytest.raises(rodata.DuplicateKeyError, match=r"duplicate key 7 .*rows 1 and 3") as info:
        rodata.write(data_root, "d", {"k": [1, 7, 2, 7]}, key="k")
    assert info.value.key == 7
    with pytest.raises(rodata.DuplicateKeyError, match="'b'"):
        rodata.write(data_root, "d", {"k": ["a", "b", "b"]}, key="k")
    assert not (data_root / "d" / "CURRENT").exists()


@pytest.mark.parametrize(("policy", "kept"), [("first", [10, 20, 30]), ("last", [12, 21, 30])])
def test_duplicate_policies_keep_first_or_last(data_root: Path, policy: str, kept: list[int]) -> None:
    rodata.write(data_root, "d", {"k": [1, 2, 1, 1, 2, 3], "v": [10, 20, 11, 12, 21, 30]}, key="k",
                 on_duplicate=policy)  # type: ignore[arg-type]
    with rodata.open(data_root / "d") as ds:
        assert [ds.get(k)["v"] for k in (1, 2, 3)] == kept  # type: ignore[index]


def test_failed_write_leaves_the_live_version_untouched(data_root: Path) -> None:
    good = rodata.write(data_root, "d", {"k": [1, 2]}, key="k")
    with pytest.raises(rodata.SchemaError):
        rodata.write(data_root, "d", {"k": [1, 2], "v": [1, "x"]}, key="k")
    with pytest.raises(rodata.SchemaError, match="null at row 1"):
        rodata.write(data_root, "d", {"k": [1, None]}, key="k")
    d = data_root / "d"
    assert (d / "CURRENT").read_text().strip() == good.name
    assert rodata.list_versions(d) == [good.name]
    assert sorted(p.name for p in d.iterdir()) == sorted([good.name, "CURRENT", "HISTORY", ".lock"])
    assert (d / "HISTORY").read_text() == good.name + "\n"


def test_stale_staging_dirs_of_dead_builds_are_removed(data_root: Path) -> None:
    rodata.write(data_root, "d", {"k": [1]}, key="k")
    stale = data_root / "d" / ".staging-999999999-deadbeef"
    stale.mkdir()
    (stale / "part-00000.seg").write_bytes(b"half")
    rodata.write(data_root, "d", {"k": [2]}, key="k")
    assert not stale.exists()


def test_key_columns_are_widened_to_int64_and_validated(data_root: Path) -> None:
    rodata.write(data_root, "a", {"k": np.arange(5, dtype=np.int32)}, key="k")
    with rodata.open(data_root / "a") as ds:
        assert ds.schema.key_column.type == "int64" and ds.get(4) == {"k": 4}
    with pytest.raises(rodata.SchemaError, match="int64 or string"):
        rodata.write(data_root, "b", {"k": [1.5, 2.5]}, key="k")
    with pytest.raises(rodata.SchemaError, match="not among the columns"):
        rodata.write(data_root, "b", {"k": [1]}, key="nope")
    with pytest.raises(ValueError, match="bad dataset name"):
        rodata.write(data_root, "../escape", {"k": [1]}, key="k")


def test_rows_per_part_splits_into_ordered_parts(data_root: Path) -> None:
    rng = np.random.default_rng(3)
    keys = rng.permutation(1000).astype(np.int64)
    v = rodata.write(data_root, "d", {"k": keys, "x": keys * 2}, key="k", rows_per_part=300)
    parts = v.manifest.parts
    assert [p.rows for p in parts] == [300, 300, 300, 100]
    assert [p.min_key for p in parts] == [0, 300, 600, 900]
    with rodata.open(data_root / "d") as ds:
        assert ds.get_many(keys)["x"].tolist() == (keys * 2).tolist()


def test_empty_table(data_root: Path) -> None:
    rodata.write(data_root, "e", {"k": [], "s": []}, key="k", schema={"k": "int64", "s": "string"})
    with rodata.open(data_root / "e") as ds:
        assert len(ds) == 0 and ds.get(1) is None
        assert ds.get_many([1, 2]).found.tolist() == [False, False]
        assert list(ds.scan()) == [] and len(ds.column("k")) == 0


def test_pandas_and_pyarrow_tables(data_root: Path) -> None:
    import pandas as pd
    import pyarrow as pa

    df = pd.DataFrame({"k": [3, 1, 2], "name": ["c", None, "b"], "x": pd.array([1, None, 3], dtype="Int64"),
                       "t": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"])})
    rodata.write(data_root, "pd", df, key="k")
    table = pa.table({"k": ["z", "y"], "v": pa.array([1.5, None]), "e": [[1.0, 2.0], [3.0, 4.0]]})
    rodata.write(data_root, "pa", table, key="k", schema={"e": "vector[2]"})
    with rodata.open(data_root / "pd") as ds:
        assert ds.get(1) == {"k": 1, "name": None, "x": None, "t": ds.get(1)["t"]}  # type: ignore[index]
        assert str(ds.get(3)["t"]) == "2024-01-01 00:00:00+00:00"  # type: ignore[index]
        assert ds.schema["x"].type == "int64" and ds.schema["x"].nullable
    with rodata.open(data_root / "pa") as ds:
        row = ds.get("y")
        assert row is not None and row["v"] is None and row["e"].tolist() == [3.0, 4.0]


def test_version_directory_holds_only_manifest_parts_and_verdicts(data_root: Path) -> None:
    v = rodata.write(data_root, "d", {"k": [1]}, key="k")
    files = sorted(os.listdir(v.path))
    assert files == ["manifest.json", "part-00000.seg", "verdicts"]
    assert os.listdir(v.path / "verdicts") == ["writer.json"]
