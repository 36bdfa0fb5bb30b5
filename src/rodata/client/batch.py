"""``RemoteBatch``: the answer of ``Client.get_many`` and each page of ``Client.scan``, in the
library's :class:`rodata.Batch` shape (the same ``found``, columns, ``valid``, ``to_pylist``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from rodata import frames
from rodata.client.decode import python_values
from rodata.errors import UnknownColumnError
from rodata.schema import Schema

__all__ = ["RemoteBatch"]


class RemoteBatch:
    """Rows aligned with the keys asked for (``get_many``) or one scan page in key order.

    ``batch.found`` is a bool array; ``batch[name]`` is that column's values aligned with it: a
    read-only numpy array of the library's dtype for fixed-width columns (0 where absent or null;
    see :meth:`valid`), a list of ``str``/``bytes``/None for strings and bytes."""

    __slots__ = ("_found", "_pylists", "_valid", "_values", "names", "schema", "version")

    def __init__(self, schema: Schema, names: Sequence[str], found: np.ndarray[Any, Any],
                 values: Mapping[str, Any], valid: Mapping[str, np.ndarray[Any, Any]],
                 version: str | None = None) -> None:
        self.schema = schema
        #: The column names this batch carries, in the order asked for.
        self.names = tuple(names)
        #: The dataset version that answered.
        self.version = version
        self._found = found
        self._values = dict(values)
        self._valid = dict(valid)
        self._pylists: dict[str, list[Any]] = {}

    @property
    def found(self) -> np.ndarray[Any, Any]:
        """True where the key at that position was found."""
        return self._found

    def __len__(self) -> int:
        return len(self._found)

    def __iter__(self) -> Iterator[dict[str, Any] | None]:
        return iter(self.to_pylist())

    def _check(self, name: str) -> None:
        if name not in self._values:
            raise UnknownColumnError(f"column {name!r} was not selected for this batch; it has {', '.join(self.names)}")

    def __getitem__(self, name: str) -> Any:
        self._check(name)
        return self._values[name]

    def valid(self, name: str) -> np.ndarray[Any, Any]:
        """True where the row was found and its value in column `name` is not null."""
        self._check(name)
        mask = self._valid.get(name)
        if mask is None:
            values = self._values[name]
            if isinstance(values, list):  # strings and bytes: None is null or absent
                mask = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
            else:
                mask = self._found
            mask = mask & self._found
            mask.flags.writeable = False
            self._valid[name] = mask
        return mask

    def _pylist(self, name: str) -> list[Any]:
        if name not in self._pylists:
            column = self.schema[name]
            values = self._values[name]
            nulls = None if not column.fixed_width else self.valid(name)
            self._pylists[name] = python_values(column, values, nulls)
        return self._pylists[name]

    def to_pylist(self) -> list[dict[str, Any] | None]:
        """A dict per position (None where the key was not found); nulls read as None."""
        names = self.names
        columns = [self._pylist(name) for name in names]
        found = self._found.tolist()
        if not columns:
            return [{} if f else None for f in found]
        return [dict(zip(names, values, strict=True)) if f else None
                for f, values in zip(found, zip(*columns, strict=True), strict=True)]

    def to_arrow(self) -> Any:
        """A pyarrow Table of this batch's columns, aligned with it; absent rows and nulls are
        Arrow nulls (needs pyarrow: ``pip install 'rodata[arrow]'``)."""
        return frames.batch_to_arrow(self)

    def to_pandas(self) -> Any:
        """A pandas DataFrame of this batch's columns, as :meth:`rodata.Batch.to_pandas` makes it."""
        return frames.batch_to_pandas(self)

    def __repr__(self) -> str:
        return f"<rodata.client.RemoteBatch rows={len(self)} found={int(self._found.sum())} columns={list(self.names)}>"
