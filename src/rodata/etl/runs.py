"""Sorted runs spilled to disk: what a worker makes of one chunk of input.

A run file is a small JSON header followed by raw arrays, each 64-byte aligned, so that
the merge maps it and slices key ranges without reading the rest.  Runs live in the
build's staging directory and are removed with it; they are never published."""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rodata._columns import ColumnData
from rodata.errors import FormatError

__all__ = ["Run", "read_run", "write_run"]

_MAGIC = b"RDRUN\x00\x01\n"
_ALIGN = 64


@dataclass
class Run:
    """A mapped run: its columns, the input line of each row, and the mapping kept alive."""

    path: Path
    rows: int
    columns: list[ColumnData]
    lines: np.ndarray[Any, Any]
    _mapping: mmap.mmap | None = None

    def close(self) -> None:
        """Let go of the mapping (and the file descriptor it holds) once no view of it is left."""
        self.columns = []
        self.lines = np.empty(0, dtype=np.int64)
        mapping, self._mapping = self._mapping, None
        if mapping is not None:
            with contextlib.suppress(BufferError):  # a view still in use: it goes when the view goes
                mapping.close()


def write_run(path: str | os.PathLike[str], columns: Sequence[ColumnData], lines: np.ndarray[Any, Any]) -> int:
    """Write a run file (not fsynced: a run only lives as long as its build); returns its size."""
    entries: list[tuple[str, np.ndarray[Any, Any]]] = [("lines", np.ascontiguousarray(lines, dtype=np.int64))]
    for i, col in enumerate(columns):
        for name, arr in col.arrays().items():
            entries.append((f"{i}.{name}", np.ascontiguousarray(arr)))
    index = []
    offset = 0
    for name, arr in entries:
        index.append({"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape), "offset": offset})
        offset += -(-arr.nbytes // _ALIGN) * _ALIGN
    header = json.dumps({"rows": int(lines.shape[0]), "columns": len(columns), "arrays": index}).encode()
    head_len = -(-(16 + len(header)) // _ALIGN) * _ALIGN
    with open(path, "wb") as fh:
        fh.write(_MAGIC + struct.pack("<Q", len(header)) + header)
        fh.write(bytes(head_len - 16 - len(header)))
        for _, arr in entries:
            view = arr.reshape(-1).view(np.uint8).data if arr.nbytes else b""
            fh.write(view)
            pad = -arr.nbytes % _ALIGN
            if pad:
                fh.write(bytes(pad))
    return head_len + offset


def read_run(path: str | os.PathLike[str]) -> Run:
    """Map a run file; its arrays are read-only views of the mapping.  A file that is truncated
    or not what :func:`write_run` wrote raises :class:`FormatError` naming it."""
    p = Path(path)
    with open(p, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 16:
            raise FormatError(f"{p}: truncated run file")
        mapping = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ)
    try:
        rows, columns, lines = _parse(p, mapping, size)
    except BaseException:
        with contextlib.suppress(BufferError):  # views made before the fault: it goes with them
            mapping.close()
        raise
    return Run(p, rows, columns, lines, mapping)


def _parse(p: Path, mapping: mmap.mmap, size: int) -> tuple[int, list[ColumnData], np.ndarray[Any, Any]]:
    if mapping[:8] != _MAGIC:
        raise FormatError(f"{p}: not a run file")
    (hlen,) = struct.unpack("<Q", mapping[8:16])
    if hlen > size - 16:
        raise FormatError(f"{p}: truncated run file")
    try:
        doc = json.loads(mapping[16 : 16 + hlen])
        rows, ncols, entries = int(doc["rows"]), int(doc["columns"]), list(doc["arrays"])
    except (ValueError, KeyError, TypeError) as exc:
        raise FormatError(f"{p}: bad run header: {exc}") from None
    base = -(-(16 + hlen) // _ALIGN) * _ALIGN
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    for entry in entries:
        name, arr = _array(p, mapping, size, base, entry)
        arrays[name] = arr
    columns = [ColumnData(values=arrays.get(f"{i}.values"), offsets=arrays.get(f"{i}.offsets"),
                          data=arrays.get(f"{i}.data"), valid=arrays.get(f"{i}.valid"))
               for i in range(ncols)]
    lines = arrays.get("lines")
    if lines is None or lines.shape != (rows,) or any(not _fits(c, rows) for c in columns):
        raise FormatError(f"{p}: the run's arrays do not hold {rows} rows")
    return rows, columns, lines


def _array(p: Path, mapping: mmap.mmap, size: int, base: int, entry: Any) -> tuple[str, np.ndarray[Any, Any]]:
    """One array of the header's index, as a view of the mapping."""
    try:
        name, dtype, offset = str(entry["name"]), np.dtype(entry["dtype"]), int(entry["offset"])
        shape = tuple(int(d) for d in entry["shape"])
    except (ValueError, KeyError, TypeError) as exc:
        raise FormatError(f"{p}: bad array entry {entry!r:.80} in the run header: {exc}") from None
    count = int(np.prod(shape)) if shape else 1
    start = base + offset
    if offset < 0 or min(shape, default=0) < 0 or dtype.hasobject or start + count * dtype.itemsize > size:
        raise FormatError(f"{p}: array {name} runs past the end of the file")
    return name, np.frombuffer(mapping, dtype=dtype, count=count, offset=start).reshape(shape)


def _fits(col: ColumnData, rows: int) -> bool:
    """A column of `rows` rows whose offsets span its data (checked in O(1): every part task maps
    every run, and the compiled gathers check the offsets they read)."""
    if col.valid is not None and col.valid.shape != (rows,):
        return False
    if col.values is not None:
        return col.offsets is None and col.data is None and col.values.shape[:1] == (rows,)
    if col.offsets is None or col.data is None or col.offsets.shape != (rows + 1,):
        return False
    return col.offsets.dtype == np.uint64 and int(col.offsets[0]) == 0 and int(col.offsets[-1]) == col.data.shape[0]
