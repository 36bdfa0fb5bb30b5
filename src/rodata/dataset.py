"""``rodata.open`` and :class:`Dataset`: a mapped, verified version of a dataset."""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from rodata import frames
from rodata._core import Segment, deep_validate
from rodata._files import confined
from rodata._keys import INT64_MAX, check_key, coerce_keys, first_non_string
from rodata.batch import Batch, Piece
from rodata.errors import DatasetNotFoundError, FormatError, KeyTypeError, RodataError, UsageError
from rodata.manifest import Manifest, PartEntry
from rodata.schema import Column, Schema
from rodata.store import current_version, path_kind, read_manifest

__all__ = ["Dataset", "open"]

_OPEN_RETRIES = 3


def open(path: str | os.PathLike[str], *, verify: bool = True, prefault: bool = False) -> Dataset:
    """Map and verify a dataset.

    `path` is a dataset directory (its live version, named by CURRENT), a version
    directory, or a single ``.seg`` file.  ``verify=False`` skips the checksum
    pass (structure is still checked); ``prefault=True`` asks the kernel to read
    the files into the page cache now.  Only regular files are opened, and no symlink
    may lead outside the data root (the dataset directory's parent)."""
    p = Path(path)
    kind = path_kind(p)
    if kind == "segment":
        return Dataset._from_segment_file(p, verify=verify, prefault=prefault)
    if kind == "version":
        return Dataset._from_version_dir(p, p.parent.parent, verify=verify, prefault=prefault)
    # CURRENT may move, and an old version be pruned, while we open: retry.
    for attempt in range(_OPEN_RETRIES):
        name = current_version(p)
        if name is None:
            break
        try:
            return Dataset._from_version_dir(p / name, p.parent, verify=verify, prefault=prefault)
        except DatasetNotFoundError:
            if attempt == _OPEN_RETRIES - 1 or current_version(p) == name:
                raise
    raise DatasetNotFoundError(f"{p}: no live version")


