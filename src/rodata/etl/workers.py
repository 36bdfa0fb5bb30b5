"""What the worker processes do with one chunk of input: parse it in the compiled
tokenizer, sort it by key, and spill it as a sorted run.

Workers receive a path and a byte range (or a row-group range for Parquet), never a
mapping or the data itself, and hand back small results: run files, bad records,
counters and a key sample."""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rodata._core import _text
from rodata.errors import BadInputError, RodataError
from rodata.etl import keys
from rodata.etl.badrecords import MAX_RECORD_BYTES, BadRecord, describe
from rodata.etl.runs import RunColumn, write_run
from rodata.etl.sources import Source, open_bytes
from rodata.store import pid_alive

__all__ = ["ChunkResult", "ChunkTask", "RunInfo", "count_mapped", "count_mapped_batch", "count_range", "parse_chunk"]

_STREAM_BLOCK = 8 << 20
_COUNT_BLOCK = 4 << 20


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


def count_range(path: str, start: int, end: int, quote: bytes) -> tuple[int, int]:
    """Quote and newline bytes in [start, end) of a file: the planner's prefix counts.  Read with
    pread into one reused buffer (no mapping: it may run in the build process itself)."""
    quotes = newlines = 0
    buf = bytearray(min(_COUNT_BLOCK, max(end - start, 0)))
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        pos = start
        while pos < end:
            got = os.preadv(fh.fileno(), [view[: min(len(buf), end - pos)]], pos)
            if got <= 0:
                break
            q, n = _text.count_quotes_newlines(np.frombuffer(buf, dtype=np.uint8, count=got), quote)
            quotes += q
            newlines += n
            pos += got
    return quotes, newlines


def count_mapped_batch(spans: list[tuple[str, int, int, bytes]]) -> list[tuple[int, int]]:
    """count_mapped for several spans in one task."""
    return [count_mapped(span) for span in spans]


def count_mapped(span: tuple[str, int, int, bytes]) -> tuple[int, int]:
    """count_range for a worker: the span mapped rather than copied."""
    path, start, end, quote = span
    if end <= start:
        return 0, 0
    with open(path, "rb") as fh, _mapped(fh.fileno(), start, end) as (buf, base):
        return _text.count_quotes_newlines(buf[start - base : end - base], quote)


@contextlib.contextmanager
def _mapped(fd: int, start: int, end: int) -> Iterator[tuple[np.ndarray[Any, Any], int]]:
    """Bytes [start, end) of a file, mapped read-only (no copy): (array, offset of its byte 0).

    The file is the worker's own input, mapped by the worker itself; an input truncated while
    it is read ends the worker (the build then fails with a runtime error, never publishes)."""
    base = start - start % mmap.ALLOCATIONGRANULARITY
    length = end - base
    if length <= 0:
        yield np.empty(0, dtype=np.uint8), start
        return
    mapping = mmap.mmap(fd, length, offset=base, access=mmap.ACCESS_READ)
    with contextlib.suppress(AttributeError, OSError):
        mapping.madvise(mmap.MADV_SEQUENTIAL)
    buf = np.frombuffer(mapping, dtype=np.uint8)
    try:
        yield buf, base
    finally:
        del buf
        with contextlib.suppress(BufferError):
            mapping.close()


class _Chunk:
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


def parse_chunk(task: ChunkTask) -> ChunkResult:
    """Parse one chunk into sorted runs (the worker's task)."""
    if task.source.format == "parquet":
        from rodata.etl.parquet import parse_row_groups

        result: ChunkResult = parse_row_groups(task)
        return result
    state = _Chunk(task)
    state.check_parent()
    try:
        if task.source.splittable:
            _parse_range(state)
        else:
            _parse_stream(state)
    except (EOFError, zlib.error, OSError) as exc:
        if task.source.compressed and not isinstance(exc, (FileNotFoundError, PermissionError)):
            raise BadInputError(f"corrupt gzip data: {exc}", path=task.source.path) from None
        raise
    result = state.finish()
    if result.widened and not result.stopped:
        from rodata.etl.widening import locate_widenings

        result.widened_at = {i: (value, task.source.path, line)
                             for i, (value, line) in locate_widenings(task, result.widened).items()}
    return result


def _parse_range(state: _Chunk) -> None:
    """A byte range of a plain file, mapped from its first record to the end of the file (the
    last record may run past the range)."""
    t = state.task
    with open(t.source.path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size != t.source.size:
            raise RodataError(f"{t.source.path}: the file changed while it was being built from")
        scan = t.start if t.known_start else t.start - 1
        if scan >= size:
            return
        with _mapped(fh.fileno(), scan, size) as (buf, base):
            if t.known_start:
                rec, line = t.start, t.line
            else:
                quote = t.quote if t.source.format == "csv" else b""
                found, lines = _text.find_record_start(buf, scan - base, t.in_quote, quote)
                if found < 0:
                    return
                rec, line = base + found, t.line + lines
            state.result.next_start, state.result.next_line = rec, line
            if rec >= t.end:
                return
            # In windows: the rows parsed so far spill as a run whenever they outgrow the budget.
            window = max(1 << 20, t.memory_budget // 4)
            pos, end = rec - base, min(t.end, size) - base
            while pos < end and not state.result.stopped:
                _status, pos, line = state.feed(buf, base, pos, min(end, pos + window), True, line)
            state.result.bytes_read = base + pos - rec
            state.result.next_start, state.result.next_line = base + pos, line


def _note_progress(path: str, fh: Any) -> None:
    """The compressed bytes read so far, for the build's progress bar (written in place: 8 bytes)."""
    raw = getattr(fh, "fileobj", None)
    if not path or raw is None:
        return
    with open(path, "r+b" if os.path.exists(path) else "wb") as out:
        out.write(int(raw.tell()).to_bytes(8, "little"))


def _parse_stream(state: _Chunk) -> None:
    """A whole compressed file, streamed: blocks of decompressed bytes, the partial record at
    the end of a block carried into the next."""
    t = state.task
    with open_bytes(t.source) as fh:
        skipped = 0
        while skipped < t.start:  # the header
            got = fh.read(min(_STREAM_BLOCK, t.start - skipped))
            if not got:
                return
            skipped += len(got)
        base, line = t.start, t.line
        carry = b""
        eof = False
        block_size = max(64 << 10, min(_STREAM_BLOCK, t.memory_budget // 4))  # rows spill within budget
        while not eof:
            block = fh.read(block_size)
            eof = not block
            data = carry + block if carry else block
            buf = np.frombuffer(data, dtype=np.uint8)
            status, pos, line = state.feed(buf, base, 0, len(buf), eof, line)
            state.result.bytes_read = base + pos - t.start
            _note_progress(t.progress_path, fh)
            if status == _text.STATUS_DONE and (eof or state.result.stopped):
                break
            carry = data[pos:]
            base += pos
            state.check_parent()
