"""Key -> response bytes: the answers of the HTTP API as functions of a :class:`~rodata.Dataset`.

Nothing here knows about HTTP or ASGI: each function takes a dataset and plain
Python arguments and returns the body (JSON through orjson, a ``.npz`` archive,
or zero-copy views of the mapping), so that the same answers can be produced by
any front end.  Values are encoded the same way everywhere: timestamps and dates
as ISO 8601 strings (timestamps in UTC with a ``Z``), vectors as lists of
numbers, ``bytes`` values as base64 strings, nulls and non-finite floats as
``null``."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from rodata.dataset import Dataset
from rodata.errors import KeyTypeError, SchemaError

__all__ = [
    "ColumnSlice",
    "column_slice",
    "describe",
    "dumps",
    "lookup_json",
    "lookup_npz",
    "row_json",
    "scan_page",
]

_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_UTC_Z
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _default(value: Any) -> Any:
    """What orjson cannot encode on its own."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, np.ndarray):  # a non-contiguous or odd-dtype array
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> bytes:
    """JSON bytes of `value` with rodata's encoding of values (see the module docstring)."""
    return orjson.dumps(value, default=_default, option=_JSON_OPTIONS)


# -- rows and lookups -------------------------------------------------------------------


def row_json(ds: Dataset, key: Any, columns: Sequence[str] | None = None) -> bytes | None:
    """The row with `key` as a JSON object, or None when there is no such row."""
    row = ds.get(key, columns)
    if row is None:
        return None
    return orjson.dumps(row, default=_default, option=_JSON_OPTIONS)


def check_keys(ds: Dataset, keys: Sequence[Any]) -> None:
    """Raise :class:`KeyTypeError` unless every key has the dataset key column's type."""
    if ds.schema.key_column.type == "string":
        if not set(map(type, keys)) <= {str}:
            bad = next(k for k in keys if not isinstance(k, str))
            raise KeyTypeError(f"key {bad!r:.80} is not a string (the key column is string)")
        return
    if not set(map(type, keys)) <= {int}:
        bad = next(k for k in keys if type(k) is not int)
        raise KeyTypeError(f"key {bad!r:.80} is not an integer (the key column is int64)")
    if keys and not (min(keys) >= _INT64_MIN and max(keys) <= _INT64_MAX):
        bad = next(k for k in keys if not _INT64_MIN <= k <= _INT64_MAX)
        raise KeyTypeError(f"key {bad} is outside the int64 range")


def _int_keys(ds: Dataset, keys: Sequence[Any]) -> Any:
    check_keys(ds, keys)
    if ds.schema.key_column.type == "string":
        return keys
    return np.array(keys, dtype=np.int64)


def lookup_json(ds: Dataset, keys: Sequence[Any], columns: Sequence[str] | None = None) -> bytes:
    """``{"rows": [row or null, ...]}`` aligned with `keys`."""
    batch = ds.get_many(_int_keys(ds, keys), columns)
    return orjson.dumps({"rows": batch.to_pylist()}, default=_default, option=_JSON_OPTIONS)


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


def lookup_npz(ds: Dataset, keys: Sequence[Any], columns: Sequence[str] | None = None) -> bytes:
    """A ``.npz`` archive aligned with `keys`: ``found`` (bool), ``values/<column>`` for each
    fixed-width column (0 where absent or null) and ``valid/<column>`` for nullable ones."""
    names = npz_columns(ds, columns)
    batch = ds.get_many(_int_keys(ds, keys), names)
    arrays: list[tuple[str, np.ndarray[Any, Any]]] = [("found", batch.found)]
    for name in names:
        arrays.append((f"values/{name}", batch[name]))
        if ds.schema[name].nullable:
            arrays.append((f"valid/{name}", batch.valid(name)))
    return write_npz(arrays)


