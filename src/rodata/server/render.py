"""Key -> response bytes: the answers of the HTTP API as functions of a :class:`~rodata.Dataset`.

Nothing here knows about HTTP or ASGI: each function takes a dataset and plain
Python arguments and returns the body (JSON through orjson, a ``.npz`` archive,
or zero-copy views of the mapping), so that the same answers can be produced by
any front end.  Every value is written by the one encoder of its column type
(:mod:`rodata.encode`, which lists the rules), whichever answer carries it.  The
answers that can be large take a `max_bytes` limit: their size bound is computed
first (:mod:`rodata.sizes`) and :class:`~rodata.sizes.AnswerTooLarge` raised,
before anything is built, when it is over the limit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from rodata import sizes
from rodata._core import JsonPlan, get_json, rows_json
from rodata._keys import coerce_keys
from rodata.batch import Batch
from rodata.dataset import Dataset
from rodata.encode import column_json, converter, dumps, fix_rows
from rodata.errors import SchemaError, UsageError
from rodata.schema import Schema
from rodata.server.npzfile import as_bytes, npy_header, npz_chunks

__all__ = [
    "ColumnSlice",
    "Gather",
    "column_slice",
    "describe",
    "dumps",
    "lookup_json",
    "lookup_npz",
    "row_json",
    "scan_batches",
    "scan_page",
]

_TOO_LARGE = "response_too_large"
#: Vector values per row from which a row is written by orjson rather than the compiled renderer.
_VECTOR_FLOATS_VIA_ORJSON = 256


# -- what a projection needs, computed once per dataset schema and column list --------------------


class _Plan:
    """For one projection: the compiled renderer's plan of its rows (``json``), the converters
    its scan rows need (``(name, converter)``) and its size shape."""

    __slots__ = ("_shape", "compiled", "fixes", "float32", "json", "proj", "schema")

    def __init__(self, schema: Schema, proj: tuple[int, ...]) -> None:
        self.schema = schema
        self.proj = proj
        fixes: list[tuple[str, Callable[[Any], Any]]] = []
        for index in dict.fromkeys(proj):  # a column named twice is one key of the row: convert it once
            column = schema.columns[index]
            convert = converter(column)
            if convert is not None:
                fixes.append((column.name, convert))
        self.fixes = tuple(fixes)
        self.float32 = tuple(schema.columns[i].name for i in proj if schema.columns[i].type == "float32")
        # Each name's JSON text as orjson writes a dict key: the rows' keys, written once here.
        self.json = JsonPlan(proj, [orjson.dumps(schema.columns[i].name) for i in proj])
        # The compiled renderer writes a full-precision float32 at about half orjson's speed: rows that
        # are mostly long vectors (embeddings) stay faster through orjson, everything else is several
        # times faster compiled (docs/benchmarks.md, "Row JSON").
        floats = sum(schema.columns[i].dim for i in dict.fromkeys(proj) if schema.columns[i].type == "vector")
        self.compiled = floats < _VECTOR_FLOATS_VIA_ORJSON
        self._shape: sizes.RowShape | None = None

    @property
    def shape(self) -> sizes.RowShape:
        if self._shape is None:
            self._shape = sizes.RowShape(self.schema, self.proj)
        return self._shape


# Plans by schema identity.  Each entry holds its schema, so that its id cannot be reused while the
# entry exists; the cache is emptied when it has seen many schemas (versions come and go).
_PLANS: dict[int, tuple[Schema, dict[tuple[str, ...] | None, _Plan]]] = {}


def plan_for(ds: Dataset, columns: Sequence[str] | None) -> _Plan:
    """The rendering plan of `ds`'s rows with `columns` (all when None), cached; checks the names."""
    schema = ds.schema
    entry = _PLANS.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(_PLANS) >= 64:
            _PLANS.clear()
        entry = _PLANS[id(schema)] = (schema, {})
    key = None if columns is None else tuple(columns)
    plan = entry[1].get(key)
    if plan is None:
        plan = _Plan(schema, ds.projection(columns))
        if len(entry[1]) < 1024:
            entry[1][key] = plan
    return plan


_PAGE = 4096  # the smallest page size: touching one byte in each touches every page

# -- rows and lookups -------------------------------------------------------------------


def row_json(ds: Dataset, key: Any, columns: Sequence[str] | None = None) -> bytes | None:
    """The row with `key` as a JSON object, or None when there is no such row: written by the
    compiled renderer from the mapped columns (no Python object per value), as ``Dataset.get``'s
    row encoded by :mod:`rodata.encode` would be."""
    plan = plan_for(ds, columns)  # which checks the column names, as Dataset.get does
    if not plan.compiled:
        row = ds.get(key, columns)
        return None if row is None else dumps(_fixed(row, plan))
    seg = ds.part_for(key)  # which checks a key routed between parts
    return None if seg is None else get_json(seg, key, plan.json)


