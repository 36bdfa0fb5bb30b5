"""Building a version with Apache Spark (the extra ``rodata[spark]``): ``rodata.spark.write(df, ...)``.

The DataFrame is range-partitioned by the key (``repartitionByRange``, which keeps equal keys in one
partition) and sorted within partitions; each task receives its partition as Arrow record batches
(``mapInArrow``: no Python object per row) and writes it as one part through
:func:`rodata.parts.write_part`; the driver commits the parts (:func:`rodata.parts.commit`).  A failed
job aborts the staging area: nothing is published.  pyspark is imported here only."""

from __future__ import annotations

import ast
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from rodata import errors
from rodata import parts as rodata_parts
from rodata.errors import RodataError, SchemaError, UsageError
from rodata.schema import MAX_VECTOR_DIM
from rodata.store import Version, check_dataset_name

__all__ = ["PART_BYTES", "SPARK_TYPES", "rodata_schema", "write"]

#: About this much data per part when `parts` is not given.
PART_BYTES = 256 << 20
#: Spark SQL type (``DataType.typeName()``) -> rodata type; an array of floats or doubles is a
#: ``vector[DIM]`` (float32) whose DIM is declared or read from the first non-null row.
SPARK_TYPES: dict[str, str] = {
    "byte": "int8", "short": "int16", "integer": "int32", "long": "int64",
    "float": "float32", "double": "float64", "boolean": "bool",
    "string": "string", "varchar": "string", "char": "string", "binary": "bytes",
    "date": "date", "timestamp": "timestamp", "timestamp_ntz": "timestamp",
}
_INTEGER_KEYS = ("byte", "short", "integer", "long")
_UNKNOWN_SIZE = 1 << 60
_MAX_PARTS = 100_000
_POLICIES = {"error": "error", "any": "first"}
_ERROR_RE = re.compile(r"rodata\.errors\.([A-Za-z]+Error): ([^\n]*)")
_DUPLICATE_RE = re.compile(r"duplicate key (.*) in column ")


def write(df: Any, data_root: str | os.PathLike[str], dataset: str, *, key: str, parts: int | None = None,
          on_duplicate: str = "error", schema: Mapping[str, str] | None = None, keep_versions: int = 3,
          allow_schema_change: bool = False, allow_shrink: bool = False) -> Version:
    """Publish the Spark DataFrame `df` as the new live version of `dataset` under `data_root`, a path
    that the driver and every executor see (a shared filesystem; any local path in ``local[N]``).

    Every column's Spark type must have a rodata type (:data:`SPARK_TYPES`); `schema` may declare a
    column's rodata type instead (``{"emb": "vector[64]"}``).  An integer key is stored as int64.
    `parts` is the number of range partitions (None: the default parallelism, or one per ~256 MiB
    if more); empty ones are dropped.  `on_duplicate` is "error" (a :class:`DuplicateKeyError`
    naming the key) or "any" (keep one row of each key).  Checks happen before any work; on any
    failure nothing is published and the live version stays."""
    if on_duplicate not in _POLICIES:
        raise UsageError(f"on_duplicate must be 'error' or 'any' (Spark keeps no row order to pick the first "
                         f"or last by), not {on_duplicate!r}")
    if parts is not None and (not isinstance(parts, int) or isinstance(parts, bool) or not 1 <= parts <= _MAX_PARTS):
        raise UsageError(f"parts must be an integer from 1 to {_MAX_PARTS}, not {parts!r}")
    if not hasattr(df, "repartitionByRange") or not hasattr(df, "mapInArrow"):
        raise UsageError(f"rodata.spark.write takes a Spark DataFrame, not {type(df).__name__}")
    check_dataset_name(dataset)
    types = rodata_schema(df, key, declared=schema)
    count = parts or _default_parts(df)
    staging = rodata_parts.begin(data_root, dataset, key=key, schema=types, on_duplicate=_POLICIES[on_duplicate])
    try:
        ordered = df.repartitionByRange(count, _col(key)).sortWithinPartitions(_col(key))
        ordered.mapInArrow(_part_writer(staging), "part int, rows long").collect()
        return rodata_parts.commit(staging, keep_versions=keep_versions, allow_schema_change=allow_schema_change,
                                   allow_shrink=allow_shrink, build={"source": "rodata.spark", "partitions": count})
    except BaseException as exc:
        rodata_parts.abort(staging)
        translated = _translated(exc)
        if translated is exc:
            raise
        raise translated from exc


