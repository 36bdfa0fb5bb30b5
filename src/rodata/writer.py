"""``rodata.write``: publish a new version from in-memory columns (one in-memory run, written
through the part writer, rodata.parts_writer), and :func:`publish_parts`, the last step of every writer."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rodata._columns import ColumnData, coerce_columns
from rodata._core import FORMAT_CONSTANTS
from rodata.errors import SchemaError, UsageError
from rodata.keyorder import OnDuplicate
from rodata.manifest import Manifest, PartEntry, new_manifest
from rodata.parts_writer import order_rows, write_rows
from rodata.schema import KEY_WIDENING_TYPES, Column, Schema
from rodata.store import Version, publish, staging_dir
from rodata.validation import record

__all__ = ["WRITER_VERDICT", "OnDuplicate", "publish_parts", "write"]

#: The name of a writer's verdict file (``verdicts/writer.json``).
WRITER_VERDICT = "writer"


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
    typed = coerce_columns(columns, schema)
    table_schema = Schema(tuple(_key_column(typed, key)), key)
    rows = order_rows(table_schema, [c for _, c in typed], on_duplicate)
    started = time.time()
    spans = _split(len(rows.columns[0]) if rows.columns else 0, rows_per_part)
    with staging_dir(data_root, dataset) as staging:
        infos = [write_rows(staging / f"part-{i:05d}.seg", table_schema, [c.slice(lo, hi) for c in rows.columns])
                 for i, (lo, hi) in enumerate(spans)]
        return publish_parts(staging, dataset, table_schema, infos, keep_versions=keep_versions,
                             build={"source": "rodata.write"}, started=started,
                             allow_schema_change=allow_schema_change, allow_shrink=allow_shrink)


def _key_column(typed: list[tuple[Column, ColumnData]], key: str) -> list[Column]:
    """The columns' types, the key's made non-null and, when it is a narrower integer, widened
    to int64 (its values with it, in `typed`)."""
    names = [column.name for column, _ in typed]
    if key not in names:
        raise SchemaError(f"key column {key!r} is not among the columns {names}")
    at = names.index(key)
    column, col = typed[at]
    if col.valid is not None and not col.valid.all():
        row = int(np.flatnonzero(~col.valid)[0])
        raise SchemaError(f"key column {key!r} has a null at row {row}")
    if col.values is not None and column.type == "uint64" and col.values.size \
            and col.values.max() > np.iinfo(np.int64).max:
        raise SchemaError(f"key column {key!r} has values larger than the largest int64")
    if col.values is not None and (column.type in KEY_WIDENING_TYPES or column.type == "uint64"):
        typed[at] = (Column(key, "int64"), ColumnData(values=col.values.astype(np.int64)))
    else:
        typed[at] = (Column(column.name, column.type, False, column.dim),
                     ColumnData(values=col.values, offsets=col.offsets, data=col.data))
    return [c for c, _ in typed]


def _split(rows: int, rows_per_part: int | None) -> list[tuple[int, int]]:
    limit = rows_per_part or FORMAT_CONSTANTS["MAX_ROWS"]
    if limit < 1:
        raise UsageError("rows_per_part must be positive")
    if rows == 0:
        return [(0, 0)]
    return [(lo, min(lo + limit, rows)) for lo in range(0, rows, limit)]


def publish_parts(
    staging: Path,
    dataset: str,
    schema: Schema,
    infos: Sequence[PartEntry],
    *,
    keep_versions: int = 3,
    build: Mapping[str, Any] | None = None,
    started: float | None = None,
    allow_schema_change: bool = False,
    allow_shrink: bool = False,
) -> Version:
    """Publish parts that the caller wrote into `staging` (from :func:`rodata.store.staging_dir`)
    and verified itself: checks that the parts' key ranges follow each other, writes the
    manifest (rodata.manifest.new_manifest) and makes the version live (rodata.store.publish).

    The writer's verdict (rodata.validation) is recorded beside the version: every part was
    deep-validated by the part writer that wrote it (rodata.parts_writer), and the manifest went
    through the reader's checks in :func:`rodata.store.publish`."""
    seconds = round(time.time() - started, 3) if started is not None else None
    manifest = new_manifest(schema, infos, build=build, seconds=seconds)
    by = str((build or {}).get("source", "rodata.write"))

    def record_verdict(path: Path, typed: Manifest) -> None:
        # Once the manifest is written (its digest is what the verdict vouches for) and before the
        # version moves into place: a server in the recorded mode never sees it without its verdict.
        record(path, WRITER_VERDICT, by=by, passed=True,
               details={"parts": len(infos), "rows": typed.rows, "bytes": typed.bytes})

    return publish(staging, dataset, manifest, keep_versions=keep_versions, allow_schema_change=allow_schema_change,
                   allow_shrink=allow_shrink, before_live=record_verdict)
