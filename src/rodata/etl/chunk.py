"""One chunk of one input: the task a worker is given, the state of parsing it, and the result it
hands back.  The reader of every format (rodata.etl.formats) fills the same state, the sink of
its rows, so none of them imports another."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from rodata import keyorder
from rodata._columns import ColumnData
from rodata._core import _text
from rodata._process import pid_alive
from rodata.errors import RodataError
from rodata.etl.badrecords import MAX_RECORD_BYTES, BadRecord, describe
from rodata.etl.runs import write_run
from rodata.etl.sources import Source
from rodata.etl.tokenspec import TokenizerSpec

__all__ = ["ChunkResult", "ChunkState", "ChunkTask", "Fault", "RecordSyntax", "RunInfo"]

#: Where a bad record is at fault: its column index and the value shown (or None), or the whole
#: reason when the format words it itself.
Fault = tuple[int, bytes | None] | str


@dataclass(frozen=True)
class ChunkTask:
    """Parse the records that start in [start, end) of one input."""

    seq: int
    source: Source
    start: int  # a record start when `known_start`, else any byte: the first record at or after it
    end: int  # records starting at or after it belong to the next chunk
    known_start: bool
    in_quote: bool  # CSV quote state just before `start` (ignored when `known_start`)
    line: int  # line number at `start` (at `start - 1` when not `known_start`)
    columns: tuple[TokenizerSpec, ...]
    field_map: tuple[int, ...]  # CSV: column of each field, -1 for dropped
    null_values: tuple[bytes, ...]
    delimiter: bytes
    quote: bytes
    key_index: int
    max_bad: int  # stop once more than this many bad records were met
    spill_dir: str
    memory_budget: int  # bytes of parsed rows held before they are spilled as a run
    parent_pid: int
    row_groups: tuple[int, int] = (0, 0)  # Parquet
    names: tuple[str, ...] = ()  # the columns' names in the dataset, for messages (default: as in `columns`)
    progress_path: str = ""  # a stream: where to keep the compressed bytes read so far (progress.StreamProgress)


@dataclass(frozen=True)
class RunInfo:
    """One sorted run a chunk was spilled as."""

    path: str
    rows: int
    data_bytes: int  # the rows' column bytes, independent of how the input was chunked
    file_index: int  # the input it came from


@dataclass
class ChunkResult:
    """What a worker hands back for one chunk."""

    seq: int
    runs: list[RunInfo] = field(default_factory=list)
    rows: int = 0  # good records
    bad: list[BadRecord] = field(default_factory=list)
    bad_count: int = 0
    stopped: bool = False  # more than max_bad bad records: the chunk was not read to its end
    nulls: list[bool] = field(default_factory=list)  # per column: a null was met
    widened: dict[int, int] = field(default_factory=dict)  # column -> kinds its type cannot hold
    dims: dict[int, int] = field(default_factory=dict)
    widened_at: dict[int, tuple[str, str, int]] = field(default_factory=dict)  # column -> first (value, file, line)
    new_fields: list[tuple[str, int, int, int]] = field(default_factory=list)  # JSON: (name, kinds, line, dim)
    sample: Any = None  # content-defined key sample of the rows
    bytes_read: int = 0
    next_start: int = -1  # plain files: where the next chunk's first record starts (-1: not known)
    next_line: int = 0  # ... and its line
    seconds: dict[str, float] = field(default_factory=dict)  # time spent: "parse", "sort", "spill"

    @property
    def needs_another_pass(self) -> bool:
        """The schema must change (a wider type, a new field) before this input can be built."""
        return bool(self.widened or self.new_fields)


class RecordSyntax(Protocol):
    """What the parse state asks of a text format's reader (rodata.etl.formats)."""

    @property
    def adds_fields(self) -> bool:
        """Records may name fields the columns do not hold yet (JSON Lines): another pass adds them."""

    def tokenizer(self, task: ChunkTask) -> Any:
        """The compiled tokenizer of the task's columns."""

    def fault(self, task: ChunkTask, code: str, field_index: int, raw: bytes, at: int) -> Fault:
        """Where the bad record `raw` is at fault (`at`: the offset the tokenizer names)."""


