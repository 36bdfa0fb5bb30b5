"""Building one version from many processes or machines: the engine-neutral parts API that
``rodata.spark`` drives, and that any other engine (Dask, Ray, a Kubernetes Indexed Job) can.

::

    staging = rodata.parts.begin(data_root, "users", key="id", schema={"id": "int64", "name": "string"})
    rodata.parts.write_part(staging, 0, table)      # on any worker; `staging` pickles
    rodata.parts.commit(staging)                    # on one process, once every part is written

A staging area is a directory ``DATA_ROOT/<dataset>/.staging-parts-<id>/`` on a filesystem that
every worker sees.  Each attempt at a part writes its segment under a name of its own, through the
one part writer (rodata.parts_writer: sorted, the duplicate policy, deep-validated), then
replaces the part's record (``index-NNNNNN.json``, which names that segment) by an atomic rename:
the last completed attempt of an index wins, and a killed attempt leaves only a segment that no
record names, which commit removes.  Commit seals the staging area (a rename: late attempts are
shut out), orders the parts by key range, refuses overlapping ranges or a part of another schema
(nothing published, the staging left as it was), then renames the parts into key order and
publishes with the usual protocol (rodata.writer.publish_parts)."""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from rodata._columns import ColumnData, coerce_columns
from rodata._core import Segment
from rodata._files import read_regular
from rodata.errors import PublishError, RodataError, SchemaError, UsageError
from rodata.keyorder import check_policy
from rodata.manifest import MANIFEST_FORMAT, PartEntry, new_manifest, parse_manifest
from rodata.parts_writer import write_part as write_ordered_part
from rodata.parts_writer import write_rows
from rodata.schema import MAX_DATE, MIN_DATE, Column, Schema, key_storage_type, parse_type
from rodata.store import Version, build_lock, check_dataset_name, clean_stale_staging, dataset_path, guard
from rodata.writer import publish_parts

__all__ = ["STALE_AFTER", "Staging", "abort", "attach", "begin", "clean_stale", "commit", "write_part"]

#: A staging area untouched this long (no part written in it) is abandoned: the next `begin` on the
#: dataset removes it.  Its owner may be on another machine, so whether it lives cannot be asked.
STALE_AFTER = 24 * 3600.0
PREFIX = ".staging-parts-"
_STAGING_FILE = "staging.json"
_MAX_INDEX = 999_999
_MAX_RECORD_BYTES = 1 << 20


@dataclass(frozen=True)
class Staging:
    """A staging area: plain data (paths and the schema), so it pickles and travels to workers."""

    path: str
    dataset: str
    key: str
    columns: tuple[tuple[str, str, bool], ...]  # (name, type name, nullable) in schema order
    on_duplicate: str = "error"

    @property
    def schema(self) -> Schema:
        """The schema every part is written with."""
        return Schema(tuple(_column(name, type_, nullable) for name, type_, nullable in self.columns), self.key)


def _column(name: str, type_name: str, nullable: bool) -> Column:
    type_, dim = parse_type(type_name)
    return Column(name, type_, nullable, dim)


def begin(data_root: str | os.PathLike[str], dataset: str, *, key: str, schema: Any,
          on_duplicate: str = "error", stale_after: float = STALE_AFTER) -> Staging:
    """A new staging area for the next version of `dataset` under `data_root`.

    `schema` is a mapping of column name to type in column order (``"int32"``, ``"vector[64]"``,
    ``{"type": "string", "nullable": False}`` or a :class:`Column`; columns other than the key are
    nullable unless said otherwise), a :class:`Schema`, or a ``pyarrow.Schema``.  An integer key
    is stored as int64.  `on_duplicate` ("error", "first", "last") applies within each part; keys
    are never repeated across parts (commit refuses overlapping ranges).  Abandoned staging areas
    of the dataset (untouched for `stale_after` seconds) are removed first."""
    check_policy(on_duplicate)
    typed = _schema_of(schema, key)
    d = dataset_path(data_root, dataset)
    d.mkdir(parents=True, exist_ok=True)
    clean_stale_staging(d)
    clean_stale(d, stale_after=stale_after)
    path = d / f"{PREFIX}{secrets.token_hex(8)}"
    path.mkdir()
    staging = Staging(str(path.resolve()), dataset, typed.key,
                      tuple((c.name, c.type_name, c.nullable) for c in typed.columns), on_duplicate)
    doc = {"dataset": dataset, "key": staging.key, "columns": [list(c) for c in staging.columns],
           "on_duplicate": on_duplicate, "host": socket.gethostname(), "pid": os.getpid(), "created": time.time()}
    _write_atomically(path / _STAGING_FILE, orjson.dumps(doc))
    return staging