def rodata_schema(df: Any, key: str, *, declared: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The rodata column types of `df` (``{name: {"type", "nullable"}}`` in column order), or a
    :class:`SchemaError` naming the first column whose Spark type has none.  The dimension of an
    undeclared vector column is read from its first non-null row (a small Spark job)."""
    declared = dict(declared or {})
    fields = list(df.schema.fields)
    names = [f.name for f in fields]
    unknown = sorted(set(declared) - set(names))
    if unknown:
        raise SchemaError(f"schema names columns that are not in the DataFrame: {unknown}")
    if key not in names:
        raise SchemaError(f"key column {key!r} is not among the columns {names}")
    out: dict[str, dict[str, Any]] = {}
    for field in fields:
        type_ = declared.get(field.name) or _rodata_type(df, field, key)
        out[field.name] = {"type": type_, "nullable": bool(field.nullable) and field.name != key}
    return out


def _rodata_type(df: Any, field: Any, key: str) -> str:
    name, spark = field.name, field.dataType
    spark_name = spark.typeName()
    if name == key:
        if spark_name in _INTEGER_KEYS:
            return "int64"
        if SPARK_TYPES.get(spark_name) == "string":
            return "string"
        raise SchemaError(f"key column {name!r} has Spark type {spark.simpleString()}: a key is an integer "
                          "(stored as int64) or a string")
    if spark_name in SPARK_TYPES:
        return SPARK_TYPES[spark_name]
    if spark_name == "array" and spark.elementType.typeName() in ("float", "double"):
        return f"vector[{_vector_dim(df, name)}]"
    raise SchemaError(f"column {name!r} has Spark type {spark.simpleString()}, which rodata cannot store "
                      f"(supported: {', '.join(sorted(set(SPARK_TYPES)))}, array<float|double> as a vector); "
                      "cast or drop it")


def _vector_dim(df: Any, name: str) -> int:
    from pyspark.sql import functions as F

    rows = df.where(_col(name).isNotNull()).select(F.size(_col(name))).limit(1).collect()
    if not rows:
        raise SchemaError(f"column {name!r}: every vector is null, so its length must be declared "
                          f"(schema={{{name!r}: 'vector[DIM]'}})")
    dim = int(rows[0][0])
    if not 1 <= dim <= MAX_VECTOR_DIM:
        raise SchemaError(f"column {name!r}: a vector of {dim} numbers (a vector holds 1 to {MAX_VECTOR_DIM})")
    return dim


def _col(name: str) -> Any:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def _default_parts(df: Any) -> int:
    """The default parallelism, or more when the plan's size estimate says ~256 MiB parts need more."""
    parallelism = int(df.sparkSession.sparkContext.defaultParallelism)
    try:
        size = int(str(df._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()))
    except Exception:  # the estimate is internal to Spark (absent on Spark Connect): then the parallelism
        size = _UNKNOWN_SIZE
    if size >= _UNKNOWN_SIZE:  # Spark's "no idea" is Long.MaxValue
        return max(1, parallelism)
    return max(1, parallelism, min(math.ceil(size / PART_BYTES), _MAX_PARTS))


def _part_writer(staging: rodata_parts.Staging) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The function each task runs on its partition's Arrow batches: write them as part `partitionId`."""

    def write_partition(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark import TaskContext

        context = TaskContext.get()
        index = context.partitionId() if context is not None else 0
        chunks = list(batches)
        rows = sum(b.num_rows for b in chunks)
        if rows:
            rodata_parts.write_part(staging, index, pa.Table.from_batches(chunks))
        yield pa.RecordBatch.from_pylist([{"part": index, "rows": rows}],
                                         schema=pa.schema([("part", pa.int32()), ("rows", pa.int64())]))

    return write_partition


def _shown_key(message: str) -> Any:
    """The key a duplicate-key message names (written there as its repr)."""
    found = _DUPLICATE_RE.match(message)
    try:
        return ast.literal_eval(found.group(1)) if found else None
    except (ValueError, SyntaxError):
        return None


def _translated(exc: BaseException) -> BaseException:
    """A task's rodata error as the driver raises it: Spark reports it as text in its own exception."""
    if isinstance(exc, RodataError) or not isinstance(exc, Exception):
        return exc
    found = _ERROR_RE.findall(str(exc))
    if not found:
        return exc
    name, message = found[-1]
    kind = getattr(errors, name, None)
    if not (isinstance(kind, type) and issubclass(kind, RodataError)):
        return exc
    if kind is errors.DuplicateKeyError:
        return errors.DuplicateKeyError(message, key=_shown_key(message))
    try:
        return kind(message)
    except TypeError:
        return RodataError(message)