class ChunkState:
    """The state of parsing one chunk: tokenizer, result and spilled runs: the sink every
    format's reader writes its rows to.  `syntax` is None for a reader without a tokenizer
    (Parquet), which hands its columns to :meth:`add_run` itself."""

    def __init__(self, task: ChunkTask, syntax: RecordSyntax | None = None) -> None:
        self.task = task
        self.syntax = syntax
        self.result = ChunkResult(task.seq, nulls=[False] * len(task.columns))
        self.tok: Any = syntax.tokenizer(task) if syntax is not None else None
        self.samples: list[Any] = []

    # -- feeding bytes -----------------------------------------------------------------

    def feed(self, buf: np.ndarray[Any, Any], base: int, pos: int, limit: int, eof: bool, line: int,
             ) -> tuple[int, int, int]:
        """Feed ``buf`` (its byte 0 is input offset `base`) from `pos`; returns (status, pos, line)
        with bad records collected on the way."""
        while True:
            t0 = time.perf_counter()
            status, pos, line = self.tok.feed(buf, pos, limit, eof, line)
            self._took("parse", t0)
            if status == _text.STATUS_BAD:
                self._bad(buf, base)
                if self.result.stopped:
                    return _text.STATUS_DONE, pos, line
                continue
            if self.tok.memory_bytes() > self.task.memory_budget:
                self.spill()
            return status, pos, line

    def _bad(self, buf: np.ndarray[Any, Any], base: int) -> None:
        t = self.task
        code, rec_start, rec_end, bad_pos, field_index, rec_line = self.tok.error()
        self.result.bad_count += 1
        if len(self.result.bad) > t.max_bad:
            self.result.stopped = True
            return
        raw = bytes(buf[rec_start : min(rec_end, rec_start + MAX_RECORD_BYTES)])
        bad_pos = min(max(bad_pos, rec_start), len(buf))
        line = rec_line + _text.count_newlines_in(buf, rec_start, bad_pos)
        column = _text.column_of(buf, bad_pos, rec_start)
        reason = self._reason(code, field_index, raw, bad_pos - rec_start)
        self.result.bad.append(BadRecord(t.source.index, t.source.path, base + rec_start, line, column, reason,
                                         raw, rec_end - rec_start > MAX_RECORD_BYTES))
        if len(self.result.bad) > t.max_bad:
            self.result.stopped = True

    def _reason(self, code: str, field_index: int, raw: bytes, at: int) -> str:
        t = self.task
        assert self.syntax is not None
        got = self.syntax.fault(t, code, field_index, raw, at)
        if isinstance(got, str):
            return got
        col_index, value = got
        if col_index < 0 or col_index >= len(t.columns):
            return describe(code, None, None, value)
        spec = t.columns[col_index]
        type_, dim = spec.type, spec.dim
        name = t.names[col_index] if col_index < len(t.names) else spec.name
        type_name = f"vector[{dim}]" if type_ == "vector" else type_
        if code == "null_key" or code == "missing_key":
            return f"{describe(code, None, None, None)} (key column {name!r})"
        return describe(code, name, type_name, value, dim=dim)

    # -- spilling sorted runs ----------------------------------------------------------------

    def spill(self) -> None:
        """Sort the rows parsed so far by key and write them as a run."""
        columns, lines = self.tok.finish()
        n = int(lines.shape[0])
        if n == 0 or self.tok.widened() or self._adds_fields():
            self._note_schema_changes()
            return
        # (dropped JSON fields come last, as columns of nothing)
        cols = [ColumnData(values=c.get("values"), offsets=c.get("offsets"), data=c.get("data"), valid=c["valid"])
                for c in columns if c is not None]
        self.add_run(cols, lines)

    def add_run(self, cols: list[ColumnData], lines: np.ndarray[Any, Any]) -> None:
        """Sort parsed rows (their input lines in `lines`) by key and spill them as a run."""
        t = self.task
        n = int(lines.shape[0])
        t0 = time.perf_counter()
        order = keyorder.sort_order(cols[t.key_index])
        if order is not None:
            cols = [c.take(order) for c in cols]
            lines = np.take(lines, order)
        t0 = self._took("sort", t0)
        path = os.path.join(t.spill_dir, f"run-{t.seq:06d}-{len(self.result.runs):04d}.bin")
        write_run(path, cols, lines)
        self._took("spill", t0)
        for i, c in enumerate(cols):
            if c.valid is not None and not bool(c.valid.all()):
                self.result.nulls[i] = True
        self.samples.append(keyorder.sample_keys(cols[t.key_index]))
        self.result.runs.append(RunInfo(path, n, _data_bytes(cols), t.source.index))
        self.result.rows += n

    def _note_schema_changes(self) -> None:
        """What the tokenizer met that the schema cannot hold (it accumulates over the chunk)."""
        self.result.widened = dict(self.tok.widened())
        dims = self.tok.vector_dims()
        self.result.dims = {index: dims[index] for index in self.result.widened if dims[index] > 0}
        if self.syntax is not None and self.syntax.adds_fields:
            self.result.new_fields = list(self.tok.new_fields())

    def _adds_fields(self) -> bool:
        return self.syntax is not None and self.syntax.adds_fields and bool(self.tok.new_fields())

    def finish(self) -> ChunkResult:
        if self.tok is not None:
            self.spill()
            self._note_schema_changes()
        if self.samples:
            if isinstance(self.samples[0], np.ndarray):
                self.result.sample = np.concatenate(self.samples)
            else:
                self.result.sample = [k for s in self.samples for k in s]
        return self.result

    def _took(self, step: str, since: float) -> float:
        now = time.perf_counter()
        self.result.seconds[step] = self.result.seconds.get(step, 0.0) + now - since
        return now

    def check_parent(self) -> None:
        """Stop when the build that asked for this work is gone (killed): never work for nobody."""
        if self.task.parent_pid and not pid_alive(self.task.parent_pid):
            raise RodataError("the build process is gone")


def _data_bytes(cols: list[ColumnData]) -> int:
    total = 0
    for c in cols:
        if c.values is not None:
            total += c.values.nbytes
        else:
            assert c.offsets is not None and c.data is not None
            total += c.data.nbytes + 8 * (c.offsets.shape[0] - 1)
    return total