def attach(path: str | os.PathLike[str]) -> Staging:
    """The staging area at `path`, rebuilt from what :func:`begin` recorded there (for workers that
    receive only the path)."""
    p = Path(path)
    doc = _read_json(p / _STAGING_FILE)
    try:
        columns = tuple((str(n), str(t), bool(nullable)) for n, t, nullable in doc["columns"])
        staging = Staging(str(p.resolve()), check_dataset_name(str(doc["dataset"])), str(doc["key"]), columns,
                          str(doc["on_duplicate"]))
        staging.schema  # noqa: B018 -- the recorded schema must be one
    except (KeyError, TypeError, ValueError) as exc:
        raise PublishError(f"{p / _STAGING_FILE}: not a staging record: {exc}") from None
    return staging


def write_part(staging: Staging, index: int, table: Any) -> PartEntry:
    """Write `table` as part `index` of `staging`: converted to the staging's schema, sorted by the
    key, the duplicate policy applied, written and deep-validated.  `table` is a pyarrow Table or
    RecordBatch, a pandas DataFrame or a dict of numpy arrays (a 2-D float array is a vector column).

    Any process may call it, for any index in any order; writing an index again (a retried or
    speculative attempt) replaces what an earlier attempt wrote, never mixes with it."""
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= _MAX_INDEX:
        raise UsageError(f"a part index is an integer from 0 to {_MAX_INDEX}, not {index!r}")
    path = Path(staging.path)
    if not (path / _STAGING_FILE).is_file():
        raise PublishError(f"{path}: no such staging area (committed, aborted or never begun)")
    schema = staging.schema
    columns = columns_for(schema, table, where=f"part {index}")
    segment = path / f"attempt-{index:06d}-{secrets.token_hex(6)}.seg"
    try:
        written = write_ordered_part(segment, schema, columns, staging.on_duplicate)
        record = {"index": index, "segment": segment.name, "part": written.info.to_json(),
                  "schema": schema.to_json(), "key": schema.key, "duplicates": written.duplicates}
        _write_atomically(_record_path(path, index), orjson.dumps(record))
    except BaseException:
        segment.unlink(missing_ok=True)
        raise
    return written.info


def commit(staging: Staging, *, keep_versions: int = 3, allow_schema_change: bool = False,
           allow_shrink: bool = False, build: Mapping[str, Any] | None = None) -> Version:
    """Publish the parts written into `staging` as the new live version, in key order.

    Refuses (a :class:`RodataError`, nothing published, the staging left as it was, so a part may be
    written again and commit retried) parts whose key ranges overlap or whose schema differs, and,
    by the publish guard, a schema change or a shrink that the flags do not allow.  Empty parts are
    dropped.  Call it once every worker has finished."""
    started = time.time()
    path = Path(staging.path)
    schema = staging.schema
    recorded = attach(path)
    if recorded.schema != schema or recorded.dataset != staging.dataset or path.parent.name != staging.dataset:
        raise PublishError(f"{path}: the staging area records another dataset or schema than this handle's")
    # One build of a dataset at a time (rodata.store.build_lock), taken before the seal: a refusal
    # (another build runs) leaves the staging as it was, to commit again.
    with build_lock(path.parent):
        return _commit(staging, path, schema, started, keep_versions=keep_versions,
                       allow_schema_change=allow_schema_change, allow_shrink=allow_shrink, build=build)


