"""What the worker processes do: count the quotes and newlines of the spans the plan cuts at, and
parse one chunk of input (by its format's reader, rodata.etl.formats), sort it by key and spill
it as a sorted run.

Workers receive a path and a byte range (or a row-group range for Parquet), never a
mapping or the data itself, and hand back small results: run files, bad records,
counters and a key sample."""

from __future__ import annotations

import os

import numpy as np

from rodata._core import _text
from rodata.etl.chunk import ChunkResult, ChunkTask, RunInfo
from rodata.etl.formats import reader_for
from rodata.etl.formats.text import mapped

__all__ = ["ChunkResult", "ChunkTask", "RunInfo", "count_mapped", "count_mapped_batch", "count_range", "parse_chunk"]

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
    with open(path, "rb") as fh, mapped(fh.fileno(), start, end) as (buf, base):
        return _text.count_quotes_newlines(buf[start - base : end - base], quote)


def parse_chunk(task: ChunkTask) -> ChunkResult:
    """Parse one chunk into sorted runs (the worker's task), by the reader of its format."""
    return reader_for(task.source.format).parse(task)