def _fixed(row: dict[str, Any], plan: _Plan) -> dict[str, Any]:
    """A library row with each value as orjson writes the one encoding of its type."""
    for name, convert in plan.fixes:
        value = row[name]
        if value is not None:
            row[name] = convert(value)
    return row


def lookup_json(ds: Dataset, keys: Sequence[Any], columns: Sequence[str] | None = None, *,
                max_bytes: int | None = None) -> bytes:
    """``{"rows": [row or null, ...]}`` aligned with `keys`; :class:`~rodata.sizes.AnswerTooLarge`
    (nothing built) when its size bound is over `max_bytes`."""
    plan = plan_for(ds, columns)
    batch = ds.get_many(keys, columns)  # which checks the keys (rodata._keys)
    if max_bytes is not None:
        sizes.lookup_tally(batch, plan.shape).check(max_bytes, f"the answer to {len(keys)} keys", _TOO_LARGE)
    if not plan.compiled:
        return dumps({"rows": _batch_rows(batch, plan)})
    return _lookup_rows(batch, plan)


def _lookup_rows(batch: Batch, plan: _Plan) -> bytes:
    """``{"rows": [...]}`` of a lookup's batch, written by the compiled renderer: each position's
    part (``which``) and row (-1: not found, ``null``)."""
    parts, which, rows = batch.locations()
    return rows_json(parts, which, rows, plan.json, b'{"rows":', b"}")


def npz_columns(ds: Dataset, columns: Sequence[str] | None) -> list[str]:
    """The columns a binary lookup carries: those asked for (all fixed-width, else
    :class:`SchemaError`), or every fixed-width column when none were named."""
    if columns is None:
        return [c.name for c in ds.schema.columns if c.fixed_width]
    for name in columns:
        if not ds.schema[name].fixed_width:
            raise SchemaError(f"column {name!r} is {ds.schema[name].type}: a binary answer holds fixed-width "
                              "columns only")
    return list(columns)


def lookup_npz(ds: Dataset, keys: Sequence[Any], columns: Sequence[str] | None = None, *,
               max_bytes: int | None = None) -> tuple[list[bytes | memoryview], int]:
    """A ``.npz`` archive aligned with `keys`, as chunks and their length (:func:`npz_chunks`):
    ``found`` (bool), ``values/<column>`` for each fixed-width column (0 where absent or null)
    and ``valid/<column>`` for nullable ones;
    :class:`~rodata.sizes.AnswerTooLarge` (nothing built) when its size is over `max_bytes`."""
    names = list(dict.fromkeys(npz_columns(ds, columns)))  # a column named twice is one member, as in JSON
    checked = coerce_keys(ds.schema, keys)  # a bad key is 422 before the size bound is 413
    if max_bytes is not None:
        members = [("found", 1)]
        for name in names:
            column = ds.schema[name]
            members.append((f"values/{name}", column.dtype.itemsize * column.dim))
            if column.nullable:
                members.append((f"valid/{name}", 1))
        bound = sizes.npz_bound(len(keys), members)
        if bound > max_bytes:
            raise sizes.AnswerTooLarge(f"the answer to {len(keys)} keys would take up to {bound} bytes; the limit "
                                       f"is {max_bytes} (ask for fewer keys or columns)", bound=bound,
                                       limit=max_bytes, code=_TOO_LARGE)
    batch = ds.get_many(checked, names)
    arrays: list[tuple[str, np.ndarray[Any, Any]]] = [("found", batch.found)]
    take = Gather(batch)
    for name in names:
        index = ds.schema.index(name)
        arrays.append((f"values/{name}", take.values(index)))
        if ds.schema.columns[index].nullable:
            arrays.append((f"valid/{name}", batch.valid(name)))
    return npz_chunks(arrays)


