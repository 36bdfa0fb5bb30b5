"""How large an answer can be, known before it is built.

Every answer that can be large (a JSON column slice, a lookup in JSON or npz, a scan
page) is sized here first and refused with :class:`AnswerTooLarge` when its bound is
over the limit, so that no oversized body is ever built on the event loop.

The bound of a JSON answer adds up, for each value, :func:`rodata.encode.max_value_bytes`
of a fixed-width type (its longest text, whatever the value), the exact base64 length
of a ``bytes`` value, and the exact escaped length of a string (its UTF-8 bytes plus
one byte for each ``"`` or ``\\`` and for each of ``\\b \\t \\n \\f \\r``, five for other
control characters), with the punctuation of the document.  String lengths come from
the offsets without reading the strings; their bytes are read (once, to count the
characters to escape) only when the answer is within reach of the limit."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rodata._core import Segment, take_varwidth
from rodata.batch import Batch
from rodata.dataset import Dataset
from rodata.encode import dumps, max_value_bytes
from rodata.errors import RodataError
from rodata.schema import Schema

__all__ = ["AnswerTooLarge", "RowShape", "Tally", "column_slice_tally", "lookup_tally", "scan_tally"]

#: Bytes a JSON string escape adds to each byte value.
_ESCAPE_EXTRA = np.zeros(256, dtype=np.int64)
_ESCAPE_EXTRA[:0x20] = 5  # \u00XX
_ESCAPE_EXTRA[[0x08, 0x09, 0x0A, 0x0C, 0x0D, 0x22, 0x5C]] = 1  # \b \t \n \f \r \" \\
_WORST_ESCAPE = 6
#: Quotes around a string or base64 value, or the ``null`` in its place.
_VARLEN_OVERHEAD = 4


class AnswerTooLarge(RodataError):
    """An answer whose size bound is over the limit (nothing was built); `code` names the limit."""

    def __init__(self, message: str, *, bound: int, limit: int, code: str) -> None:
        super().__init__(message)
        self.bound = bound
        self.limit = limit
        self.code = code


@dataclass
class Tally:
    """The size bound of one answer, added up part by part (see the module docstring)."""

    fixed: int = 0  # punctuation, names, fixed-width values at their longest, base64 values
    string_bytes: int = 0  # UTF-8 bytes of the string values
    # where those strings lie, to count their escapes if needed: (offsets, data, rows or (lo, hi))
    strings: list[tuple[Any, Any, Any]] = field(default_factory=list)

    def add_varlen(self, kind: str, offsets: Any, data: Any, rows: Any) -> None:
        """Add the values of a string/bytes column at `rows` (int64 rows, -1 = absent, or ``(lo, hi)``)."""
        lengths = _lengths(offsets, rows)
        self.fixed += _VARLEN_OVERHEAD * len(lengths)
        if kind == "bytes":
            self.fixed += int((4 * ((lengths + 2) // 3)).sum())
        else:
            self.string_bytes += int(lengths.sum())
            self.strings.append((offsets, data, rows))

    def check(self, limit: int, what: str, code: str) -> int:
        """The bound, or :class:`AnswerTooLarge` when it is over `limit`."""
        cheap = self.fixed + _WORST_ESCAPE * self.string_bytes
        if cheap <= limit:
            return cheap
        bound = self.fixed + self.string_bytes
        if bound <= limit:  # within reach: count the escapes (reads at most `limit` bytes)
            bound += sum(_escape_extra(*where) for where in self.strings)
        if bound > limit:
            raise AnswerTooLarge(f"{what} would take up to {bound} bytes; the limit is {limit} "
                                 "(ask for fewer rows or columns)", bound=bound, limit=limit, code=code)
        return bound


def _lengths(offsets: Any, rows: Any) -> np.ndarray[Any, Any]:
    if isinstance(rows, tuple):
        lo, hi = rows
        edges = offsets[lo : hi + 1].astype(np.int64)
        lengths: np.ndarray[Any, Any] = np.maximum(np.diff(edges), 0)
        return lengths
    present = rows[rows >= 0]
    lengths = np.maximum(offsets[present + 1].astype(np.int64) - offsets[present].astype(np.int64), 0)
    return lengths


def _escape_extra(offsets: Any, data: Any, rows: Any) -> int:
    if isinstance(rows, tuple):
        lo, hi = rows
        a, b = int(offsets[lo]), int(offsets[hi])
        chunk = data[a:b] if 0 <= a <= b <= len(data) else data[:0]
    else:
        present = np.ascontiguousarray(rows[rows >= 0], dtype=np.int64)
        try:
            chunk = take_varwidth(offsets, data, present)[1]
        except (IndexError, ValueError):  # malformed offsets: reading the rows will say where
            return 0
    return int(_ESCAPE_EXTRA[chunk].sum())


# -- rows --------------------------------------------------------------------------------------


class RowShape:
    """The bound of one row of a projection as a JSON object, without its strings' content."""

    __slots__ = ("fixed", "varlen")

    def __init__(self, schema: Schema, proj: Sequence[int]) -> None:
        fixed = 2 + max(0, len(proj) - 1)  # {} and the commas
        varlen: list[tuple[int, str]] = []
        for index in proj:
            column = schema.columns[index]
            fixed += len(dumps(column.name)) + 1
            if column.fixed_width:
                fixed += max_value_bytes(column)
            else:
                varlen.append((index, column.type))
        self.fixed = fixed
        self.varlen = tuple(varlen)

    def add_rows(self, tally: Tally, seg: Segment, rows: Any, count: int) -> None:
        """Add `count` rows of segment `seg` (``rows``: int64 rows with -1 skipped, or ``(lo, hi)``)."""
        tally.fixed += count * self.fixed
        for index, kind in self.varlen:
            offsets, data = seg.offsets_view(index)
            tally.add_varlen(kind, offsets, data, rows)


