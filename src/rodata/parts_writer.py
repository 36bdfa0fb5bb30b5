"""The part writer: rows sorted by key, the duplicate policy applied, written as one segment and
read back with deep validation.  ``rodata.write``, the ETL's merge and the cluster writers all
write their parts through it.

It has two halves, :func:`order_rows` (CPU: sort, policy, gather) and :func:`write_rows` (disk:
write, fsync, verify), which :func:`write_part` runs one after the other; a caller that overlaps
the disk's time with the CPU's (the ETL's merge) runs them on different threads."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, MutableSequence, Sequence
from dataclasses import dataclass
from typing import Literal

from rodata import keyorder
from rodata._columns import ColumnData
from rodata._segment import check_written, write_segment
from rodata.errors import SchemaError
from rodata.manifest import PartEntry
from rodata.schema import Schema

__all__ = ["Layout", "OrderedRows", "PartWritten", "order_rows", "write_part", "write_rows"]

#: What is known of the rows' key order: nothing ("any"), sorted runs laid end to end
#: ("runs", merged in linear passes), or already in order ("sorted": only duplicates are looked for).
Layout = Literal["any", "runs", "sorted"]


@dataclass(frozen=True)
class OrderedRows:
    """Rows in key order with the duplicate policy applied, ready to be written."""

    columns: list[ColumnData]
    duplicates: int  # rows dropped by the "first"/"last" policy


@dataclass(frozen=True)
class PartWritten:
    """A written and verified part: what the manifest records of it, and the rows dropped."""

    info: PartEntry
    duplicates: int


def order_rows(schema: Schema, columns: MutableSequence[ColumnData], on_duplicate: str = "error", *,
               layout: Layout = "any", where: Callable[[int, int], str] = keyorder.rows_named) -> OrderedRows:
    """`columns` (one per column of `schema`) sorted by the key, with duplicates raised
    (:class:`DuplicateKeyError`, naming the key and, through `where`, its two input rows) or
    dropped by `on_duplicate`.  Nothing is copied when the rows are in order and unique.

    `columns` is consumed: each entry is replaced by its reordered column as soon as that is made,
    so no column is held twice at once."""
    keyorder.check_policy(on_duplicate)
    if len(columns) != len(schema.columns):
        raise SchemaError(f"{len(columns)} columns for a schema of {len(schema.columns)}")
    key_index = schema.index(schema.key)
    key = columns[key_index]
    order = None
    if layout != "sorted":
        order = keyorder.merge_order(key) if layout == "runs" else keyorder.sort_order(key)
    if order is not None:
        key = key.take(order)
    keep, dropped = keyorder.apply_policy(key, order, on_duplicate, column=schema.key, where=where)
    if keep is not None:
        order = keep if order is None else order[keep]
        key = key.take(keep)
    for i, column in enumerate(schema.columns):
        col = key if i == key_index else columns[i]
        valid = col.valid
        if valid is not None and (not column.nullable or bool(valid.all())):
            col = ColumnData(values=col.values, offsets=col.offsets, data=col.data)
        if order is not None and i != key_index:
            col = col.take(order)
        columns[i] = col
    return OrderedRows(list(columns), dropped)


def write_rows(path: str | os.PathLike[str], schema: Schema, columns: Sequence[ColumnData], *,
               seconds: dict[str, float] | None = None) -> PartEntry:
    """Write rows in key order (from :func:`order_rows`) as the segment `path`, fsync it and read
    it back as a reader will (every checksum, deep validation, agreement with what was written).
    `seconds`, when given, gets the time taken to "write" and to "verify"."""
    t0 = time.perf_counter()
    info = write_segment(path, schema, columns)
    t1 = time.perf_counter()
    check_written(path, info)
    if seconds is not None:
        seconds["write"], seconds["verify"] = t1 - t0, time.perf_counter() - t1
    return info


def write_part(path: str | os.PathLike[str], schema: Schema, columns: MutableSequence[ColumnData],
               on_duplicate: str = "error", *, layout: Layout = "any",
               where: Callable[[int, int], str] = keyorder.rows_named) -> PartWritten:
    """Sort `columns` by the key, apply `on_duplicate` ("error", "first" or "last"), write them as
    the segment `path` and deep-validate it: the part a writer then lists in its manifest."""
    rows = order_rows(schema, columns, on_duplicate, layout=layout, where=where)
    return PartWritten(write_rows(path, schema, rows.columns), rows.duplicates)

