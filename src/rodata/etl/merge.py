"""Merging sorted runs into the parts of a version.

The parent cuts the key space into ranges (part boundaries chosen from the content-defined
key sample); each part task maps every run, slices out the rows of its key range, merges
them in key order (equal keys keep their input order: runs are in input order and every
sort is stable), and hands them to the part writer (rodata.parts_writer): duplicate policy, segment,
verification."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rodata import keyorder
from rodata._columns import ColumnData
from rodata.errors import RodataError
from rodata.etl.runs import Run, read_run
from rodata.manifest import PartEntry
from rodata.parts_writer import Layout, OrderedRows, order_rows, write_rows
from rodata.schema import Schema

__all__ = ["PartResult", "PartTask", "PartsDone", "choose_boundaries", "merge_part", "merge_parts",
           "merge_parts_claimed", "part_count"]

_PART_ROUND = 16  # several parts are a multiple of this many, so up to 16 workers share them evenly


@dataclass(frozen=True)
class RunRef:
    """A run and the input it came from (for duplicate messages)."""

    path: str
    file_index: int


@dataclass(frozen=True)
class PartTask:
    """Write part `index`: the rows with lo <= key < hi (None: unbounded)."""

    index: int
    lo: Any
    hi: Any
    runs: tuple[RunRef, ...]
    schema: Schema
    on_duplicate: str
    out_path: str
    file_paths: tuple[str, ...]


@dataclass(frozen=True)
class PartResult:
    index: int
    info: PartEntry | None  # None when no row fell in the range
    duplicates: int  # rows dropped by the first/last policy
    seconds: dict[str, float] = field(default_factory=dict)  # time spent: "merge", "write", "verify"


def part_count(data_bytes: int, part_bytes: int) -> int:
    """How many parts: one when the data fits one part, else enough parts of at most
    `part_bytes`, rounded up to a multiple of 16.  It depends on the data and the memory
    budget only — never on the number of workers — so every worker count writes the same parts."""
    if data_bytes <= part_bytes:
        return 1
    parts = math.ceil(data_bytes / part_bytes)
    return -(-parts // _PART_ROUND) * _PART_ROUND


def choose_boundaries(samples: Sequence[Any], parts: int, string_keys: bool) -> list[Any]:
    """`parts - 1` increasing key boundaries at even quantiles of the merged key sample."""
    if parts <= 1:
        return []
    if string_keys:
        merged: Any = sorted(k for s in samples if s is not None for k in s)
    else:
        arrays = [s for s in samples if s is not None and len(s)]
        merged = np.sort(np.concatenate(arrays)) if arrays else np.empty(0, dtype=np.int64)
    n = len(merged)
    if n == 0:
        return []
    bounds: list[Any] = []
    for j in range(1, parts):
        value = merged[min(n - 1, (j * n) // parts)]
        value = value if string_keys else int(value)
        if not bounds or value > bounds[-1]:
            bounds.append(value)
    return bounds


def _slice_bounds(run: Run, key_index: int, lo: Any, hi: Any) -> tuple[int, int]:
    key = run.columns[key_index]
    start = 0 if lo is None else keyorder.search(key, lo)
    stop = run.rows if hi is None else keyorder.search(key, hi)
    return start, stop


def _concat(pieces: Sequence[tuple[ColumnData, int, int]]) -> ColumnData:
    """Rows [a, b) of each run column, one after the other."""
    first = pieces[0][0]
    valid = None
    if any(c.valid is not None for c, _, _ in pieces):
        valid = np.concatenate([c.valid[a:b] if c.valid is not None else np.ones(b - a, dtype=bool)
                                for c, a, b in pieces])
    if first.values is not None:
        return ColumnData(values=np.concatenate([c.values[a:b] for c, a, b in pieces]), valid=valid)  # type: ignore[index]
    offsets = [np.zeros(1, dtype=np.uint64)]
    datas = []
    total = np.uint64(0)
    for c, a, b in pieces:
        assert c.offsets is not None and c.data is not None
        offs = c.offsets[a : b + 1]
        start = offs[0]
        offsets.append(offs[1:] - start + total)
        datas.append(c.data[int(start) : int(offs[-1])])
        total += offs[-1] - start
    return ColumnData(offsets=np.concatenate(offsets), data=np.concatenate(datas) if datas else
                     np.empty(0, dtype=np.uint8), valid=valid)


def merge_part(task: PartTask) -> PartResult:
    """Merge the runs' rows of one key range into a verified segment file."""
    done = merge_parts([task])
    if done.failure is not None:
        raise done.failure[1]
    return done.results[0]


def merge_parts(tasks: Sequence[PartTask], claims: str | None = None) -> PartsDone:
    """Merge parts one after the other (the worker's task).  With a `claims` directory, several
    workers run this on the same list: each takes the next part nobody took yet (an exclusive
    create of claims/part-N), so the work balances itself.  A helper thread writes, fsyncs and
    verifies each part while the next one is merged, so the disk's time overlaps the CPU's.

    A failure stops this worker; it is returned, with its part, rather than raised, so that the
    build reports the failure of the lowest part whoever met it (every part before it was taken
    by some worker, since all take parts in order)."""
    done = PartsDone()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rodata-part-writer") as writer:
        pending: tuple[PartTask, Future[PartResult]] | None = None
        for task in tasks:
            if claims is not None and not _claim(claims, task.index):
                continue
            try:
                t0 = time.perf_counter()
                rows = _merged_rows(task)
                merged = time.perf_counter() - t0
            except RodataError as exc:
                done.failure = (task.index, exc)
                _mark_failed(claims)
                break
            if pending is not None and not _collect(pending, done):
                pending = None
                _mark_failed(claims)
                break
            pending = (task, writer.submit(_write_part, task, rows, merged))
        if pending is not None and not _collect(pending, done):
            _mark_failed(claims)
    return done


