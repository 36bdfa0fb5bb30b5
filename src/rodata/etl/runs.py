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

from rodata.errors import FormatError

__all__ = ["Run", "RunColumn", "read_run", "write_run"]

_MAGIC = b"RDRUN\x00\x01\n"
_ALIGN = 64


@dataclass
class RunColumn:
    """One column of a run: ``values`` (fixed width) or ``offsets`` + ``data``; ``valid`` or None."""

    values: np.ndarray[Any, Any] | None = None
    offsets: np.ndarray[Any, Any] | None = None
    data: np.ndarray[Any, Any] | None = None
    valid: np.ndarray[Any, Any] | None = None

    @property
    def rows(self) -> int:
        """How many values."""
        if self.values is not None:
            return int(self.values.shape[0])
        assert self.offsets is not None
        return int(self.offsets.shape[0]) - 1

    def arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        out = {}
        for name in ("values", "offsets", "data", "valid"):
            arr = getattr(self, name)
            if arr is not None:
                out[name] = arr
        return out


@dataclass
class Run:
    """A mapped run: its columns, the input line of each row, and the mapping kept alive."""

    path: Path
    rows: int
    columns: list[RunColumn]
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


def write_run(path: str | os.PathLike[str], columns: Sequence[RunColumn], lines: np.ndarray[Any, Any]) -> int:
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
    """Map a run file; its arrays are read-only views of the mapping."""
    p = Path(path)
    with open(p, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 16:
            raise FormatError(f"{p}: truncated run file")
        mapping = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ)
    if mapping[:8] != _MAGIC:
        raise FormatError(f"{p}: not a run file")
    (hlen,) = struct.unpack("<Q", mapping[8:16])
    if hlen > size - 16:
        raise FormatError(f"{p}: truncated run file")
    doc = json.loads(mapping[16 : 16 + hlen])
    base = -(-(16 + hlen) // _ALIGN) * _ALIGN
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    for entry in doc["arrays"]:
        dtype = np.dtype(entry["dtype"])
        shape = tuple(entry["shape"])
        count = int(np.prod(shape)) if shape else 1
        start = base + entry["offset"]
        if start + count * dtype.itemsize > size:
            raise FormatError(f"{p}: array {entry['name']} runs past the end of the file")
        arrays[entry["name"]] = np.frombuffer(mapping, dtype=dtype, count=count, offset=start).reshape(shape)
    columns = [RunColumn(values=arrays.get(f"{i}.values"), offsets=arrays.get(f"{i}.offsets"),
                         data=arrays.get(f"{i}.data"), valid=arrays.get(f"{i}.valid"))
               for i in range(doc["columns"])]
    return Run(p, int(doc["rows"]), columns, arrays["lines"], mapping)
