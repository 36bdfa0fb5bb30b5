"""Sorted runs on disk and their merge into verified parts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rodata._columns import ColumnData, encode_strings
from rodata._core import Segment
from rodata.errors import DuplicateKeyError
from rodata.etl.merge import PartTask, RunRef, choose_boundaries, merge_part, part_count
from rodata.etl.runs import write_run
from rodata.schema import Column, Schema


def strings(values: list[bytes]) -> ColumnData:
    offsets, data = encode_strings(values)
    return ColumnData(offsets=offsets, data=data)


def test_part_count_depends_on_data_and_budget_only() -> None:
    assert part_count(10, 100) == 1
    assert part_count(101, 100) == 16
    assert part_count(1700, 100) == 32


def test_boundaries_from_the_sample() -> None:
    samples = [np.array([1, 5, 9], dtype=np.int64), np.array([2, 2, 2, 3], dtype=np.int64), None]
    assert choose_boundaries(samples, 1, False) == []
    assert choose_boundaries(samples, 4, False) == [2, 5]  # quantiles of 1 2 2 2 3 5 9, repeats dropped
    assert choose_boundaries([[b"b", b"a"], [b"c"]], 3, True) == [b"b", b"c"]
    assert choose_boundaries([np.array([7, 7, 7], dtype=np.int64)], 4, False) == [7]  # no empty repeats


def make_runs(tmp_path: Path, runs: list[tuple[list, list[str], list[int]]], string_keys: bool = False) -> tuple:
    refs = []
    for i, (keys, values, lines) in enumerate(runs):
        key = strings([k.encode() for k in keys]) if string_keys else ColumnData(values=np.array(keys, np.int64))
        path = tmp_path / f"run-{i}.bin"
        write_run(path, [key, strings([v.encode() for v in values])], np.array(lines, np.int64))
        refs.append(RunRef(str(path), i))
    key_type = "string" if string_keys else "int64"
    schema = Schema((Column("k", key_type), Column("v", "string")), "k")
    return tuple(refs), schema


def task(tmp_path: Path, refs: tuple, schema: Schema, lo: object = None, hi: object = None,
         policy: str = "error") -> PartTask:
    return PartTask(0, lo, hi, refs, schema, policy, str(tmp_path / "part-00000.seg"), ("a.csv", "b.csv"))


def read_segment(path: str) -> list[tuple]:
    seg = Segment(path, verify=True)
    return [(seg.key_at(i), seg.get(seg.key_at(i), (1,))["v"]) for i in range(len(seg))]


def test_merge_interleaved_runs(tmp_path: Path) -> None:
    refs, schema = make_runs(tmp_path, [([1, 4, 7], ["a", "d", "g"], [2, 3, 4]),
                                        ([2, 3, 9], ["b", "c", "i"], [2, 3, 4])])
    result = merge_part(task(tmp_path, refs, schema, 2, 9))
    assert result.info is not None and result.info.rows == 4
    assert (result.info.min_key, result.info.max_key) == (2, 7)
    assert read_segment(str(tmp_path / "part-00000.seg")) == [(2, "b"), (3, "c"), (4, "d"), (7, "g")]
    empty = merge_part(task(tmp_path, refs, schema, 100, None))
    assert empty.info is None


def test_merge_string_keys(tmp_path: Path) -> None:
    refs, schema = make_runs(tmp_path, [(["b", "d"], ["1", "2"], [1, 2]),
                                        (["a", "c", "e"], ["3", "4", "5"], [1, 2, 3])],
                             string_keys=True)
    result = merge_part(task(tmp_path, refs, schema, b"b", None))
    assert result.info is not None
    assert read_segment(str(tmp_path / "part-00000.seg")) == [("b", "1"), ("c", "4"), ("d", "2"), ("e", "5")]


def test_duplicates_across_runs(tmp_path: Path) -> None:
    runs = [([1, 5, 5], ["x", "first", "second"], [2, 3, 9]), ([5, 6], ["third", "y"], [4, 5])]
    refs, schema = make_runs(tmp_path, runs)
    with pytest.raises(DuplicateKeyError, match=r"duplicate key 5 in column 'k': first at a\.csv:3, again at a\.csv:9"):
        merge_part(task(tmp_path, refs, schema))
    first = merge_part(task(tmp_path, refs, schema, policy="first"))
    assert first.duplicates == 2
    assert read_segment(str(tmp_path / "part-00000.seg")) == [(1, "x"), (5, "first"), (6, "y")]
    merge_part(task(tmp_path, refs, schema, policy="last"))
    assert read_segment(str(tmp_path / "part-00000.seg")) == [(1, "x"), (5, "third"), (6, "y")]


# More sorted runs than the process may open files: the merge must not hold one open per run.
FEW_FILES = """
import resource, sys
import rodata
resource.setrlimit(resource.RLIMIT_NOFILE, (96, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
report = rodata.build(sys.argv[1], dataset="d", key="id", data_root=sys.argv[2], workers=int(sys.argv[3]),
                      chunk_bytes=40, part_bytes=4000, progress=False)
print(report.rows_out, report.parts)
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_more_runs_than_open_files_allowed(tmp_path: Path, workers: int) -> None:
    import subprocess
    import sys

    rows = [f"{(i * 7919) % 3000},v{i}\n" for i in range(3000)]  # about 1,000 chunks: a run each
    src = tmp_path / "in.csv"
    src.write_text("id,v\n" + "".join(rows))
    script = tmp_path / "few_files.py"
    script.write_text(FEW_FILES)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, str(script), str(src), str(tmp_path / "data"), str(workers)],
                          capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(root / "src")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows_out, parts = map(int, proc.stdout.split())
    assert rows_out == 3000 and parts > 1