class Gather:
    """A lookup's fixed-width columns aligned with its keys (0 where a key was not found), as
    ``Batch[name]`` gives them: where each position's row is, worked out once for all the
    columns, then each column taken from the mapping by ``ndarray.take`` (a fancy index of the
    view and another of the answer cost several times more)."""

    __slots__ = ("groups", "missing", "n", "schema", "single")

    def __init__(self, batch: Batch) -> None:
        self.schema = batch.schema
        parts, which, rows = batch.locations()
        found = rows >= 0
        self.n = len(rows)
        self.missing = None if found.all() else ~found
        self.single: tuple[Any, np.ndarray[Any, Any]] | None = None
        self.groups: list[tuple[Any, np.ndarray[Any, Any], np.ndarray[Any, Any]]] = []
        if len(parts) == 1:  # row 0 stands in for the keys not found, zeroed after
            self.single = (parts[0], rows if self.missing is None else np.where(found, rows, 0))
        else:
            for k, seg in enumerate(parts):
                pos = np.flatnonzero(found & (which == k))
                if len(pos):
                    self.groups.append((seg, pos, rows[pos]))

    def values(self, index: int) -> np.ndarray[Any, Any]:
        """Column `index` aligned with the keys."""
        column = self.schema.columns[index]
        if self.single is not None:
            seg, rows = self.single
            out: np.ndarray[Any, Any] = seg.column_view(index).take(rows, axis=0)
            if self.missing is not None:
                out[self.missing] = 0
            return out
        out = np.zeros((self.n, column.dim) if column.type == "vector" else (self.n,), dtype=column.dtype)
        for seg, pos, rows in self.groups:
            out[pos] = seg.column_view(index).take(rows, axis=0)
        return out


# -- scans ------------------------------------------------------------------------------


def scan_page(
    ds: Dataset,
    *,
    limit: int,
    start: Any = None,
    end: Any = None,
    prefix: str | None = None,
    after: Any = None,
    columns: Sequence[str] | None = None,
    max_bytes: int | None = None,
) -> bytes:
    """One page of a key-ordered scan: ``{"rows": [...], "next": cursor or null}``.

    ``next`` is the key of the page's last row when more rows follow; asking again
    with ``after=next`` (and the same other arguments) gives the next page, so a
    walk through the pages sees every row once, in order.
    :class:`~rodata.sizes.AnswerTooLarge` (nothing built) when the page's size bound is
    over `max_bytes`."""
    batches, cursor = scan_batches(ds, limit=limit, start=start, end=end, prefix=prefix, after=after,
                                   columns=columns)
    plan = plan_for(ds, columns)
    if max_bytes is not None:
        sizes.scan_tally(batches, plan.shape, cursor).check(max_bytes, "the scan page", _TOO_LARGE)
    rows: list[dict[str, Any] | None] = []
    for batch in batches:
        rows.extend(_batch_rows(batch, plan))
    return dumps({"rows": rows, "next": cursor})


def scan_batches(ds: Dataset, *, limit: int, start: Any = None, end: Any = None, prefix: str | None = None,
                 after: Any = None, columns: Sequence[str] | None = None) -> tuple[list[Batch], Any]:
    """The rows of one scan page (see :func:`scan_page`), still unread: its batches (each one run
    of rows of one part) and its cursor (the key of its last row, None on the last page)."""
    if limit < 1:
        raise UsageError("limit must be positive")
    batches: list[Batch] = []
    taken = 0
    more = False
    for batch in ds.scan(start, end, prefix, columns, after=after, batch_size=limit + 1):
        room = limit - taken
        if len(batch) > room:  # rows beyond the page: there is a next page
            more = True
            if room:
                batches.append(_head(batch, room))
            break
        batches.append(batch)
        taken += len(batch)
    return batches, (_last_key(batches[-1]) if more else None)


def _batch_rows(batch: Batch, plan: _Plan) -> list[dict[str, Any] | None]:
    """A batch's rows as dicts whose values orjson writes as the one encoding."""
    rows = batch.to_pylist()
    if plan.fixes:
        fix_rows(rows, plan.fixes, {name: batch[name] for name in plan.float32})
    return rows


def _head(batch: Batch, count: int) -> Batch:
    """The first `count` rows of a scan batch (one run of rows of one segment), still unread."""
    seg, _, rows = batch._pieces[0]
    assert isinstance(rows, slice)
    return Batch(batch.schema, batch._columns, count, [(seg, None, slice(rows.start, rows.start + count))],
                 np.ones(count, dtype=bool))


def _last_key(batch: Batch) -> Any:
    seg, _, rows = batch._pieces[-1]
    assert isinstance(rows, slice)
    return seg.key_at(rows.stop - 1)


