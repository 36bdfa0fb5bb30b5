"""``rodata.Batch``: rows from a batch lookup or one page of a scan, column by column."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from rodata import frames
from rodata._core import Segment
from rodata.errors import UnknownColumnError
from rodata.schema import Schema

__all__ = ["Batch", "Piece"]

#: (segment, positions in the batch or None for "all, in order", rows: int64 array with -1 = absent, or a slice)
Piece = tuple[Segment, "np.ndarray[Any, Any] | None", "np.ndarray[Any, Any] | slice"]


def _rows_array(rows: np.ndarray[Any, Any] | slice) -> np.ndarray[Any, Any]:
    if isinstance(rows, slice):
        return np.arange(rows.start, rows.stop, dtype=np.int64)
    return rows


class Batch:
    """Rows aligned with the keys asked for (``get_many``) or a run of rows in key order (``scan``).

    ``batch.found`` is a bool array; ``batch[name]`` is that column's values aligned
    with it: a numpy array for fixed-width columns (0 where absent or null; see
    :meth:`valid`), a list of ``str``/``bytes``/None for variable-width ones.  A
    scan's fixed-width columns are zero-copy views of the mapping."""

    __slots__ = ("_cache", "_columns", "_found", "_n", "_pieces", "schema")

    def __init__(self, schema: Schema, columns: tuple[int, ...], n: int, pieces: Sequence[Piece],
                 found: np.ndarray[Any, Any]) -> None:
        self.schema = schema
        self._columns = columns
        self._n = n
        self._pieces = list(pieces)
        self._found = found
        self._cache: dict[str, Any] = {}

    @property
    def found(self) -> np.ndarray[Any, Any]:
        """True where the key at that position was found."""
        return self._found

    @property
    def names(self) -> tuple[str, ...]:
        """The column names this batch carries."""
        return tuple(self.schema.columns[i].name for i in self._columns)

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[dict[str, Any] | None]:
        return iter(self.to_pylist())

    def _index(self, name: str) -> int:
        index = self.schema.index(name)
        if index not in self._columns:
            raise UnknownColumnError(f"column {name!r} was not selected for this batch; it has {', '.join(self.names)}")
        return index

    def __getitem__(self, name: str) -> Any:
        if name not in self._cache:
            self._cache[name] = self._materialize(self._index(name))
        return self._cache[name]

    def _materialize(self, index: int) -> Any:
        column = self.schema.columns[index]
        if not column.fixed_width:
            return self._scatter([None] * self._n, lambda seg, rows: seg.take_objects(index, rows))
        if len(self._pieces) == 1 and self._pieces[0][1] is None and isinstance(self._pieces[0][2], slice):
            seg, _, rows = self._pieces[0]
            return seg.column_view(index)[rows]
        shape = (self._n, column.dim) if column.type == "vector" else (self._n,)
        out = np.zeros(shape, dtype=column.dtype)
        for seg, pos, rows in self._pieces:
            view = seg.column_view(index)
            r = _rows_array(rows)
            ok = r >= 0
            target = np.flatnonzero(ok) if pos is None else pos[ok]
            out[target] = view[r[ok]]
        out.flags.writeable = False
        return out

    def valid(self, name: str) -> np.ndarray[Any, Any]:
        """True where the row was found and its value in column `name` is not null."""
        index = self._index(name)
        out: np.ndarray[Any, Any] = self._scatter(np.zeros(self._n, dtype=bool),
                                                  lambda seg, rows: seg.valid_rows(index, rows))
        return out

    def to_pylist(self) -> list[dict[str, Any] | None]:
        """A dict per position (None where the key was not found); nulls read as None."""
        out: list[dict[str, Any] | None] = self._scatter([None] * self._n,
                                                         lambda seg, rows: seg.rows(rows, self._columns))
        return out

    def _scatter(self, out: Any, fetch: Callable[[Segment, np.ndarray[Any, Any]], Any]) -> Any:
        """`out` with what `fetch(segment, rows)` gives for each piece put at that piece's positions
        in the batch; `out` is a list (one object per position) or a numpy array."""
        for seg, pos, rows in self._pieces:
            got = fetch(seg, _rows_array(rows))
            if pos is None:
                out[: len(got)] = got
            elif isinstance(out, list):
                for p, value in zip(pos.tolist(), got, strict=True):
                    out[p] = value
            else:
                out[pos] = got
        return out

    def locations(self) -> tuple[tuple[Segment, ...], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Where each position's row is: the parts, and per position the index of its part (int32)
        and its row in that part (int64, -1 where the key was not found), for a caller that reads
        the parts itself (the compiled lookup renderer)."""
        pieces = self._pieces
        which = np.zeros(self._n, dtype=np.int32)
        if len(pieces) == 1 and pieces[0][1] is None:
            return (pieces[0][0],), which, np.ascontiguousarray(_rows_array(pieces[0][2]), dtype=np.int64)
        rows = np.full(self._n, -1, dtype=np.int64)
        for k, (_, pos, part_rows) in enumerate(pieces):
            rows[pos] = _rows_array(part_rows)
            which[pos] = k
        return tuple(p[0] for p in pieces), which, rows

    def to_arrow(self) -> Any:
        """A pyarrow Table of this batch's columns, aligned with it; absent rows and nulls are
        Arrow nulls (needs pyarrow: ``pip install 'rodata[arrow]'``)."""
        return frames.batch_to_arrow(self)

    def to_pandas(self) -> Any:
        """A pandas DataFrame of this batch's columns, aligned with it: float nulls as NaN,
        nullable ints and bools as pandas' nullable dtypes (docs: rodata.frames)."""
        return frames.batch_to_pandas(self)

    def __repr__(self) -> str:
        return f"<rodata.Batch rows={self._n} found={int(self._found.sum())} columns={list(self.names)}>"
