"""What the text formats (CSV, JSON Lines) share: byte-range tasks and their parse in the compiled
tokenizer — a plain file mapped and read from its first record, a compressed one streamed.

Workers receive a path and a byte range, never a mapping or the data itself."""

from __future__ import annotations

import contextlib
import mmap
import os
import zlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from rodata._core import _text
from rodata.errors import BadInputError, RodataError
from rodata.etl.chunk import ChunkResult, ChunkState, ChunkTask, Fault
from rodata.etl.formats.base import FormatReader, PlannedInput, ProgressPath
from rodata.etl.plan import ChunkBounds, prefix_states
from rodata.etl.sources import open_bytes, read_head
from rodata.etl.widening import locate_widenings

__all__ = ["Records", "TextReader", "bom_length", "mapped"]

_STREAM_BLOCK = 8 << 20

#: (line, values) of each record of a chunk's bytes, to find a widening value: values(i) is the
#: value of column i, or None.
Records = Iterator[tuple[int, Any]]


class TextReader(FormatReader):
    """A text format read by a compiled tokenizer (the parse state's RecordSyntax)."""

    def tokenizer(self, task: ChunkTask) -> Any:
        """The compiled tokenizer of the task's columns."""
        raise NotImplementedError

    def fault(self, task: ChunkTask, code: str, field_index: int, raw: bytes, at: int) -> Fault:
        """A bad record's column index and the value at fault, or the whole reason."""
        raise NotImplementedError

    def records(self, task: ChunkTask, data: bytes) -> Records:
        """The records of `data` (the task's bytes from where its worker starts looking)."""
        raise NotImplementedError

    def tasks(self, template: ChunkTask, inp: PlannedInput, first_seq: int, chunk_bytes: int,
              progress_path: ProgressPath) -> list[ChunkTask]:
        """A plain file's byte ranges (cut and counted by the plan), or a stream's one task."""
        if inp.source.splittable:
            assert inp.points is not None and inp.counts is not None
            bounds = prefix_states(inp.points, inp.counts, inp.first_line)
        else:
            bounds = [ChunkBounds(inp.data_start, 1 << 62, True, False, inp.first_line)]
        tasks: list[ChunkTask] = []
        for chunk in bounds:
            seq = first_seq + len(tasks)
            tasks.append(replace(template, seq=seq, source=inp.source, start=chunk.start, end=chunk.end,
                                 known_start=chunk.known_start, in_quote=chunk.in_quote, line=chunk.line,
                                 field_map=inp.field_map, progress_path=progress_path(seq, inp.source)))
        return tasks

    def task_bytes(self, task: ChunkTask) -> int:
        if task.source.splittable:
            return max(0, min(task.end, task.source.size) - task.start)
        return task.source.size

    def parse(self, task: ChunkTask) -> ChunkResult:
        state = ChunkState(task, self)
        state.check_parent()
        try:
            if task.source.splittable:
                _parse_range(state, task.quote if self.quoted else b"")
            else:
                _parse_stream(state)
        except (EOFError, zlib.error, OSError) as exc:
            if task.source.compressed and not isinstance(exc, (FileNotFoundError, PermissionError)):
                raise BadInputError(f"corrupt gzip data: {exc}", path=task.source.path) from None
            raise
        result = state.finish()
        if result.widened and not result.stopped:
            result.widened_at = {i: (value, task.source.path, line)
                                 for i, (value, line) in locate_widenings(task, result.widened, self.records).items()}
        return result


def bom_length(source: Any) -> int:
    """3 when the input starts with a UTF-8 byte-order mark, else 0."""
    head, _ = read_head(source, 3)
    return 3 if head == b"\xef\xbb\xbf" else 0


@contextlib.contextmanager
def mapped(fd: int, start: int, end: int) -> Iterator[tuple[np.ndarray[Any, Any], int]]:
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


def _parse_range(state: ChunkState, quote: bytes) -> None:
    """A byte range of a plain file, mapped from its first record to the end of the file (the
    last record may run past the range; `quote` decides where a record may start)."""
    t = state.task
    with open(t.source.path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size != t.source.size:
            raise RodataError(f"{t.source.path}: the file changed while it was being built from")
        scan = t.start if t.known_start else t.start - 1
        if scan >= size:
            return
        with mapped(fh.fileno(), scan, size) as (buf, base):
            if t.known_start:
                rec, line = t.start, t.line
            else:
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