def _commit(staging: Staging, path: Path, schema: Schema, started: float, *, keep_versions: int,
            allow_schema_change: bool, allow_shrink: bool, build: Mapping[str, Any] | None) -> Version:
    # Sealed first, by a rename: an attempt still running (a speculative one the engine gave up on)
    # can no longer add or replace a part by the staging's path while commit reads and moves them.
    sealed = path.with_name(f"{path.name}.sealed-{secrets.token_hex(4)}")
    try:
        os.rename(path, sealed)
    except OSError as exc:
        raise PublishError(f"{path}: cannot seal the staging area (committed or aborted meanwhile?): {exc}") from None
    try:
        parts = _ordered_parts(sealed, schema)
        final = [replace(info, file=f"part-{i:05d}.seg") for i, (_, info) in enumerate(parts)]
        _guard(sealed, staging.dataset, schema, final, build, allow_schema_change, allow_shrink)
    except BaseException:
        os.rename(sealed, path)  # refused: the staging as it was, to take a part again and commit
        raise
    try:  # from here on the staging area is rearranged into the version: a failure removes it
        keep = {segment for segment, _ in parts}
        for entry in sealed.iterdir():
            if entry.name not in keep:
                entry.unlink()
        for (segment, _), info in zip(parts, final, strict=True):
            os.rename(sealed / segment, sealed / info.file)
        if not final:
            final = [write_rows(sealed / "part-00000.seg", schema, [ColumnData.empty(c) for c in schema.columns])]
        info_build = {"source": "rodata.parts", "parts": len(final), **(build or {})}
        return publish_parts(sealed, staging.dataset, schema, final, keep_versions=keep_versions, build=info_build,
                             started=started, allow_schema_change=allow_schema_change, allow_shrink=allow_shrink)
    finally:
        if sealed.exists():
            shutil.rmtree(sealed, ignore_errors=True)


def _guard(path: Path, dataset: str, schema: Schema, final: list[PartEntry], build: Mapping[str, Any] | None,
           allow_schema_change: bool, allow_shrink: bool) -> None:
    """The publish guard, run before anything is moved so that a refusal leaves the staging as it was
    (rodata.store.publish runs it again under the dataset's lock)."""
    empty_part = PartEntry("part-00000.seg", 0, 128, None, None, "0" * 16)
    draft = new_manifest(schema, final or [empty_part], build=build)
    doc = dict(draft, version="v000000-00000000", format=MANIFEST_FORMAT, dataset=dataset)
    guard(path.parent, parse_manifest(orjson.dumps(doc), source=str(path)), allow_schema_change=allow_schema_change,
          allow_shrink=allow_shrink)


def abort(staging: Staging | str | os.PathLike[str]) -> None:
    """Remove a staging area and everything written into it (nothing is published)."""
    path = Path(staging.path if isinstance(staging, Staging) else staging)
    if not path.name.startswith(PREFIX):
        raise UsageError(f"{path} is not a staging area of rodata.parts")
    shutil.rmtree(path, ignore_errors=True)


def clean_stale(dataset_dir: str | os.PathLike[str], *, stale_after: float = STALE_AFTER) -> list[str]:
    """Remove the dataset's staging areas in which nothing was written for `stale_after` seconds."""
    d = Path(dataset_dir)
    removed: list[str] = []
    if not d.is_dir():
        return removed
    now = time.time()
    for p in d.iterdir():
        if not p.name.startswith(PREFIX):
            continue
        try:
            touched = max([p.stat().st_mtime, *(e.stat().st_mtime for e in p.iterdir())])
        except OSError:
            continue  # removed meanwhile, or not ours to look into
        if now - touched > stale_after:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    return removed


def _record_path(path: Path, index: int) -> Path:
    return path / f"index-{index:06d}.json"


