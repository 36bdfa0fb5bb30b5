"""What the worker processes do with one chunk of input: parse it in the compiled
tokenizer, sort it by key, and spill it as a sorted run.

Workers receive a path and a byte range (or a row-group range for Parquet), never a
mapping or the data itself, and hand back small results: run files, bad records,
counters and a key sample."""

from __future__ import annotations

import contextlib
import mmap
import os
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from rodata._core import _text
from rodata.errors import BadInputError, RodataError
from rodata.etl.chunk import ChunkResult, ChunkState, ChunkTask, RunInfo
from rodata.etl.sources import open_bytes

__all__ = ["ChunkResult", "ChunkTask", "RunInfo", "count_mapped", "count_mapped_batch", "count_range", "parse_chunk"]

_STREAM_BLOCK = 8 << 20
_COUNT_BLOCK = 4 << 20


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


def parse_chunk(task: ChunkTask) -> ChunkResult:
    """Parse one chunk into sorted runs (the worker's task)."""
    if task.source.format == "parquet":
        from rodata.etl.parquet import parse_row_groups

        result: ChunkResult = parse_row_groups(task)
        return result
    state = ChunkState(task)
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


def _parse_range(state: ChunkState) -> None:
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


def _parse_stream(state: ChunkState) -> None:
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