class Dataset:
    """One immutable version of a dataset, mapped read-only.

    Lookups never copy fixed-width data: :meth:`column` and scans hand out views
    of the mapping, which stay valid after :meth:`close` (each view keeps its
    mapping alive until it is gone)."""

    def __init__(self, path: Path, name: str, version: str | None, schema: Schema, parts: Sequence[Segment],
                 manifest: Manifest | None) -> None:
        self.path = path
        self.name = name
        self.version = version
        self.schema = schema
        self.manifest = manifest
        self._parts: list[Segment] | None = list(parts)
        self._key_is_string = schema.key_column.type == "string"
        self._max_keys = [seg.key_at(len(seg) - 1) for seg in parts if len(seg)]
        self._nonempty = [seg for seg in parts if len(seg)]
        self._all_columns = tuple(range(len(schema.columns)))
        self._projections: dict[tuple[str, ...], tuple[int, ...]] = {}
        self._rows = sum(len(seg) for seg in parts)

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def _from_segment_file(cls, path: Path, *, verify: bool, prefault: bool) -> Dataset:
        seg = Segment(path, verify=verify)
        schema = Schema(tuple(Column.from_json(c) for c in seg.schema), seg.names[seg.key_index])
        if prefault:
            seg.prefault()
        return cls(path, path.stem, None, schema, [seg], None)

    @classmethod
    def _from_version_dir(cls, path: Path, root: Path, *, verify: bool, prefault: bool) -> Dataset:
        confined(path, root)
        manifest = read_manifest(path)
        parts = []
        for part in manifest.parts:
            file = path / part.file
            try:
                seg = Segment(confined(file, root), verify=verify)
            except FileNotFoundError:
                raise DatasetNotFoundError(f"{file}: part named by the manifest is missing") from None
            _check_part(file, seg, part, manifest.schema)
            if prefault:
                seg.prefault()
            parts.append(seg)
        return cls(path, path.parent.name, manifest.version, manifest.schema, parts, manifest)

    def validate(self) -> None:
        """Deep validation (docs/FORMAT.md, "Deep validation"): every structural invariant of every
        part over every byte; raises :class:`FormatError` naming the file, section and byte offset
        of the first fault.  Runs without the GIL; checksums are checked by :func:`open`."""
        for seg in self._segments():
            deep_validate(seg)

    def changed_on_disk(self) -> str | None:
        """Why a mapped part file is no longer the file that was mapped (replaced, truncated,
        rewritten), or None.  A file truncated under a mapping faults the process on access
        (SIGBUS): a server stops serving such a version as soon as this says so."""
        for seg in self._segments():
            dev, ino, size, mtime = seg.mapping.identity
            try:
                st = os.stat(seg.path)
            except OSError as exc:
                return f"{seg.path}: {exc.strerror or exc}"
            if (st.st_dev, st.st_ino) != (dev, ino):
                return f"{seg.path}: replaced by another file since it was mapped"
            if (st.st_size, st.st_mtime_ns) != (size, mtime):
                return f"{seg.path}: modified since it was mapped ({size} -> {st.st_size} bytes)"
        return None

    # -- the library contract ---------------------------------------------------------

    @property
    def key(self) -> str:
        """Name of the key column."""
        return self.schema.key

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._parts is None

    @property
    def nbytes(self) -> int:
        """Bytes mapped (the size of every part file)."""
        return sum(seg.size for seg in self._segments())

    def __len__(self) -> int:
        return self._rows

    def _segments(self) -> list[Segment]:
        if self._parts is None:
            raise RodataError(f"dataset {self.name!r} is closed")
        return self._parts

    def projection(self, columns: Sequence[str] | None) -> tuple[int, ...]:
        """Column positions for a list of names (all columns for None)."""
        if columns is None:
            return self._all_columns
        key = tuple(columns)
        proj = self._projections.get(key)
        if proj is None:
            proj = tuple(self.schema.index(name) for name in key)
            if len(self._projections) < 1024:
                self._projections[key] = proj
        return proj

    @property
    def single_part(self) -> Segment | None:
        """The one part of a version made of one part (where every key is), else None."""
        parts = self._segments()
        return parts[0] if len(parts) == 1 else None

    def part_for(self, key: Any) -> Segment | None:
        """The part that holds `key` if any part does (None: no part can), for a caller that reads
        the part itself (the compiled row renderer).  A key routed between parts is checked here;
        within the one part of a single-part version, the part's own lookup checks it."""
        parts = self._segments()
        if len(parts) == 1:
            return parts[0]
        check_key(self._key_is_string, key)
        at = bisect.bisect_left(self._max_keys, key)
        return self._nonempty[at] if at < len(self._nonempty) else None

    def get(self, key: Any, columns: Sequence[str] | None = None) -> dict[str, Any] | None:
        """The row with `key` as a dict (nulls as None), or None when there is none."""
        proj = self._all_columns if columns is None else self.projection(columns)
        parts = self._parts
        if parts is not None and len(parts) == 1:  # the common case, kept short: it is the hot path
            return parts[0].get(key, proj)
        seg = self.part_for(key)
        return None if seg is None else seg.get(key, proj)

    def get_many(self, keys: Any, columns: Sequence[str] | None = None) -> Batch:
        """Vectorized lookup of many keys; the result is aligned with `keys`."""
        proj = self.projection(columns)
        parts = self._segments()
        keys = coerce_keys(self.schema, keys)
        n = len(keys)
        if len(parts) == 1:
            rows = parts[0].find_many(keys)
            return Batch(self.schema, proj, n, [(parts[0], None, rows)], rows >= 0)
        found = np.zeros(n, dtype=bool)
        pieces: list[Piece] = []
        for seg, pos in self._route(keys):
            if not len(pos):
                continue
            sub = keys[pos] if isinstance(keys, np.ndarray) else [keys[i] for i in pos.tolist()]
            rows = seg.find_many(sub)
            found[pos] = rows >= 0
            pieces.append((seg, pos, rows))
        return Batch(self.schema, proj, n, pieces, found)

    def _route(self, keys: Any) -> list[tuple[Segment, np.ndarray[Any, Any]]]:
        """For each non-empty part, the positions of the keys that can only be in it."""
        if isinstance(keys, np.ndarray):
            where = np.searchsorted(np.array(self._max_keys, dtype=np.int64), keys, side="left")
        else:
            try:
                where = np.fromiter((bisect.bisect_left(self._max_keys, k) for k in keys), dtype=np.int64,
                                    count=len(keys))
            except TypeError:  # a key that is not a str met the parts' string bounds
                raise first_non_string(keys) from None
        return [(seg, np.flatnonzero(where == i)) for i, seg in enumerate(self._nonempty)]

    def column(self, name: str, offset: int = 0, limit: int | None = None) -> Any:
        """Column `name`, rows [offset, offset + limit): a read-only numpy array for fixed-width
        types (a zero-copy view when the version has one part; nulls read as 0, see :meth:`validity`),
        a list of str/bytes/None for variable-width ones."""
        index = self.schema.index(name)
        column = self.schema.columns[index]
        if offset < 0 or (limit is not None and limit < 0):
            raise UsageError("offset and limit must not be negative")
        stop = self._rows if limit is None else min(self._rows, offset + limit)
        pieces = self.row_ranges(offset, stop)
        if not column.fixed_width:
            values: list[Any] = []
            for seg, lo, hi in pieces:
                values.extend(seg.take_objects(index, np.arange(lo, hi, dtype=np.int64)))
            return values
        views = [seg.column_view(index)[lo:hi] for seg, lo, hi in pieces]
        if len(views) == 1:
            return views[0]
        if not views:
            return self._segments()[0].column_view(index)[:0]
        out = np.concatenate(views)
        out.flags.writeable = False
        return out

    def validity(self, name: str) -> np.ndarray[Any, Any] | None:
        """Bool array, True where column `name` is not null; None when it holds no nulls."""
        index = self.schema.index(name)
        masks = [seg.validity_view(index) for seg in self._segments()]
        if all(m is None for m in masks):
            return None
        return np.concatenate([np.ones(len(seg), dtype=bool) if m is None else m
                               for seg, m in zip(self._segments(), masks, strict=True)])

    def row_ranges(self, start: int, stop: int) -> list[tuple[Segment, int, int]]:
        """Rows [start, stop) of the version, in key order, as ``(part, lo, hi)`` pieces (the part's
        compiled segment and its rows ``lo`` to ``hi``): what a column slice over parts reads."""
        out = []
        base = 0
        for seg in self._segments():
            n = len(seg)
            lo, hi = max(start - base, 0), min(stop - base, n)
            if lo < hi:
                out.append((seg, lo, hi))
            base += n
        return out

    def scan(
        self,
        start: Any = None,
        end: Any = None,
        prefix: str | None = None,
        columns: Sequence[str] | None = None,
        *,
        after: Any = None,
        batch_size: int = 65536,
    ) -> Iterator[Batch]:
        """Batches of rows in key order with ``start <= key < end`` (either may be None), keys
        beginning with `prefix` (string keys), and keys strictly greater than `after`."""
        if batch_size < 1:
            raise UsageError("batch_size must be positive")
        proj = self.projection(columns)
        lo_key, hi_key = self._scan_bounds(start, end, prefix, after)
        for seg in self._segments():
            lo = seg.lower_bound(lo_key) if lo_key is not None else 0
            hi = seg.lower_bound(hi_key) if hi_key is not None else len(seg)
            for at in range(lo, hi, batch_size):
                stop = min(at + batch_size, hi)
                yield Batch(self.schema, proj, stop - at, [(seg, None, slice(at, stop))],
                            np.ones(stop - at, dtype=bool))

    def _scan_bounds(self, start: Any, end: Any, prefix: str | None, after: Any) -> tuple[Any, Any]:
        """The scan as one half-open range [lo, hi) of keys (bytes for string keys), None = unbounded."""
        for k in (start, end, after):
            if k is not None:
                check_key(self._key_is_string, k)
        if not self._key_is_string:
            if prefix is not None:
                raise KeyTypeError("a prefix scan needs a string key column")
            lo = start
            if after is not None and after < INT64_MAX:
                lo = after + 1 if lo is None else max(lo, after + 1)
            elif after is not None:
                return 0, 0  # nothing comes after the largest int64
            return lo, end
        lo_b = None if start is None else start.encode("utf-8", "surrogatepass")
        hi_b = None if end is None else end.encode("utf-8", "surrogatepass")
        if after is not None:
            nxt = after.encode("utf-8", "surrogatepass") + b"\x00"  # the smallest key > after
            lo_b = nxt if lo_b is None else max(lo_b, nxt)
        if prefix is not None:
            p = prefix.encode("utf-8", "surrogatepass")
            lo_b = p if lo_b is None else max(lo_b, p)
            succ = _prefix_successor(p)
            if succ is not None:
                hi_b = succ if hi_b is None else min(hi_b, succ)
        return lo_b, hi_b

    def to_arrow(self, columns: Sequence[str] | None = None) -> Any:
        """The whole version as a pyarrow Table, one record batch per part, wrapping the mapped
        columns without copying wherever Arrow's layout is rodata's (docs: rodata.frames)."""
        return frames.segments_to_arrow(self.schema, self._segments(), self.projection(columns))

    def to_pandas(self, columns: Sequence[str] | None = None) -> Any:
        """The whole version as a pandas DataFrame: float nulls as NaN, nullable ints and bools as
        pandas' nullable dtypes, timestamps in UTC (docs: rodata.frames)."""
        proj = self.projection(columns)
        frames_ = [frames.batch_to_pandas(Batch(self.schema, proj, len(seg), [(seg, None, slice(0, len(seg)))],
                                                np.ones(len(seg), dtype=bool))) for seg in self._segments()]
        if len(frames_) == 1:
            return frames_[0]
        import pandas as pd

        return pd.concat(frames_, ignore_index=True)

    def prefault(self) -> None:
        """Ask the kernel to read every part into the page cache now."""
        for seg in self._segments():
            seg.prefault()

    def close(self) -> None:
        """Release the mappings.  Views handed out stay valid: each keeps its mapping alive."""
        self._parts = None
        self._nonempty = []

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self._rows} rows"
        return f"<rodata.Dataset {self.name!r} version={self.version!r} {state}>"

    def describe(self) -> dict[str, Any]:
        """The public description: name, version, rows, key and columns."""
        return {"name": self.name, "version": self.version, "rows": self._rows, "key": self.key,
                "columns": self.schema.to_json()}


def _prefix_successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string that starts with `prefix` (None: no bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _check_part(file: Path, seg: Segment, part: PartEntry, schema: Schema) -> None:
    """A part must be the file the manifest describes: rows, schema, fingerprint and key range."""
    if len(seg) != part.rows:
        raise FormatError(f"{file}: {len(seg)} rows, the manifest says {part.rows}")
    if [Column.from_json(c) for c in seg.schema] != list(schema.columns) or seg.names[seg.key_index] != schema.key:
        raise FormatError(f"{file}: schema differs from the manifest's")
    if part.fingerprint != f"{seg.fingerprint:016x}":
        raise FormatError(f"{file}: content fingerprint differs from the manifest's (file from another version?)")
    if part.rows and (seg.key_at(0) != part.min_key or seg.key_at(part.rows - 1) != part.max_key):
        raise FormatError(f"{file}: key range differs from the manifest's min_key/max_key")
