"""One chunk of one input: the task a worker is given, the state of parsing it, and the result it
hands back.  Readers of every format (rodata.etl.workers for text, rodata.etl.parquet) fill the
same state, so none of them imports another."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rodata._core import _text
from rodata.errors import RodataError
from rodata.etl import keys
from rodata.etl.badrecords import MAX_RECORD_BYTES, BadRecord, describe
from rodata.etl.runs import RunColumn, write_run
from rodata.etl.sources import Source
from rodata.store import pid_alive

__all__ = ["ChunkResult", "ChunkState", "ChunkTask", "RunInfo"]


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
    columns: tuple[tuple[str, str, int, bool, bool, bool], ...]
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
    parquet_columns: tuple[tuple[str, str, int], ...] = ()  # Parquet: (source, type, dim) per column
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


class ChunkState:
    """The state of parsing one chunk: tokenizer, result and spilled runs."""

    def __init__(self, task: ChunkTask, *, tokenizer: bool = True) -> None:
        self.task = task
        self.result = ChunkResult(task.seq, nulls=[False] * len(task.columns))
        self.tok: Any = self._tokenizer() if tokenizer else None
        self.samples: list[Any] = []
        self.check_every = 0

    def _tokenizer(self) -> Any:
        t = self.task
        hint = max(1024, min(t.end - t.start, t.memory_budget) // 64)
        if t.source.format == "csv":
            return _text.CsvTokenizer(list(t.columns), list(t.field_map), list(t.null_values), t.delimiter,
                                      t.quote, rows_hint=hint)
        return _text.JsonTokenizer(list(t.columns), list(t.null_values), rows_hint=hint)

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
        if t.source.format == "csv":
            fields = _split_fields(raw, t.delimiter, t.quote)
            if code == "field_count":
                return describe(code, None, None, None, expected_fields=len(t.field_map),
                                found_fields=None if fields is None else len(fields))
            col_index = t.field_map[field_index] if 0 <= field_index < len(t.field_map) else -1
            # A value fault is reported at its field's start: the field alone, whatever comes after it.
            value = _csv_field_at(raw, at, t.delimiter, t.quote) if code in ("syntax", "range") else None
        else:
            col_index, value = field_index, _json_value(raw, at) if code in ("syntax", "range") else None
        if col_index < 0 or col_index >= len(t.columns):
            return describe(code, None, None, value)
        _source, type_, dim, *_ = t.columns[col_index]
        name = t.names[col_index] if col_index < len(t.names) else _source
        type_name = f"vector[{dim}]" if type_ == "vector" else type_
        if code == "null_key" or code == "missing_key":
            return f"{describe(code, None, None, None)} (key column {name!r})"
        return describe(code, name, type_name, value, dim=dim)

    # -- spilling sorted runs ----------------------------------------------------------------

    def spill(self) -> None:
        """Sort the rows parsed so far by key and write them as a run."""
        t = self.task
        columns, lines = self.tok.finish()
        n = int(lines.shape[0])
        if n == 0 or self.tok.widened() or (t.source.format == "jsonl" and self.tok.new_fields()):
            self._note_schema_changes()
            return
        # (dropped JSON fields come last, as columns of nothing)
        cols = [RunColumn(values=c.get("values"), offsets=c.get("offsets"), data=c.get("data"), valid=c["valid"])
                for c in columns if c is not None]
        self._add_run(cols, lines)

    def _add_run(self, cols: list[RunColumn], lines: np.ndarray[Any, Any]) -> None:
        t = self.task
        n = int(lines.shape[0])
        t0 = time.perf_counter()
        order = keys.sort_order(cols[t.key_index])
        if order is not None:
            cols = [keys.take(c, order) for c in cols]
            lines = np.take(lines, order)
        t0 = self._took("sort", t0)
        path = os.path.join(t.spill_dir, f"run-{t.seq:06d}-{len(self.result.runs):04d}.bin")
        write_run(path, cols, lines)
        self._took("spill", t0)
        for i, c in enumerate(cols):
            if c.valid is not None and not bool(c.valid.all()):
                self.result.nulls[i] = True
        self.samples.append(keys.sample_keys(cols[t.key_index]))
        self.result.runs.append(RunInfo(path, n, _data_bytes(cols), t.source.index))
        self.result.rows += n

    def _note_schema_changes(self) -> None:
        """What the tokenizer met that the schema cannot hold (it accumulates over the chunk)."""
        self.result.widened = dict(self.tok.widened())
        dims = self.tok.vector_dims()
        self.result.dims = {index: dims[index] for index in self.result.widened if dims[index] > 0}
        if self.task.source.format == "jsonl":
            self.result.new_fields = list(self.tok.new_fields())

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



def _csv_field_at(raw: bytes, at: int, delimiter: bytes, quote: bytes) -> bytes:
    """The value of the CSV field that starts at `raw[at]` (quotes removed, doubled ones undone)."""
    if quote and raw[at : at + 1] == quote:
        value, i = bytearray(), at + 1
        while i < len(raw):
            if raw[i : i + 1] == quote:
                if raw[i + 1 : i + 2] != quote:
                    break
                i += 1
            value += raw[i : i + 1]
            i += 1
        return bytes(value)
    end = len(raw)
    for stop in (delimiter, b"\n"):
        found = raw.find(stop, at)
        if 0 <= found < end:
            end = found
    return raw[at:end].removesuffix(b"\r")


def _split_fields(raw: bytes, delimiter: bytes, quote: bytes) -> list[bytes] | None:
    try:
        got = _text.csv_split_record(np.frombuffer(raw, dtype=np.uint8), 0, delimiter, quote, True)
    except ValueError:
        return None
    return None if got is None else got[0]


def _json_value(raw: bytes, at: int) -> bytes | None:
    """The JSON value that starts at `raw[at]`, for a message: a string's content, else its text."""
    text = raw[at:].decode("utf-8", "surrogateescape")
    try:
        value, end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None
    try:
        return (value if isinstance(value, str) else text[:end]).encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate escape
        return None


def _data_bytes(cols: list[RunColumn]) -> int:
    total = 0
    for c in cols:
        if c.values is not None:
            total += c.values.nbytes
        else:
            assert c.offsets is not None and c.data is not None
            total += c.data.nbytes + 8 * (c.offsets.shape[0] - 1)
    return total


# -- reading ---------------------------------------------------------------------------------