def merge_parts_claimed(args: tuple[Sequence[PartTask], str]) -> PartsDone:
    """A merge worker's task: take parts from the shared list until none is left."""
    tasks, claims = args
    return merge_parts(tasks, claims)


@dataclass
class PartsDone:
    """What one merge task did: its parts, and the failure that stopped it (part index, error)."""

    results: list[PartResult] = field(default_factory=list)
    failure: tuple[int, BaseException] | None = None


def _claim(claims: str, index: int) -> bool:
    if os.path.exists(os.path.join(claims, "failed")):
        return False  # some part failed: every part before it is taken already, so stop here
    try:
        os.close(os.open(os.path.join(claims, f"part-{index:05d}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    return True


def _collect(pending: tuple[PartTask, Future[PartResult]], done: PartsDone) -> bool:
    task, future = pending
    try:
        done.results.append(future.result())
    except RodataError as exc:
        if done.failure is None or task.index < done.failure[0]:
            done.failure = (task.index, exc)
        return False
    return True


def _mark_failed(claims: str | None) -> None:
    if claims is not None:
        with open(os.path.join(claims, "failed"), "a"):
            pass


def _write_part(task: PartTask, rows: OrderedRows | None, merged: float) -> PartResult:
    if rows is None:
        return PartResult(task.index, None, 0, {"merge": merged})
    seconds = {"merge": merged}
    info = write_rows(task.out_path, task.schema, rows.columns, seconds=seconds)
    return PartResult(task.index, info, rows.duplicates, seconds)


@dataclass
class _Piece:
    """The rows of one run that fall in a part's key range, copied out of the run's mapping (so no
    file stays open: a build may have far more runs than a process may open files)."""

    run: int  # index into the task's runs
    columns: list[ColumnData | None]
    lines: np.ndarray[Any, Any]

    @property
    def rows(self) -> int:
        return int(self.lines.shape[0])


def _copy(col: ColumnData, a: int, b: int) -> ColumnData:
    """Rows [a, b) of a run column as arrays of their own."""
    valid = None if col.valid is None else np.array(col.valid[a:b])
    if col.values is not None:
        return ColumnData(values=np.array(col.values[a:b]), valid=valid)
    assert col.offsets is not None and col.data is not None
    offs = col.offsets[a : b + 1]
    return ColumnData(offsets=offs - offs[0], data=np.array(col.data[int(offs[0]) : int(offs[-1])]), valid=valid)


def _pieces(task: PartTask, key_index: int) -> list[_Piece]:
    """Each run's rows of the part's key range, one run mapped at a time."""
    pieces = []
    for r, ref in enumerate(task.runs):
        run = read_run(ref.path)
        try:
            start, stop = _slice_bounds(run, key_index, task.lo, task.hi)
            if stop > start:
                pieces.append(_Piece(r, [_copy(c, start, stop) for c in run.columns],
                                     np.array(run.lines[start:stop])))
        finally:
            run.close()
    return pieces


def _column(pieces: Sequence[_Piece], i: int) -> ColumnData:
    """Column `i` of the pieces laid end to end; the pieces let go of it."""
    parts = []
    for piece in pieces:
        col = piece.columns[i]
        assert col is not None
        parts.append((col, 0, piece.rows))
        piece.columns[i] = None
    return _concat(parts)


def _merged_rows(task: PartTask) -> OrderedRows | None:
    """The part's rows, merged in key order with the duplicate policy applied (None: no rows)."""
    key_index = task.schema.index(task.schema.key)
    pieces = _pieces(task, key_index)
    if not pieces:
        return None
    layout: Layout = "sorted" if _in_order(pieces, key_index) else "runs"
    columns = [_column(pieces, i) for i in range(len(task.schema.columns))]
    return order_rows(task.schema, columns, task.on_duplicate, layout=layout,
                      where=lambda a, b: f": first at {_where(task, pieces, a)}, again at {_where(task, pieces, b)}")


def _in_order(pieces: Sequence[_Piece], key_index: int) -> bool:
    """True when the slices follow each other in key order without overlap (sorted input)."""
    previous: Any = None
    for piece in pieces:
        key = piece.columns[key_index]
        assert key is not None
        first: Any = keyorder.key_at(key, 0)
        last = keyorder.key_at(key, piece.rows - 1)
        if previous is not None and not previous < first:
            return False
        previous = last
    return True


def _where(task: PartTask, pieces: Sequence[_Piece], row: int) -> str:
    """``file:line`` of row `row` of the pieces laid end to end (only wanted for an error)."""
    for piece in pieces:
        if row < piece.rows:
            return f"{task.file_paths[task.runs[piece.run].file_index]}:{int(piece.lines[row])}"
        row -= piece.rows
    raise IndexError(row)

