"""Sorted runs on disk (rodata.etl.runs): what write_run writes, read_run maps back; a truncated or
corrupt run file is a FormatError."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import numpy as np
import pytest

from rodata._columns import ColumnData, encode_strings
from rodata.errors import FormatError
from rodata.etl.runs import read_run, write_run


def strings(values: list[bytes], valid: np.ndarray | None = None) -> ColumnData:
    offsets, data = encode_strings(values)
    return ColumnData(offsets=offsets, data=data, valid=valid)


def test_run_files_round_trip(tmp_path: Path) -> None:
    cols = [ColumnData(values=np.array([1, 5, 9], dtype=np.int64)),
            ColumnData(values=np.array([[1, 2], [3, 4], [5, 6]], dtype=np.float32), valid=np.array([1, 0, 1], bool)),
            strings([b"a", b"", b"xyz"]),
            ColumnData(values=np.array(["2024-01-01", "1970-01-01", "9999-12-31"], dtype="<M8[D]"))]
    path = tmp_path / "run.bin"
    size = write_run(path, cols, np.array([2, 3, 7], dtype=np.int64))
    assert size == path.stat().st_size
    run = read_run(path)
    assert run.rows == 3 and run.lines.tolist() == [2, 3, 7]
    for a, b in zip(cols, run.columns, strict=True):
        for name, arr in a.arrays().items():
            assert np.array_equal(arr, b.arrays()[name])
    assert run.columns[0].values.flags.writeable is False
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(FormatError):
        read_run(path)


def _generated(rng: random.Random, rows: int) -> tuple[list[ColumnData], list[list[object]]]:
    """Columns of every storage shape, with nulls and empty strings, and their values as Python lists."""
    ints = [rng.randrange(-2**63, 2**63) for _ in range(rows)]
    texts = [rng.choice(["", "a", "é", "日本", "x" * rng.randrange(0, 50)]).encode() for _ in range(rows)]
    mask = [rng.random() < 0.3 for _ in range(rows)]
    raw = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 5))) for _ in range(rows)]
    floats = [rng.uniform(-1e9, 1e9) for _ in range(rows)]
    cols = [ColumnData(values=np.array(ints, dtype=np.int64)),
            strings(texts, valid=np.array([not m for m in mask], dtype=bool)),
            strings(raw),
            ColumnData(values=np.array(floats, dtype=np.float64), valid=np.array(mask, dtype=bool)),
            ColumnData(values=np.array([[f, -f] for f in floats], dtype=np.float32).reshape(rows, 2)),
            ColumnData(values=np.array([i % 2 == 0 for i in range(rows)], dtype=bool))]
    expected: list[list[object]] = [ints, texts, raw, floats, [[np.float32(f), np.float32(-f)] for f in floats],
                                    [i % 2 == 0 for i in range(rows)]]
    return cols, expected


def _as_lists(col: ColumnData) -> list[object]:
    if col.values is not None:
        return col.values.tolist()
    return [col.bytes_at(i) for i in range(len(col))]


@pytest.mark.parametrize("rows", [0, 1, 7, 300])
def test_generated_columns_round_trip(tmp_path: Path, rows: int) -> None:
    rng = random.Random(rows)
    cols, expected = _generated(rng, rows)
    lines = np.array([rng.randrange(1, 10**9) for _ in range(rows)], dtype=np.int64)
    path = tmp_path / "run.bin"
    write_run(path, cols, lines)
    run = read_run(path)
    try:
        assert run.rows == rows and run.lines.tolist() == lines.tolist()
        assert len(run.columns) == len(cols)
        for i, (col, want) in enumerate(zip(run.columns, expected, strict=True)):
            got = _as_lists(col)
            if i == 4:
                want = [[float(a), float(b)] for a, b in want]  # type: ignore[misc]
            assert got == want, i
            assert (col.valid is None) == (cols[i].valid is None)
            if col.valid is not None:
                assert col.valid.tolist() == cols[i].valid.tolist()  # type: ignore[union-attr]
    finally:
        run.close()


def _written(tmp_path: Path) -> tuple[Path, bytes]:
    cols = [ColumnData(values=np.arange(10, dtype=np.int64)), strings([b"v%d" % i for i in range(10)])]
    path = tmp_path / "run.bin"
    write_run(path, cols, np.arange(10, dtype=np.int64))
    return path, path.read_bytes()


def _with_header(raw: bytes, change: object) -> bytes:
    """The run file with its JSON header replaced by `change(header)`, padded to the same length."""
    (hlen,) = struct.unpack("<Q", raw[8:16])
    doc = json.loads(raw[16 : 16 + hlen])
    text = json.dumps(change(doc), separators=(",", ":")).encode()  # type: ignore[operator]
    assert len(text) <= hlen
    return raw[:16] + text.ljust(hlen) + raw[16 + hlen :]


def _entry(doc: dict, name: str) -> dict:
    return next(e for e in doc["arrays"] if e["name"] == name)


CORRUPTIONS = {
    "empty": lambda raw: b"",
    "only the magic": lambda raw: raw[:12],
    "another file": lambda raw: b"not a run file at all" + raw[21:],
    "header longer than the file": lambda raw: raw[:8] + struct.pack("<Q", len(raw)) + raw[16:],
    "cut in the data": lambda raw: raw[: len(raw) - 70],
    "header not JSON": lambda raw: raw[:16] + b"\xff" * 20 + raw[36:],
    "no arrays": lambda raw: _with_header(raw, lambda d: {"rows": d["rows"], "columns": d["columns"]}),
    "bad dtype": lambda raw: _with_header(raw, lambda d: (_entry(d, "0.values").update(dtype="<zz"), d)[1]),
    "object dtype": lambda raw: _with_header(raw, lambda d: (_entry(d, "0.values").update(dtype="|O"), d)[1]),
    "negative offset": lambda raw: _with_header(raw, lambda d: (_entry(d, "0.values").update(offset=-64), d)[1]),
    "array past the end": lambda raw: _with_header(raw, lambda d: (_entry(d, "1.data").update(shape=[10**6]), d)[1]),
    "more rows than arrays": lambda raw: _with_header(raw, lambda d: dict(d, rows=11)),
    "a column without offsets": lambda raw: _with_header(
        raw, lambda d: dict(d, arrays=[e for e in d["arrays"] if e["name"] != "1.offsets"])),
    "offsets past the data": lambda raw: _with_header(raw, lambda d: (_entry(d, "1.data").update(shape=[5]), d)[1]),
}


@pytest.mark.parametrize("fault", sorted(CORRUPTIONS))
def test_truncated_or_corrupt_run_files_raise_format_error(tmp_path: Path, fault: str) -> None:
    path, raw = _written(tmp_path)
    read_run(path).close()  # the intact file reads
    path.write_bytes(CORRUPTIONS[fault](raw))
    with pytest.raises(FormatError, match="run"):
        read_run(path)