def write_npz(arrays: Sequence[tuple[str, np.ndarray[Any, Any]]]) -> bytes:
    """An uncompressed ``.npz`` archive (what ``numpy.savez`` writes) of named arrays."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays:
            header = npy_header(array)
            data = np.ascontiguousarray(array)
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                member.write(header)
                member.write(_as_bytes(data))
    return out.getvalue()


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
) -> bytes:
    """One page of a key-ordered scan: ``{"rows": [...], "next": cursor or null}``.

    ``next`` is the key of the page's last row when more rows follow; asking again
    with ``after=next`` (and the same other arguments) gives the next page, so a
    walk through the pages sees every row once, in order."""
    if limit < 1:
        raise ValueError("limit must be positive")
    key = ds.key
    wanted = None if columns is None else list(columns)
    projected = wanted if wanted is None or key in wanted else [*wanted, key]
    rows: list[dict[str, Any] | None] = []
    more = False
    for batch in ds.scan(start, end, prefix, projected, after=after, batch_size=limit + 1):
        rows.extend(batch.to_pylist()[: limit + 1 - len(rows)])
        if len(rows) > limit:
            more = True
            del rows[limit:]
            break
    cursor = rows[-1][key] if more and rows and rows[-1] is not None else None
    if wanted is not None and key not in wanted:
        for row in rows:
            if row is not None:
                del row[key]
    return orjson.dumps({"rows": rows, "next": cursor}, default=_default, option=_JSON_OPTIONS)


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


def _as_bytes(array: np.ndarray[Any, Any]) -> memoryview:
    """A flat byte view of a C-contiguous array (datetime64 has no buffer format of its own)."""
    flat: Any = array.reshape(-1).view(np.uint8)
    return memoryview(flat)


def npy_header(array: np.ndarray[Any, Any]) -> bytes:
    """The ``.npy`` header (format 1.0, or 2.0 when needed) that precedes `array`'s raw bytes."""
    buf = io.BytesIO()
    info = np.lib.format.header_data_from_array_1_0(array)
    try:
        np.lib.format.write_array_header_1_0(buf, info)
    except ValueError:  # a header over 64 KiB (a very wide structure) needs format 2.0
        buf = io.BytesIO()
        np.lib.format.write_array_header_2_0(buf, info)
    return buf.getvalue()


def slice_rows(ds: Dataset, offset: int, limit: int | None) -> int:
    """How many rows a slice from `offset` holds (a limit past the end is clipped); ValueError for
    a negative offset or limit, IndexError for an offset past the end."""
    if offset < 0 or (limit is not None and limit < 0):
        raise ValueError("offset and limit must not be negative")
    total = len(ds)
    if offset > total:
        raise IndexError(f"offset {offset} is past the end of the column ({total} rows)")
    return total - offset if limit is None else min(limit, total - offset)


def column_slice(ds: Dataset, name: str, offset: int = 0, limit: int | None = None,
                 fmt: str = "raw") -> ColumnSlice:
    """Rows [offset, offset + limit) of column `name`.

    ``fmt="raw"`` (fixed-width columns): little-endian values as they are mapped,
    described by the ``x-rodata-dtype`` and ``x-rodata-shape`` headers;
    ``fmt="npy"``: the same bytes after a ``.npy`` header; ``fmt="json"`` (the
    only form for strings and bytes): a JSON array with nulls."""
    column = ds.schema[name]
    rows = slice_rows(ds, offset, limit)
    if fmt == "json" or not column.fixed_width:
        values = ds.column(name, offset, rows)
        if column.fixed_width:
            values = _with_nulls(ds, name, values, offset, rows)
        return ColumnSlice("application/json", (dumps(values),), _slice_headers(ds, offset, rows))
    if fmt not in ("raw", "npy"):
        raise ValueError(f"unknown format {fmt!r}: expected raw, npy or json")
    array = ds.column(name, offset, rows)
    headers = _slice_headers(ds, offset, rows)
    headers["x-rodata-dtype"] = array.dtype.str
    headers["x-rodata-shape"] = ",".join(str(n) for n in array.shape)
    if column.nullable:
        headers["x-rodata-nullable"] = "true"
    if fmt == "npy":
        return ColumnSlice("application/x-npy", (npy_header(array), _as_bytes(array)), headers)
    return ColumnSlice("application/octet-stream", (_as_bytes(array),), headers)


def _slice_headers(ds: Dataset, offset: int, rows: int) -> dict[str, str]:
    return {"x-rodata-version": str(ds.version), "x-rodata-offset": str(offset), "x-rodata-rows": str(rows),
            "x-rodata-total-rows": str(len(ds))}


def _with_nulls(ds: Dataset, name: str, values: np.ndarray[Any, Any], offset: int, rows: int) -> Any:
    """A fixed-width slice as a list with None where the value is null."""
    valid = ds.validity(name)
    if valid is None:
        return values
    out = values.tolist()
    for i in np.flatnonzero(~valid[offset : offset + rows]).tolist():
        out[i] = None
    return out


# -- descriptions -----------------------------------------------------------------------


def describe(ds: Dataset, *, detail: bool = False) -> dict[str, Any]:
    """``{"name", "version", "rows", "key", "columns"}``; with `detail`, also the bytes mapped,
    the parts (file, rows, key range, bytes) and the build information of the manifest."""
    doc = ds.describe()
    if detail:
        manifest = ds.manifest
        doc["bytes"] = ds.nbytes
        doc["created_at"] = manifest.get("created_at")
        doc["parts"] = [
            {k: part[k] for k in ("file", "rows", "bytes", "min_key", "max_key") if k in part}
            for part in manifest.get("parts", [])
        ]
        doc["build"] = manifest.get("build", {})
    return doc
