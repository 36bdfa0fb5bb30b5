"""``rodata.write``: publish a new version from in-memory columns."""

from __future__ import annotations

import itertools
import os
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rodata._columns import ColumnData, coerce_columns
from rodata._core import FORMAT_CONSTANTS, FORMAT_VERSION
from rodata._segment import SegmentInfo, check_written, write_segment
from rodata._version import __version__
from rodata.errors import DuplicateKeyError, FormatError, SchemaError
from rodata.schema import Column, Schema
from rodata.store import Version, publish, staging_dir, utc_now

__all__ = ["OnDuplicate", "key_order", "publish_parts", "write", "write_parts"]

OnDuplicate = Literal["error", "first", "last"]


def write(
    data_root: str | os.PathLike[str],
    dataset: str,
    columns: Any,
    *,
    key: str,
    schema: Mapping[str, Any] | None = None,
    on_duplicate: OnDuplicate = "error",
    keep_versions: int = 3,
    rows_per_part: int | None = None,
    allow_schema_change: bool = False,
    allow_shrink: bool = False,
) -> Version:
    """Publish `columns` as the new live version of `dataset` under `data_root`.

    `columns` is a dict of numpy arrays or lists (a 2-D float array is a vector
    column), a pandas DataFrame or a pyarrow Table.  `schema` may declare some
    columns' types (``{"age": "int32", "emb": "vector[64]"}``).  Rows are sorted
    by `key`; two rows with one key raise :class:`DuplicateKeyError` unless
    `on_duplicate` says to keep the first or last.  On any error nothing is
    published and the live version is untouched.

    The publish guard refuses (:class:`PublishGuardError`) a version whose schema differs
    from the live one's (a column added or dropped, a type or the key changed) unless
    `allow_schema_change`, or that holds fewer than half its rows unless `allow_shrink`."""
    typed = _with_int64_key(coerce_columns(columns, schema), key)
    order = key_order(typed[[c.column.name for c in typed].index(key)], on_duplicate)
    if order is not None:
        typed = [c.take(order) for c in typed]
    table_schema = Schema(tuple(c.column for c in typed), key)
    return write_parts(data_root, dataset, table_schema, [typed], keep_versions=keep_versions,
                       rows_per_part=rows_per_part, build={"source": "rodata.write"},
                       allow_schema_change=allow_schema_change, allow_shrink=allow_shrink)


def _with_int64_key(typed: list[ColumnData], key: str) -> list[ColumnData]:
    names = [c.column.name for c in typed]
    if key not in names:
        raise SchemaError(f"key column {key!r} is not among the columns {names}")
    col = typed[names.index(key)]
    if col.valid is not None and not col.valid.all():
        row = int(np.flatnonzero(~col.valid)[0])
        raise SchemaError(f"key column {key!r} has a null at row {row}")
    column = Column(col.column.name, col.column.type, False, col.column.dim)
    if col.values is not None and col.column.type in ("int8", "int16", "int32", "uint8", "uint16", "uint32"):
        col = ColumnData(Column(key, "int64"), values=col.values.astype(np.int64))
    elif col.values is not None and col.column.type == "uint64":
        if col.values.size and col.values.max() > np.iinfo(np.int64).max:
            raise SchemaError(f"key column {key!r} has values larger than the largest int64")
        col = ColumnData(Column(key, "int64"), values=col.values.astype(np.int64))
    else:
        col = ColumnData(column, values=col.values, offsets=col.offsets, data=col.data)
    typed[names.index(key)] = col
    return typed


def key_order(key: ColumnData, on_duplicate: OnDuplicate = "error") -> np.ndarray[Any, Any] | None:
    """The permutation that sorts rows by `key` (None when already sorted and unique).

    Duplicates raise :class:`DuplicateKeyError` naming the key and both rows, or
    are dropped keeping the first or last occurrence in input order."""
    if on_duplicate not in ("error", "first", "last"):
        raise ValueError(f"on_duplicate must be 'error', 'first' or 'last', not {on_duplicate!r}")
    n = len(key)
    order: np.ndarray[Any, Any] | None
    if key.values is not None:
        values = key.values
        if n < 2 or bool(np.all(values[1:] > values[:-1])):
            return None
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        same = ordered[1:] == ordered[:-1]
    else:
        order, same = _string_order(key)
        if order is None:
            return None
    if not same.any():
        return order
    if on_duplicate == "error":
        at = int(np.flatnonzero(same)[0])
        first, second = int(order[at]), int(order[at + 1])
        value = int(key.values[first]) if key.values is not None else key.string_at(first).decode()
        raise DuplicateKeyError(
            f"duplicate key {value!r} in column {key.column.name!r} (rows {first} and {second})", key=value
        )
    keep = np.ones(n, dtype=bool)
    if on_duplicate == "first":
        keep[1:] = ~same      # the first of each run of equal keys, which stable sort kept in input order
    else:
        keep[:-1] = ~same     # the last of each run
    return order[keep]


