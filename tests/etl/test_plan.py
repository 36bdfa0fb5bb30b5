"""Cutting files into byte ranges on record boundaries: every record is read exactly once, whatever the
cut, even with line breaks inside quotes right at a boundary."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rodata.etl.plan import count_spans, prefix_states, split_points
from rodata.etl.runs import read_run
from rodata.etl.sources import detect_sources
from rodata.etl.tokenspec import TokenizerSpec
from rodata.etl.workers import ChunkTask, count_range, parse_chunk

from .conftest import write


def test_split_points_cover_the_data() -> None:
    assert split_points(10, 110, 30) == [10, 35, 60, 85, 110]
    assert split_points(10, 10, 30) == [10, 10]
    assert split_points(0, 5, 100) == [0, 5]
    with pytest.raises(ValueError):
        split_points(0, 5, 0)


def test_count_spans_and_prefix_states() -> None:
    points = [10, 20, 30, 40]
    assert count_spans(points) == [(10, 19), (19, 29)]
    chunks = prefix_states(points, [(1, 2), (2, 5)], first_line=2)
    assert [(c.start, c.end, c.known_start, c.in_quote, c.line) for c in chunks] == [
        (10, 20, True, False, 2), (20, 30, False, True, 4), (30, 40, False, True, 9)]


def parse_file(path: Path, chunk: int, tmp_path: Path, quote: bytes = b'"') -> list[tuple[int, int, bytes]]:
    """(line, key, value) of every record of a two-column CSV, read in chunks of `chunk` bytes."""
    source = detect_sources([path])[0]
    head = path.read_bytes()
    data_start = head.index(b"\n") + 1
    points = split_points(data_start, source.size, chunk)
    counts = [count_range(str(path), a, b, quote) for a, b in count_spans(points)]
    spill = tmp_path / f"spill-{chunk}"
    spill.mkdir(exist_ok=True)
    rows = []
    for i, bounds in enumerate(prefix_states(points, counts, 2)):
        task = ChunkTask(i, source, bounds.start, bounds.end, bounds.known_start, bounds.in_quote, bounds.line,
                         columns=(TokenizerSpec("k", "int64", 1, False, False, True),
                                  TokenizerSpec("v", "string", 1, False, False, False)),
                         field_map=(0, 1), null_values=(b"",), delimiter=b",", quote=quote, key_index=0,
                         max_bad=0, spill_dir=str(spill), memory_budget=1 << 20, parent_pid=os.getpid())
        result = parse_chunk(task)
        assert result.bad == []
        for run in result.runs:
            r = read_run(run.path)
            offs, data = r.columns[1].offsets, r.columns[1].data.tobytes()
            valid = r.columns[1].valid
            for j in range(r.rows):
                value = data[offs[j]: offs[j + 1]] if valid is None or valid[j] else None
                rows.append((int(r.lines[j]), int(r.columns[0].values[j]), value))
    return sorted(rows)


records = st.lists(st.tuples(st.integers(0, 10**6), st.text(alphabet=st.sampled_from(list('xy,"\n é')),
                                                               min_size=1, max_size=12)), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(records, st.integers(1, 40))
def test_any_cut_reads_each_record_once(tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[int, str]],
                                        chunk: int) -> None:
    tmp_path = tmp_path_factory.mktemp("cut")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([("k", "v"), *rows])
    path = write(tmp_path, "in.csv", buf.getvalue())
    whole = parse_file(path, 1 << 30, tmp_path)
    assert [(k, v.encode()) for k, v in sorted(rows)] == sorted((k, v) for _, k, v in whole)
    assert parse_file(path, chunk, tmp_path) == whole


def test_quoted_newlines_straddling_every_boundary(tmp_path: Path) -> None:
    body = "".join(f'{i},"line one\nline ""two"",\r\nthree"\n' for i in range(50))
    path = write(tmp_path, "in.csv", "k,v\n" + body)
    whole = parse_file(path, 1 << 30, tmp_path)
    assert len(whole) == 50
    assert whole[3] == (2 + 3 * 3, 3, b'line one\nline "two",\r\nthree')
    for chunk in (1, 2, 3, 7, 13, 29, 64):
        assert parse_file(path, chunk, tmp_path) == whole, chunk


def test_count_range_counts() -> None:
    data = b'a"b\n"c\n' * 1000
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"rodata-count-{os.getpid()}.bin"
    path.write_bytes(data)
    try:
        assert count_range(str(path), 0, len(data), b'"') == (2000, 2000)
        assert count_range(str(path), 1, 4, b'"') == (1, 1)
    finally:
        path.unlink()
    assert np.frombuffer(data, dtype=np.uint8).size == 7000
