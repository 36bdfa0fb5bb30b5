"""Messages about bad input name the value at fault even when the record holds other faults
further on (the first fault in the record is the one reported)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rodata
from rodata.errors import BadInputError

from .conftest import all_rows, write


@pytest.mark.parametrize("tail", [',"ab"cd', ',x"y', ",1,2", '\n2,"never closed'])
def test_a_csv_value_fault_before_another_fault_shows_the_value(tmp_path: Path, root: Path, tail: str) -> None:
    path = write(tmp_path, "in.csv", f"id,n,s\n1,3e+91{tail}\n")
    with pytest.raises(BadInputError) as info:
        rodata.build(path, dataset="d", key="id", data_root=root, schema={"n": "float32"})
    assert str(info.value) == f"{path}:2:3: column 'n': '3e+91' is out of range for float32"


def test_parquet_files_after_the_first_may_hold_only_null_lists(tmp_path: Path, root: Path) -> None:
    paths = []
    for i, lists in enumerate([[[1.0, 2.0]], [None], [[3.0, 4.0]]]):
        paths.append(tmp_path / f"in{i}.parquet")
        pq.write_table(pa.table({"id": [i], "v": pa.array(lists, pa.list_(pa.float64()))}), paths[-1])
    rodata.build(paths, dataset="d", key="id", data_root=root)
    rows = all_rows(root / "d")
    assert [r["id"] for r in rows] == [0, 1, 2]
    assert [None if r["v"] is None else list(r["v"]) for r in rows] == [[1.0, 2.0], None, [3.0, 4.0]]
