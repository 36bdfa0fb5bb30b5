"""Merging sorted runs into the parts of a version.

The parent cuts the key space into ranges (part boundaries chosen from the content-defined
key sample); each part task maps every run, slices out the rows of its key range, merges
them in key order (equal keys keep their input order: runs are in input order and every
sort is stable), applies the duplicate policy, and writes and verifies one segment."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rodata._columns import ColumnData
from rodata._segment import SegmentInfo, check_written, write_segment
from rodata.errors import DuplicateKeyError, RodataError
from rodata.etl import keys
from rodata.etl.runs import Run, RunColumn, read_run
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
    parent_pid: int


@dataclass(frozen=True)
class PartResult:
    index: int
    info: SegmentInfo | None  # None when no row fell in the range
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
    start = 0 if lo is None else keys.search(key, lo)
    stop = run.rows if hi is None else keys.search(key, hi)
    return start, stop


def _concat(pieces: Sequence[tuple[RunColumn, int, int]]) -> RunColumn:
    """Rows [a, b) of each run column, one after the other."""
    first = pieces[0][0]
    valid = None
    if any(c.valid is not None for c, _, _ in pieces):
        valid = np.concatenate([c.valid[a:b] if c.valid is not None else np.ones(b - a, dtype=bool)
                                for c, a, b in pieces])
    if first.values is not None:
        return RunColumn(values=np.concatenate([c.values[a:b] for c, a, b in pieces]), valid=valid)  # type: ignore[index]
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
    return RunColumn(offsets=np.concatenate(offsets), data=np.concatenate(datas) if datas else
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
                columns, dropped = _merged_columns(task)
                merged = time.perf_counter() - t0
            except RodataError as exc:
                done.failure = (task.index, exc)
                _mark_failed(claims)
                break
            if pending is not None and not _collect(pending, done):
                pending = None
                _mark_failed(claims)
                break
            pending = (task, writer.submit(_write_part, task, columns, dropped, merged))
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


def _write_part(task: PartTask, columns: list[ColumnData] | None, dropped: int, merged: float) -> PartResult:
    if columns is None:
        return PartResult(task.index, None, 0, {"merge": merged})
    t1 = time.perf_counter()
    info = write_segment(task.out_path, task.schema, columns)
    t2 = time.perf_counter()
    _verify(task.out_path, info)
    t3 = time.perf_counter()
    return PartResult(task.index, info, dropped, {"merge": merged, "write": t2 - t1, "verify": t3 - t2})


@dataclass
class _Piece:
    """The rows of one run that fall in a part's key range, copied out of the run's mapping (so no
    file stays open: a build may have far more runs than a process may open files)."""

    run: int  # index into the task's runs
    columns: list[RunColumn | None]
    lines: np.ndarray[Any, Any]

    @property
    def rows(self) -> int:
        return int(self.lines.shape[0])


def _copy(col: RunColumn, a: int, b: int) -> RunColumn:
    """Rows [a, b) of a run column as arrays of their own."""
    valid = None if col.valid is None else np.array(col.valid[a:b])
    if col.values is not None:
        return RunColumn(values=np.array(col.values[a:b]), valid=valid)
    assert col.offsets is not None and col.data is not None
    offs = col.offsets[a : b + 1]
    return RunColumn(offsets=offs - offs[0], data=np.array(col.data[int(offs[0]) : int(offs[-1])]), valid=valid)


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


def _column(pieces: Sequence[_Piece], i: int) -> RunColumn:
    """Column `i` of the pieces laid end to end; the pieces let go of it."""
    parts = []
    for piece in pieces:
        col = piece.columns[i]
        assert col is not None
        parts.append((col, 0, piece.rows))
        piece.columns[i] = None
    return _concat(parts)


def _merged_columns(task: PartTask) -> tuple[list[ColumnData] | None, int]:
    """The part's rows, merged in key order with the duplicate policy applied (None: no rows)."""
    key_index = task.schema.index(task.schema.key)
    pieces = _pieces(task, key_index)
    if not pieces:
        return None, 0
    in_order = _in_order(pieces, key_index)
    key = _column(pieces, key_index)
    order = None if in_order else keys.merge_order(key)
    if order is not None:
        key = keys.take(key, order)
    keep, dropped = _apply_duplicates(task, key, order, pieces)
    if keep is not None:
        order = keep if order is None else order[keep]
        key = keys.take(key, keep)
    columns: list[ColumnData] = []
    for i, column in enumerate(task.schema.columns):
        col = key if i == key_index else _column(pieces, i)
        if order is not None and i != key_index:
            col = keys.take(col, order)
        valid = col.valid
        if valid is not None and (not column.nullable or bool(valid.all())):
            valid = None
        columns.append(ColumnData(column, values=col.values, offsets=col.offsets, data=col.data, valid=valid))
    return columns, dropped


def _in_order(pieces: Sequence[_Piece], key_index: int) -> bool:
    """True when the slices follow each other in key order without overlap (sorted input)."""
    previous = None
    for piece in pieces:
        key = piece.columns[key_index]
        assert key is not None
        first, last = keys.key_at(key, 0), keys.key_at(key, piece.rows - 1)
        if previous is not None and not previous < first:
            return False
        previous = last
    return True


def _apply_duplicates(task: PartTask, key: RunColumn, order: np.ndarray[Any, Any] | None,
                      pieces: Sequence[_Piece]) -> tuple[np.ndarray[Any, Any] | None, int]:
    """The rows to keep under the duplicate policy (None: all), and how many were dropped."""
    n = key.rows
    if n < 2:
        return None, 0
    same = keys.equal_neighbors(key)
    if not same.any():
        return None, 0
    if task.on_duplicate == "error":
        at = int(np.flatnonzero(same)[0])
        rows = (at, at + 1) if order is None else (int(order[at]), int(order[at + 1]))
        where = [_where(task, pieces, r) for r in rows]
        value = keys.key_at(key, at)
        shown = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
        raise DuplicateKeyError(f"duplicate key {shown!r} in column {task.schema.key!r}: first at {where[0]}, "
                                f"again at {where[1]}", key=shown)
    keep = np.ones(n, dtype=bool)
    if task.on_duplicate == "first":
        keep[1:] = ~same  # the first of each run of equal keys (input order is kept within it)
    else:
        keep[:-1] = ~same
    return np.flatnonzero(keep), int(len(keep) - keep.sum())


def _where(task: PartTask, pieces: Sequence[_Piece], row: int) -> str:
    """``file:line`` of row `row` of the pieces laid end to end (only wanted for an error)."""
    for piece in pieces:
        if row < piece.rows:
            return f"{task.file_paths[task.runs[piece.run].file_index]}:{int(piece.lines[row])}"
        row -= piece.rows
    raise IndexError(row)


def _verify(path: str, info: SegmentInfo) -> None:
    """Read the part back (checksums and deep validation) before it may be published."""
    check_written(path, info)
