"""Cutting inputs into chunks that workers parse independently.

A plain CSV or JSON Lines file is cut at arbitrary byte boundaries b_0 < b_1 < ... < b_k;
chunk i owns the records that *start* in [b_i, b_{i+1}).  A record starts after a newline
that lies outside quotes, and whether a byte lies inside quotes follows from the parity of
the quote bytes before it (RFC 4180 doubles a quote inside a quoted field, so doubled
quotes never change the parity).  A quick first round counts the quote and newline bytes
of each span; the prefix sums tell each chunk its quote state and line number at its
boundary, and the worker finds its first record from there.  One big file thus uses
every core, and a record with line breaks in quotes is never split.

Compressed files are read whole, as streams; Parquet files are cut at row groups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rodata.errors import UsageError

__all__ = ["ChunkBounds", "count_spans", "prefix_states", "split_points"]


@dataclass(frozen=True)
class ChunkBounds:
    """One chunk of a file: records starting in [start, end)."""

    start: int
    end: int
    known_start: bool  # start is the data start (a record start)
    in_quote: bool  # the quote state at start - 1 (before that byte)
    line: int  # the line number at start (known_start) or at start - 1


def split_points(data_start: int, size: int, chunk_bytes: int) -> list[int]:
    """Boundaries ``[data_start, ..., size]`` about `chunk_bytes` apart (at least one chunk)."""
    if chunk_bytes < 1:
        raise UsageError("chunk_bytes must be positive")
    span = max(size - data_start, 0)
    count = max(1, -(-span // chunk_bytes))
    points = [data_start + (span * i) // count for i in range(count)]
    points.append(max(size, data_start))
    # Drop empty chunks (a tiny span cut many ways).
    out = [points[0]]
    for p in points[1:]:
        if p > out[-1]:
            out.append(p)
    if len(out) == 1:
        out.append(out[0])
    return out


def count_spans(points: Sequence[int]) -> list[tuple[int, int]]:
    """The spans whose quote/newline counts place every chunk after the first: chunk i (i >= 1)
    is probed at p_i = b_i - 1, so the spans are [b_0, p_1), [p_1, p_2), ..., [p_{k-2}, p_{k-1})."""
    probes = [p - 1 for p in points[1:-1]]
    spans = []
    previous = points[0]
    for p in probes:
        spans.append((previous, p))
        previous = p
    return spans


def prefix_states(points: Sequence[int], counts: Sequence[tuple[int, int]], first_line: int,
                  ) -> list[ChunkBounds]:
    """The chunks of a file from its boundaries and the (quotes, newlines) of each count span."""
    if len(counts) != max(len(points) - 2, 0):
        raise ValueError("one count per chunk after the first is needed")
    chunks = [ChunkBounds(points[0], points[1], True, False, first_line)]
    quotes = newlines = 0
    for i, (q, n) in enumerate(counts, start=1):
        quotes += q
        newlines += n
        chunks.append(ChunkBounds(points[i], points[i + 1], False, bool(quotes & 1), first_line + newlines))
    return chunks