# -- columns ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSlice:
    """A column slice ready to send: `chunks` concatenated are the body (views of the mapping
    where possible, never copied here), `headers` describe it."""

    media_type: str
    chunks: tuple[bytes | memoryview, ...]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Length of the body."""
        return sum(len(c) if isinstance(c, bytes) else c.nbytes for c in self.chunks)


def slice_rows(ds: Dataset, offset: int, limit: int | None) -> int:
    """How many rows a slice from `offset` holds (a limit past the end is clipped); ValueError for
    a negative offset or limit, IndexError for an offset past the end."""
    if offset < 0 or (limit is not None and limit < 0):
        raise UsageError("offset and limit must not be negative")
    total = len(ds)
    if offset > total:
        raise IndexError(f"offset {offset} is past the end of the column ({total} rows)")
    return total - offset if limit is None else min(limit, total - offset)


def fault_in(array: np.ndarray[Any, Any]) -> None:
    """Read one byte of every page of a view of the mapping, so that the pages are in memory before
    the view is sent: a slice is answered off the event loop (rodata.server.offload), and the
    kernel's copy of its bytes into the socket, on the loop, then finds them there instead of
    blocking the loop on a read from storage.  (numpy's strided reduction releases the GIL.)"""
    flat = as_bytes(array)
    if flat.nbytes:
        np.frombuffer(flat, np.uint8)[::_PAGE].max()


def column_slice(ds: Dataset, name: str, offset: int = 0, limit: int | None = None,
                 fmt: str = "raw", *, max_bytes: int | None = None) -> ColumnSlice:
    """Rows [offset, offset + limit) of column `name`.

    ``fmt="raw"`` (fixed-width columns): little-endian values as they are mapped,
    described by the ``x-rodata-dtype`` and ``x-rodata-shape`` headers;
    ``fmt="npy"``: the same bytes after a ``.npy`` header; ``fmt="json"`` (the
    only form for strings and bytes): a JSON array with nulls.  A body whose size
    (exact for raw and npy, a bound for JSON) is over `max_bytes` raises
    :class:`~rodata.sizes.AnswerTooLarge` before anything is built."""
    column = ds.schema[name]
    rows = slice_rows(ds, offset, limit)
    if fmt not in ("raw", "npy", "json"):
        raise UsageError(f"unknown format {fmt!r}: expected raw, npy or json")
    if fmt == "json" or not column.fixed_width:
        if max_bytes is not None:
            sizes.column_slice_tally(ds, name, offset, rows).check(
                max_bytes, f"a JSON slice of {rows} rows of column {name!r}", "slice_too_large")
        values = ds.column(name, offset, rows)
        valid = _slice_validity(ds, name, offset, rows) if column.fixed_width else None
        return ColumnSlice("application/json", (column_json(column, values, valid),), _slice_headers(ds, offset, rows))
    nbytes = rows * column.dtype.itemsize * column.dim
    if max_bytes is not None and nbytes > max_bytes:
        raise sizes.AnswerTooLarge(f"{nbytes} bytes in one column slice; the limit is {max_bytes} (use offset and "
                                   "limit)", bound=nbytes, limit=max_bytes, code="slice_too_large")
    array = ds.column(name, offset, rows)
    fault_in(array)
    headers = _slice_headers(ds, offset, rows)
    headers["x-rodata-dtype"] = array.dtype.str
    headers["x-rodata-shape"] = ",".join(str(n) for n in array.shape)
    if column.nullable:
        headers["x-rodata-nullable"] = "true"
    if fmt == "npy":
        return ColumnSlice("application/x-npy", (npy_header(array), as_bytes(array)), headers)
    return ColumnSlice("application/octet-stream", (as_bytes(array),), headers)


def _slice_headers(ds: Dataset, offset: int, rows: int) -> dict[str, str]:
    return {"x-rodata-version": str(ds.version), "x-rodata-offset": str(offset), "x-rodata-rows": str(rows),
            "x-rodata-total-rows": str(len(ds))}


def _slice_validity(ds: Dataset, name: str, offset: int, rows: int) -> np.ndarray[Any, Any] | None:
    """True where rows [offset, offset + rows) of `name` are not null (None: the column has no nulls);
    read for those rows only, not the whole column."""
    index = ds.schema.index(name)
    if not ds.schema.columns[index].nullable:
        return None
    parts = [seg.valid_rows(index, np.arange(lo, hi, dtype=np.int64))
             for seg, lo, hi in ds.row_ranges(offset, offset + rows)]
    return np.concatenate(parts) if parts else np.ones(0, dtype=bool)


# -- descriptions -----------------------------------------------------------------------


def describe(ds: Dataset, *, detail: bool = False) -> dict[str, Any]:
    """``{"name", "version", "rows", "key", "columns"}``; with `detail`, also the bytes mapped,
    the parts (file, rows, key range, bytes) and the build information of the manifest."""
    doc = ds.describe()
    if detail:
        manifest = ds.manifest  # None for a dataset opened from a single .seg file
        doc["bytes"] = ds.nbytes
        doc["created_at"] = None if manifest is None else manifest.created_at
        doc["parts"] = [] if manifest is None else [
            {"file": p.file, "rows": p.rows, "bytes": p.bytes, "min_key": p.min_key, "max_key": p.max_key}
            for p in manifest.parts
        ]
        doc["build"] = {} if manifest is None else dict(manifest.build)
    return doc
