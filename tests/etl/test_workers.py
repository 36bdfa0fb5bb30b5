"""The worker's task: one chunk into sorted runs, with bad records, streams and schema changes."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rodata.errors import BadInputError, RodataError
from rodata.etl.runs import read_run
from rodata.etl.sources import detect_sources
from rodata.etl.tokenspec import TokenizerSpec
from rodata.etl.workers import ChunkTask, parse_chunk

from .conftest import write

COLUMNS = (TokenizerSpec("k", "int64", 1, False, False, True), TokenizerSpec("v", "string", 1, False, False, False))


def chunk(tmp_path: Path, path: Path, *, start: int = 0, end: int | None = None, max_bad: int = 0,
          budget: int = 1 << 20, columns: tuple = COLUMNS, parent: int | None = None) -> ChunkTask:
    source = detect_sources([path])[0]
    spill = tmp_path / "spill"
    spill.mkdir(exist_ok=True)
    return ChunkTask(0, source, start, end if end is not None else 1 << 62, True, False, 2, columns=columns,
                     field_map=tuple(range(len(columns))), null_values=(b"",), delimiter=b",", quote=b'"',
                     key_index=0, max_bad=max_bad, spill_dir=str(spill), memory_budget=budget,
                     parent_pid=os.getpid() if parent is None else parent)


def run_rows(result) -> list[tuple[int, int, str]]:
    rows = []
    for info in result.runs:
        run = read_run(info.path)
        offs, data = run.columns[1].offsets, run.columns[1].data.tobytes()
        rows += [(int(run.lines[i]), int(run.columns[0].values[i]), data[offs[i]: offs[i + 1]].decode())
                 for i in range(run.rows)]
    return rows


def test_a_chunk_becomes_one_sorted_run(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "k,v\n3,c\n1,a\n2,b\n")
    result = parse_chunk(chunk(tmp_path, path, start=4))
    assert result.rows == 3 and len(result.runs) == 1
    assert run_rows(result) == [(3, 1, "a"), (4, 2, "b"), (2, 3, "c")]
    assert result.runs[0].data_bytes == 3 * 8 + 3 + 3 * 8


def test_bad_records_up_to_the_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "k,v\n1,a\nx,b\n2\n3,c\n4,d,e\n")
    result = parse_chunk(chunk(tmp_path, path, start=4, max_bad=5))
    assert result.rows == 2 and result.bad_count == 3 and not result.stopped
    assert [(b.line, b.column, b.record) for b in result.bad] == [(3, 1, b"x,b"), (4, 2, b"2"), (6, 5, b"4,d,e")]
    assert result.bad[0].reason == "column 'k': cannot parse 'x' as int64"
    stopped = parse_chunk(chunk(tmp_path, path, start=4, max_bad=1))
    assert stopped.stopped and len(stopped.bad) == 2


def test_gzip_stream_spills_a_run_per_budget(tmp_path: Path) -> None:
    body = "".join(f"{(i * 7919) % 50000},{'v' * (i % 13)}\n" for i in range(50000))
    path = tmp_path / "in.csv.gz"
    path.write_bytes(gzip.compress(("k,v\n" + body).encode()))
    result = parse_chunk(chunk(tmp_path, path, start=4, budget=1 << 16))
    assert len(result.runs) > 1 and result.rows == 50000
    rows = run_rows(result)
    assert sorted(k for _, k, _ in rows) == list(range(50000))
    for info in result.runs:
        keys = read_run(info.path).columns[0].values
        assert np.all(keys[1:] >= keys[:-1])


def test_corrupt_gzip_is_bad_input(tmp_path: Path) -> None:
    data = gzip.compress(b"k,v\n" + b"1,a\n" * 10000)
    path = tmp_path / "in.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match="corrupt gzip"):
        parse_chunk(chunk(tmp_path, path, start=4))


def test_widening_and_new_fields_ask_for_another_pass(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "k,v\n1,2\n2,x\n")
    columns = (TokenizerSpec("k", "int64", 1, False, False, True), TokenizerSpec("v", "int64", 1, True, False, False))
    result = parse_chunk(chunk(tmp_path, path, start=4, columns=columns))
    assert result.needs_another_pass and result.runs == []
    path = write(tmp_path, "in.jsonl", '{"k": 1, "v": "a", "w": 2}\n')
    result = parse_chunk(chunk(tmp_path, path, start=0))
    assert result.needs_another_pass and [f[0] for f in result.new_fields] == ["w"]


def test_a_worker_stops_when_its_build_is_gone(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    path = write(tmp_path, "in.csv", "k,v\n1,a\n")
    with pytest.raises(RodataError, match="build process is gone"):
        parse_chunk(chunk(tmp_path, path, start=4, parent=int(dead.stdout)))