def _string_order(key: ColumnData) -> tuple[np.ndarray[Any, Any] | None, np.ndarray[Any, Any]]:
    """Byte-wise (UTF-8, so code point) order of a string column, and where neighbours are equal."""
    assert key.offsets is not None and key.data is not None
    n = len(key)
    lengths = np.diff(key.offsets)
    widest = int(lengths.max()) if n else 0
    if n and widest and not (key.data == 0).any() and widest * n <= 4 * key.data.size + (1 << 20):
        # Without NUL bytes, numpy's NUL-padded fixed-width bytes sort exactly like
        # the strings themselves, and far faster than a sort of Python objects.
        padded = np.zeros((n, widest), dtype=np.uint8)
        starts = key.offsets[:-1].astype(np.int64)
        row_of = np.repeat(np.arange(n), lengths.astype(np.int64))
        col_of = np.arange(key.data.size) - np.repeat(starts, lengths.astype(np.int64))
        padded[row_of, col_of] = key.data
        fixed = padded.view(f"S{widest}").reshape(n)
        if bool(np.all(fixed[1:] > fixed[:-1])):
            return None, np.zeros(0, dtype=bool)
        order = np.argsort(fixed, kind="stable")
        ordered = fixed[order]
        return order, ordered[1:] == ordered[:-1]
    raw = key.data.tobytes()
    offs = key.offsets.tolist()
    items = [raw[offs[i] : offs[i + 1]] for i in range(n)]
    if all(a < b for a, b in itertools.pairwise(items)):
        return None, np.zeros(0, dtype=bool)
    order = np.array(sorted(range(n), key=items.__getitem__), dtype=np.int64)
    same = np.fromiter((items[order[i]] == items[order[i + 1]] for i in range(n - 1)), dtype=bool,
                       count=max(n - 1, 0))
    return order, same


def _split(rows: int, rows_per_part: int | None) -> list[tuple[int, int]]:
    limit = rows_per_part or FORMAT_CONSTANTS["MAX_ROWS"]
    if limit < 1:
        raise ValueError("rows_per_part must be positive")
    if rows == 0:
        return [(0, 0)]
    return [(lo, min(lo + limit, rows)) for lo in range(0, rows, limit)]


def write_parts(
    data_root: str | os.PathLike[str],
    dataset: str,
    schema: Schema,
    runs: Sequence[Sequence[ColumnData]],
    *,
    keep_versions: int = 3,
    rows_per_part: int | None = None,
    build: Mapping[str, Any] | None = None,
    allow_schema_change: bool = False,
    allow_shrink: bool = False,
) -> Version:
    """Write key-ordered runs of columns (each run sorted, runs in key order and disjoint) as parts
    of a new version, verify every part, then publish it."""
    started = time.time()
    with staging_dir(data_root, dataset) as staging:
        infos: list[SegmentInfo] = []
        for run in runs:
            for lo, hi in _split(len(run[0]) if run else 0, rows_per_part):
                if hi == lo and (infos or len(runs) > 1):
                    continue
                path = staging / f"part-{len(infos):05d}.seg"
                infos.append(write_segment(path, schema, [c.slice(lo, hi) for c in run]))
        _verify_parts(staging, infos)
        return publish_parts(staging, dataset, schema, infos, keep_versions=keep_versions, build=build,
                             started=started, allow_schema_change=allow_schema_change, allow_shrink=allow_shrink)


def _verify_parts(staging: Path, infos: Sequence[SegmentInfo]) -> None:
    """Read every written part back, checksums and deep validation, before it may be published."""
    for info in infos:
        check_written(staging / info.file, info)


def _check_key_ranges(infos: Sequence[SegmentInfo]) -> None:
    """Parts must follow each other in key order without overlapping."""
    previous_max: Any = None
    for info in infos:
        if previous_max is not None and info.rows and not previous_max < info.min_key:
            raise FormatError(f"{info.file}: parts overlap in key range")
        if info.rows:
            previous_max = info.max_key


def publish_parts(
    staging: Path,
    dataset: str,
    schema: Schema,
    infos: Sequence[SegmentInfo],
    *,
    keep_versions: int = 3,
    build: Mapping[str, Any] | None = None,
    started: float | None = None,
    allow_schema_change: bool = False,
    allow_shrink: bool = False,
) -> Version:
    """Publish parts that the caller wrote into `staging` (from :func:`rodata.store.staging_dir`)
    and verified itself: checks that the parts' key ranges follow each other, writes the
    manifest and makes the version live, with the publish rules of :func:`write_parts`."""
    _check_key_ranges(infos)
    seconds = round(time.time() - started, 3) if started is not None else None
    manifest = {
        "format_version": list(FORMAT_VERSION),
        "created_at": utc_now(),
        "key": schema.key,
        "schema": schema.to_json(),
        "rows": sum(i.rows for i in infos),
        "bytes": sum(i.bytes for i in infos),
        "parts": [i.to_json() for i in infos],
        "build": {"rodata": __version__, "host": platform.node(), "seconds": seconds, **(build or {})},
    }
    return publish(staging, dataset, manifest, keep_versions=keep_versions,
                   allow_schema_change=allow_schema_change, allow_shrink=allow_shrink)
