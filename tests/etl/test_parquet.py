"""Parquet inputs: the values pyarrow hands over are checked like text input — strings must be
UTF-8 — and a bad row is a bad record named by file and row (exit 3), never a published fault."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rodata

from .conftest import all_rows, rodata_cli, write


def unchecked_strings(values: list[bytes | None]) -> pa.Array:
    """A string array holding exactly these bytes (pyarrow checks nothing when built from buffers),
    as a writer other than pyarrow may leave them in a file."""
    offsets = np.cumsum([0] + [len(v or b"") for v in values]).astype(np.int32)
    valid = np.packbits(np.array([v is not None for v in values]), bitorder="little")
    return pa.Array.from_buffers(pa.string(), len(values), [pa.py_buffer(valid.tobytes()),
                                                           pa.py_buffer(offsets.tobytes()),
                                                           pa.py_buffer(b"".join(v or b"" for v in values))])


def live(root: Path, tmp_path: Path, key: str = "1") -> str:
    report = rodata.build(write(tmp_path, "old.csv", f"id,s\n{key},old\n"), dataset="d", key="id", data_root=root)
    return report.version


def test_invalid_utf8_in_a_value_column_is_bad_input(tmp_path: Path, root: Path) -> None:
    version = live(root, tmp_path)
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "s": unchecked_strings([b"ok", b"b\xffad", b"fine"])}), path)
    proc = rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", root)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr == f"rodata: error: {path}:2:2: row 2: column 's': invalid UTF-8\n"
    assert (root / "d" / "CURRENT").read_text().strip() == version


def test_invalid_utf8_in_the_key_column_is_bad_input(tmp_path: Path, root: Path) -> None:
    version = live(root, tmp_path, key="k")
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": unchecked_strings([b"a", b"c", b"b\xc3("]), "s": ["x", "y", "z"]}), path)
    proc = rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", root)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr == f"rodata: error: {path}:3:1: row 3: column 'id': invalid UTF-8\n"
    assert (root / "d" / "CURRENT").read_text().strip() == version


def test_bad_parquet_rows_are_quarantined(tmp_path: Path, root: Path) -> None:
    path = tmp_path / "in.parquet"
    table = pa.table({"id": unchecked_strings([b"a", b"b", None, b"d", b"e"]),
                      "s": unchecked_strings([b"1", b"\xed\xa0\x80", b"3", b"4", None]),
                      "n": pa.array([1, 2, 3, None, 5])})
    pq.write_table(table, path, row_group_size=2)
    rejects = tmp_path / "rejects.jsonl"
    report = rodata.build(path, dataset="d", key="id", data_root=root, schema={"n": {"type": "int64",
                                                                                    "nullable": False}},
                          max_bad_rows=3, rejects=rejects, workers=2, chunk_bytes=1)
    assert (report.rows_out, report.bad_rows) == (2, 3)
    assert all_rows(root / "d") == [{"id": "a", "s": "1", "n": 1}, {"id": "e", "s": None, "n": 5}]
    bad = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(b["line"], b["column"], b["reason"]) for b in bad] == [
        (2, 2, "row 2: column 's': invalid UTF-8"),  # a surrogate's encoding is not UTF-8
        (3, 1, "row 3: null key (key column 'id')"),
        (4, 3, "row 4: column 'n': null in a column declared not nullable")]
    assert json.loads(bad[0]["record"]) == {"id": "b", "s": "\\xed\\xa0\\x80", "n": 2}


@pytest.mark.parametrize("max_bad", [0, 1])
def test_more_bad_parquet_rows_than_allowed_stop_the_build(tmp_path: Path, root: Path, max_bad: int) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "s": unchecked_strings([b"\xff", b"ok", b"\xfe"])}), path)
    args = ["--max-bad-rows", str(max_bad), "--rejects", tmp_path / "rejects.jsonl"] if max_bad else []
    proc = rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", root, *args)
    assert proc.returncode == 3, proc.stderr
    assert f"{path}:1:2: row 1: column 's': invalid UTF-8" in proc.stderr
    assert not (root / "d" / "CURRENT").exists()


@pytest.mark.parametrize("column", [pa.array([{"a": 1}, None, {"a": 3}]),           # a type rodata does not read
                                    pa.array([None, None, None], pa.list_(pa.float64()))])  # lists of no length
def test_a_dropped_parquet_column_needs_no_type(tmp_path: Path, root: Path, column: pa.Array) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "odd": column, "v": ["a", "b", "c"]}), path)
    rodata.build(path, dataset="d", key="id", data_root=root, schema={"odd": {"drop": True}})
    assert all_rows(root / "d") == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}]