def _ordered_parts(path: Path, schema: Schema) -> list[tuple[str, PartEntry]]:
    """(segment file, entry) of each non-empty written part in key order; a refusal if any two
    overlap, or a part's record or segment disagrees with the staging's schema."""
    expected = schema.to_json()
    parts: list[tuple[int, str, PartEntry]] = []
    for record_path in sorted(path.glob("index-*.json")):
        record = _read_json(record_path)
        index = record.get("index")
        if not isinstance(index, int) or record_path.name != _record_path(path, index).name:
            raise PublishError(f"{record_path}: not the record of the part it is named after")
        if record.get("schema") != expected or record.get("key") != schema.key:
            raise PublishError(f"part {index} was written with another schema than the staging area's: "
                               f"{record.get('schema')} (key {record.get('key')!r}), expected {expected}")
        info = _entry(record, record_path)
        _check_segment(path / str(record["segment"]), info, index)
        if info.rows:
            parts.append((index, str(record["segment"]), info))
        # an empty part is dropped: its segment is removed with the other unlisted files
    parts.sort(key=lambda p: p[2].min_key)  # type: ignore[arg-type,return-value]  # one key type per schema
    for (i, _, a), (j, _, b) in itertools.pairwise(parts):
        if not a.max_key < b.min_key:  # type: ignore[operator]
            raise PublishError(f"parts {i} and {j} overlap in key range: {a.min_key!r}..{a.max_key!r} and "
                               f"{b.min_key!r}..{b.max_key!r} (a key may lie in one part only)")
    return [(segment, info) for _, segment, info in parts]