def _batch_pieces(batch: Batch) -> Iterator[tuple[Segment, Any, int]]:
    """``(segment, rows, found rows)`` of each piece of a batch."""
    for seg, _, rows in batch._pieces:
        if isinstance(rows, slice):
            yield seg, (rows.start, rows.stop), rows.stop - rows.start
        else:
            yield seg, rows, int((rows >= 0).sum())


def lookup_tally(batch: Batch, shape: RowShape) -> Tally:
    """The bound of ``{"rows": [row or null, ...]}`` for a lookup's batch."""
    n = len(batch)
    tally = Tally(fixed=len(b'{"rows":[]}') + max(0, n - 1))
    found = 0
    for seg, rows, count in _batch_pieces(batch):
        shape.add_rows(tally, seg, rows, count)
        found += count
    tally.fixed += 4 * (n - found)  # null
    return tally


def scan_tally(batches: Sequence[Batch], shape: RowShape, cursor: Any) -> Tally:
    """The bound of ``{"rows": [...], "next": cursor}`` for the batches of one scan page."""
    rows = sum(len(b) for b in batches)
    tally = Tally(fixed=len(b'{"rows":[],"next":}') + max(0, rows - 1) + len(dumps(cursor)))
    for batch in batches:
        for seg, where, count in _batch_pieces(batch):
            shape.add_rows(tally, seg, where, count)
    return tally


# -- column slices ----------------------------------------------------------------------------


def column_slice_tally(ds: Dataset, name: str, offset: int, rows: int) -> Tally:
    """The bound of a JSON column slice: ``[value, ...]``."""
    index = ds.schema.index(name)
    column = ds.schema.columns[index]
    tally = Tally(fixed=2 + max(0, rows - 1))
    if column.fixed_width:
        tally.fixed += rows * max_value_bytes(column)
        return tally
    for seg, lo, hi in ds.row_ranges(offset, offset + rows):
        offsets, data = seg.offsets_view(index)
        tally.add_varlen(column.type, offsets, data, (lo, hi))
    return tally


def npz_bound(rows: int, members: Sequence[tuple[str, int]]) -> int:
    """The size bound of an uncompressed ``.npz`` of `members` (``(name, bytes per row)``)."""
    # Per member: a .npy header (< 128 bytes for these shapes), the zip local header and data
    # descriptor, the central directory entry (each with the name and a ZIP64 extra field).
    per_member = 128 + 256
    return 256 + sum(rows * width + per_member + 2 * len(name.encode()) for name, width in members)
