"""The publish guard: a version whose schema differs from the live one's, or that holds fewer than half its
rows, is refused unless the caller says it is meant (each flag opens only its own guard)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import rodata
from rodata.schema import Column, Schema
from rodata.store import schema_change
from tests.etl.conftest import rodata_cli


def live(root: Path, rows: int = 100) -> rodata.Version:
    keys = np.arange(rows)
    return rodata.write(root, "d", {"k": keys, "price": keys * 1.5, "name": [f"n{i}" for i in keys]}, key="k")


def current(root: Path) -> str:
    return (root / "d" / "CURRENT").read_text().strip()


@pytest.mark.parametrize(("columns", "message"), [
    ({"k": np.arange(100), "price": np.arange(100) * 1.5}, "column 'name' was dropped"),
    ({"k": np.arange(100), "price": np.arange(100) * 1.5, "name": ["x"] * 100, "extra": np.zeros(100)},
     "column 'extra' (float64) was added"),
    ({"k": np.arange(100), "price": [str(i) for i in range(100)], "name": ["x"] * 100},
     "column 'price' changed type from float64 to string"),
    ({"k": [str(i) for i in range(100)], "price": np.arange(100) * 1.5, "name": ["x"] * 100},
     "column 'k' changed type from int64 to string"),
])
def test_a_schema_change_is_refused_unless_meant(data_root: Path, columns: dict[str, object], message: str) -> None:
    version = live(data_root)
    with pytest.raises(rodata.PublishGuardError, match=re.escape(f"refusing to publish d: {message}")) as info:
        rodata.write(data_root, "d", columns, key="k")
    assert "allow_schema_change=True" in str(info.value) and version.name in str(info.value)
    assert current(data_root) == version.name
    with pytest.raises(rodata.PublishGuardError):
        rodata.write(data_root, "d", columns, key="k", allow_shrink=True)  # the other flag does not open it
    assert rodata.write(data_root, "d", columns, key="k", allow_schema_change=True).name == current(data_root)


def test_a_shrink_below_half_is_refused_unless_meant(data_root: Path) -> None:
    version = live(data_root)
    half = {"k": np.arange(50), "price": np.arange(50) * 1.5, "name": ["n"] * 50}
    assert rodata.write(data_root, "d", half, key="k").rows == 50  # half is not fewer than half
    less = {"k": np.arange(24), "price": np.arange(24) * 1.5, "name": ["n"] * 24}
    with pytest.raises(rodata.PublishGuardError, match=r"24 rows is fewer than half the live version .*'s 50"):
        rodata.write(data_root, "d", less, key="k", allow_schema_change=True)
    assert rodata.write(data_root, "d", less, key="k", allow_shrink=True).rows == 24
    assert version.name != current(data_root)


def test_nullability_and_column_order_alone_are_no_change(data_root: Path) -> None:
    live(data_root)
    reordered = {"name": [None] + ["n"] * 99, "k": np.arange(100), "price": np.arange(100) * 1.5}
    assert rodata.write(data_root, "d", reordered, key="k").rows == 100
    old = Schema((Column("k", "int64"), Column("v", "vector", dim=4)), "k")
    assert schema_change(old, Schema((Column("k", "int64"), Column("v", "vector", dim=8)), "k")) == (
        "column 'v' changed type from vector[4] to vector[8]")
    assert schema_change(old, Schema((Column("v", "vector", True, 4), Column("k", "int64")), "k")) is None


def test_a_broken_live_version_is_no_reason_to_keep_it(data_root: Path) -> None:
    version = live(data_root)
    (version.path / "manifest.json").write_text("{}")
    assert rodata.write(data_root, "d", {"k": [1], "x": ["other"]}, key="k").rows == 1


def test_the_command_line_refuses_with_exit_3_and_each_flag_opens_its_own_guard(tmp_path: Path) -> None:
    root = tmp_path / "data"
    keys = np.arange(1000)
    rodata.write(root, "d", {"id": keys, "price": keys * 0.5}, key="id")
    before = current(root)
    csv = tmp_path / "in.csv"
    # One bad value in a float column would make it a string column: refused, naming the difference.
    csv.write_text("id,price\n" + "".join(f"{i},{i * 0.5}\n" for i in range(999)) + "999,abc\n")
    proc = rodata_cli("build", csv, "--dataset", "d", "--key", "id", "--data-root", root)
    assert proc.returncode == 3
    assert "refusing to publish d: column 'price' changed type from float64 to string" in proc.stderr
    assert "--allow-schema-change" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert current(root) == before
    small = tmp_path / "small.csv"
    small.write_text("id,price\n1,0.5\n2,1.0\n")
    proc = rodata_cli("build", small, "--dataset", "d", "--key", "id", "--data-root", root, "--allow-schema-change")
    assert proc.returncode == 3 and "2 rows is fewer than half" in proc.stderr and "--allow-shrink" in proc.stderr
    proc = rodata_cli("build", small, "--dataset", "d", "--key", "id", "--data-root", root, "--allow-shrink")
    assert proc.returncode == 0, proc.stderr
    assert current(root) != before