def _entry(record: Mapping[str, Any], where: Path) -> PartEntry:
    try:
        p = record["part"]
        return PartEntry(str(p["file"]), int(p["rows"]), int(p["bytes"]), p["min_key"], p["max_key"],
                         str(p["fingerprint"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise PublishError(f"{where}: not a part record: {exc}") from None


def _check_segment(segment: Path, info: PartEntry, index: Any) -> None:
    """The segment a record names is the one its writer verified: same size and fingerprint."""
    try:
        size = segment.stat().st_size
        seg = Segment(str(segment), verify=False)
    except (OSError, RodataError) as exc:
        raise PublishError(f"part {index}: its segment {segment.name} cannot be read: {exc}") from None
    if size != info.bytes or f"{seg.fingerprint:016x}" != info.fingerprint or segment.name != info.file:
        raise PublishError(f"part {index}: {segment.name} is not the segment its record describes")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = orjson.loads(read_regular(path, _MAX_RECORD_BYTES))
    except FileNotFoundError:
        raise PublishError(f"{path}: no such file (not a staging area, or it was committed or aborted)") from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise PublishError(f"{path}: cannot read it: {exc}") from None
    if not isinstance(doc, dict):
        raise PublishError(f"{path}: not a JSON object")
    return doc


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` aside and rename it over `path`: a reader sees the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --- schemas and tables ---------------------------------------------------------------------------

def _schema_of(schema: Any, key: str) -> Schema:
    """The staging schema from what `begin` was given, the key made a stored key type."""
    if isinstance(schema, Schema):
        columns = list(schema.columns)
    elif type(schema).__module__.split(".")[0] == "pyarrow" and hasattr(schema, "names"):
        columns = [_arrow_column_type(f) for f in schema]
    elif isinstance(schema, Mapping):
        columns = [_spec_column(str(name), spec) for name, spec in schema.items()]
    else:
        raise SchemaError(f"schema must be a mapping of column to type, a rodata.Schema or a pyarrow.Schema, "
                          f"not {type(schema).__name__}")
    names = [c.name for c in columns]
    if key not in names:
        raise SchemaError(f"key column {key!r} is not among the columns {names}")
    at = names.index(key)
    stored = key_storage_type(columns[at].type)
    if stored is None:
        raise SchemaError(f"key column {key!r} has type {columns[at].type_name}: a key is an integer "
                          "(stored as int64) or a string")
    columns[at] = Column(key, stored, False)
    return Schema(tuple(columns), key)


def _spec_column(name: str, spec: Any) -> Column:
    if isinstance(spec, Column):
        return Column(name, spec.type, spec.nullable, spec.dim)
    if isinstance(spec, str):
        return _column(name, spec, True)
    if isinstance(spec, Mapping) and "type" in spec:
        return _column(name, str(spec["type"]), bool(spec.get("nullable", True)))
    raise SchemaError(f"column {name!r}: cannot read the type description {spec!r:.80}")


def _arrow_column_type(field: Any) -> Column:
    type_, dim = _arrow_type(field.name, field.type)
    return Column(field.name, type_, bool(field.nullable), dim)


def _arrow_type(name: str, t: Any) -> tuple[str, int]:
    """The rodata type of an Arrow type (a vector must be a fixed-size list: its length is the dim)."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    checks: tuple[tuple[Any, str], ...] = (
        (pa.types.is_boolean, "bool"), (pa.types.is_float16, "float32"), (pa.types.is_float32, "float32"),
        (pa.types.is_float64, "float64"), (pa.types.is_date, "date"), (pa.types.is_timestamp, "timestamp"),
        (pa.types.is_string, "string"), (pa.types.is_large_string, "string"), (pa.types.is_binary, "bytes"),
        (pa.types.is_large_binary, "bytes"), (pa.types.is_fixed_size_binary, "bytes"),
        (getattr(pa.types, "is_string_view", _never), "string"), (getattr(pa.types, "is_binary_view", _never), "bytes"))
    if pa.types.is_integer(t):
        return str(t), 1
    for check, type_ in checks:
        if check(t):
            return type_, 1
    if pa.types.is_fixed_size_list(t) and (pa.types.is_floating(t.value_type) or pa.types.is_integer(t.value_type)):
        return "vector", int(t.list_size)
    raise SchemaError(f"column {name!r}: Arrow type {t} has no rodata type (a vector is a fixed-size list of "
                      "numbers, or declare vector[DIM] in a mapping schema)")


def _never(_t: Any) -> bool:
    return False


def columns_for(schema: Schema, table: Any, *, where: str = "table") -> list[ColumnData]:
    """`table`'s columns in `schema`'s order and storage form; a :class:`SchemaError` naming the
    column (and the row) for a missing or extra column, a value of another type or a null where the
    schema has none."""
    module = type(table).__module__.split(".")[0]
    if module == "pyarrow" and hasattr(table, "column_names"):
        _check_names(schema, list(table.column_names), where)
        return [_from_arrow(table.column(c.name), c, where) for c in schema.columns]
    if not isinstance(table, Mapping) and module != "pandas":
        raise SchemaError(f"{where}: a part is a pyarrow Table or RecordBatch, a pandas DataFrame or a dict of "
                          f"numpy arrays, not {type(table).__name__}")
    names = [str(n) for n in (table.columns if module == "pandas" else table)]
    _check_names(schema, names, where)
    typed = dict((column.name, (column, col)) for column, col in
                 coerce_columns(table, {c.name: c for c in schema.columns}))
    out = []
    for c in schema.columns:
        got, col = typed[c.name]
        if (got.type, got.dim) != (c.type, c.dim):
            raise SchemaError(f"{where}: column {c.name!r} holds {got.type_name}, the schema says {c.type_name}")
        out.append(_checked_nulls(c, col, where))
    return out


def _check_names(schema: Schema, names: list[str], where: str) -> None:
    missing = [n for n in schema.names if n not in names]
    extra = [n for n in names if n not in schema]
    if missing or extra or len(set(names)) != len(names):
        raise SchemaError(f"{where}: the columns {names} are not the schema's {list(schema.names)}"
                          + (f" (missing {missing})" if missing else "") + (f" (not in it {extra})" if extra else ""))


def _checked_nulls(column: Column, col: ColumnData, where: str) -> ColumnData:
    """`col`, refused when it holds a null and `column` may not (the part writer would store a zero)."""
    if col.valid is not None and not col.valid.all() and not column.nullable:
        row = int(np.flatnonzero(~col.valid)[0])
        raise SchemaError(f"{where}: column {column.name!r} has a null at row {row}, and is not nullable")
    return col


def _from_arrow(arr: Any, column: Column, where: str) -> ColumnData:
    """An Arrow array as `column`'s storage form, without a Python object per value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    valid = arr.is_valid().to_numpy(zero_copy_only=False) if arr.null_count else None
    try:
        col = _arrow_values(pa, pc, arr, column, valid, where)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise SchemaError(f"{where}: column {column.name!r}: cannot store {arr.type} as {column.type_name}: "
                          f"{exc}") from None
    return _checked_nulls(column, col, where)


def _arrow_values(pa: Any, pc: Any, arr: Any, column: Column, valid: Any, where: str) -> ColumnData:
    type_, n = column.type, len(arr)
    if type_ in ("string", "bytes"):
        if type_ == "string" and not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
                                      or getattr(pa.types, "is_string_view", _never)(arr.type)):
            raise pa.ArrowTypeError("not a string column")
        target = pa.large_string() if type_ == "string" else pa.large_binary()
        arr = pc.fill_null(arr.cast(target), pa.scalar("" if type_ == "string" else b"", target))
        bufs = arr.buffers()
        offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
        data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.empty(0, np.uint8)
        first, last = int(offsets[0]), int(offsets[-1])
        return ColumnData(offsets=(offsets - first).astype(np.uint64), data=np.array(data[first:last]), valid=valid)
    if type_ == "vector":
        return _arrow_vector(pa, pc, arr, column, valid, where)
    if type_ == "timestamp":
        if not pa.types.is_timestamp(arr.type):
            raise pa.ArrowTypeError("not a timestamp column")
        ns = arr.cast(pa.timestamp("ns", tz=arr.type.tz)).cast(pa.int64())
        values = pc.fill_null(ns, 0).to_numpy(zero_copy_only=False).view("<M8[ns]")
        return ColumnData(values=np.ascontiguousarray(values), valid=valid)
    if type_ == "date":
        if not pa.types.is_date(arr.type):
            raise pa.ArrowTypeError("not a date column")
        days = pc.fill_null(arr.cast(pa.date32()).cast(pa.int32()), 0).to_numpy(zero_copy_only=False)
        values = days.astype(np.int64).view("<M8[D]")
        present = values if valid is None else values[valid]
        if present.size and (present.min() < MIN_DATE or present.max() > MAX_DATE):
            raise SchemaError(f"{where}: column {column.name!r}: dates must lie in years 1 to 9999")
        return ColumnData(values=values, valid=valid)
    if type_ == "bool" and not pa.types.is_boolean(arr.type):
        raise pa.ArrowTypeError("not a bool column")
    arrow_type = {"bool": pa.bool_(), "float32": pa.float32(), "float64": pa.float64()}.get(type_) \
        or getattr(pa, type_)()
    zero = pa.scalar(False if type_ == "bool" else 0, arrow_type)
    values = pc.fill_null(arr.cast(arrow_type), zero).to_numpy(zero_copy_only=False)
    return ColumnData(values=np.ascontiguousarray(values), valid=valid)


def _arrow_vector(pa: Any, pc: Any, arr: Any, column: Column, valid: Any, where: str) -> ColumnData:
    n, dim = len(arr), column.dim
    if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type) or pa.types.is_fixed_size_list(arr.type)):
        raise pa.ArrowTypeError("not a list column")
    lengths = pc.fill_null(pc.list_value_length(arr), dim).to_numpy(zero_copy_only=False)
    if (lengths != dim).any():
        row = int(np.flatnonzero(lengths != dim)[0])
        raise SchemaError(f"{where}: column {column.name!r}: row {row} holds {int(lengths[row])} numbers, "
                          f"a vector[{dim}] holds {dim}")
    flat = pc.list_flatten(arr).cast(pa.float32())
    if flat.null_count:
        raise SchemaError(f"{where}: column {column.name!r}: a vector holds a null number")
    values = flat.to_numpy(zero_copy_only=False)
    if valid is None:
        return ColumnData(values=np.ascontiguousarray(values.reshape(n, dim)))
    out = np.zeros((n, dim), dtype=np.float32)
    out[np.flatnonzero(valid)] = values.reshape(-1, dim)
    return ColumnData(values=out, valid=valid)
