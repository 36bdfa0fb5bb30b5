"""rodata.spark.write with real pyspark in local mode: every supported type read back cell by cell
against the DataFrame's own rows, partitions as parts in key order, the duplicate policies, a failed
job that publishes nothing, and the types that have no rodata type."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
import rodata.spark
from rodata.store import current_version, list_versions

# pyspark warns that it has not been tested with this pandas; the Arrow path it takes here uses no pandas
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning",
                                        "ignore:Cannot infer the eval type:UserWarning")

UTC = dt.timezone.utc
ALL_TYPES = ("id long, i8 byte, i16 short, i32 int, i64 long, f32 float, f64 double, flag boolean, s string, "
             "raw binary, day date, ts timestamp, wall timestamp_ntz, emb array<float>, embd array<double>")
EXPECTED_TYPES = {"id": "int64", "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64", "f32": "float32",
                  "f64": "float64", "flag": "bool", "s": "string", "raw": "bytes", "day": "date", "ts": "timestamp",
                  "wall": "timestamp", "emb": "vector[3]", "embd": "vector[3]"}
WORDS = ["", "ä", "日本語", "emoji \U0001f600", "tab\tnew\nline", "plain"]


def every_type_rows(n: int) -> list[tuple[Any, ...]]:
    """Rows with one value of each type, each non-key column null at rows of its own."""
    rows = []
    for i in range(n):
        def null(v: Any, every: int, i: int = i) -> Any:
            return None if i % every == 1 else v
        rows.append((
            (i * 7919) % 1000 - 500,  # keys out of order, negative too
            null((i % 256) - 128, 3), null(i * 300 - 2**15 + 5, 4), null(-(2**31) + i * 12345, 5),
            null(2**62 - i, 6), null(i / 3, 7), null(-i * 1e300 / 7, 8), null(i % 2 == 0, 9),
            null(WORDS[i % len(WORDS)] + str(i), 3), null(bytes(range(i % 7)), 4),
            null(dt.date(1, 1, 1) + dt.timedelta(days=i * 50_000), 5),
            null(dt.datetime(1900, 1, 1, tzinfo=UTC) + dt.timedelta(days=i * 997, microseconds=i), 6),
            null(dt.datetime(2030, 5, 6, 7, 8, 9) - dt.timedelta(hours=i * 13), 7),
            null([float(i), -0.5, 1e10], 8), null([i / 7, 0.0, -i * 1e20], 9),
        ))
    return rows


def expected_value(name: str, value: Any) -> Any:
    """A collected Spark value as rodata reads it back."""
    if value is None:
        return None
    if name == "ts":  # a naive datetime in the Python process's local time: the instant is what counts
        return value.astimezone(UTC)
    if name == "wall":  # a timestamp without time zone is stored as that wall time in UTC
        return value.replace(tzinfo=UTC)
    if name in ("f32", "emb", "embd"):
        return np.asarray(value, dtype=np.float32).tolist()
    if name == "raw":
        return bytes(value)
    return value


def stored(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value


def test_every_supported_type_with_nulls_reads_back_cell_by_cell(spark: Any, data_root: Path) -> None:
    df = spark.createDataFrame(every_type_rows(60), ALL_TYPES)
    version = rodata.spark.write(df, data_root, "all", key="id", parts=3)
    assert {c.name: c.type_name for c in version.manifest.schema.columns} == EXPECTED_TYPES
    assert version.manifest.build["source"] == "rodata.spark"
    expected = df.collect()
    with rodata.open(data_root / "all") as ds:
        assert len(ds) == len(expected) == 60
        checked = 0
        for row in expected:
            got = ds.get(row["id"])
            assert got is not None
            for name in df.columns:
                want = expected_value(name, row[name])
                assert stored(got[name]) == want, (row["id"], name)
                checked += want is None
        assert checked > 60  # the nulls were compared too
        assert all(isinstance(v, float) and not math.isnan(v) for v in ds.column("f64")[:3].tolist())


def test_partitions_become_parts_in_key_order(spark: Any, data_root: Path) -> None:
    keys = [f"{WORDS[i % len(WORDS)]}-{(i * 37) % 400:04d}" for i in range(400)]
    df = spark.createDataFrame([(k, len(k)) for k in keys], "k string, n int")
    version = rodata.spark.write(df, data_root, "strings", key="k", parts=4)
    ranges = [(p.min_key, p.max_key) for p in version.manifest.parts]
    assert len(ranges) == 4 and sum(p.rows for p in version.manifest.parts) == 400
    flat = [k for r in ranges for k in r]
    assert flat == sorted(flat, key=lambda s: s.encode())  # ascending, disjoint, in UTF-8 byte order
    with rodata.open(data_root / "strings") as ds:
        scanned = [key for batch in ds.scan() for key in batch.to_pylist()]
        assert [r["k"] for r in scanned] == sorted(keys, key=lambda s: s.encode())
        assert all(r["n"] == len(r["k"]) for r in scanned)
    # parts=None: at least the default parallelism (2 here) for this small frame
    version = rodata.spark.write(df, data_root, "strings", key="k")
    assert len(version.manifest.parts) == 2


def test_equal_keys_share_one_range_partition(spark: Any) -> None:
    from pyspark.sql import functions as F

    df = spark.createDataFrame([(i % 17, i) for i in range(500)], "k long, v long")
    spread = (df.repartitionByRange(5, "k").withColumn("p", F.spark_partition_id())
              .groupBy("k").agg(F.countDistinct("p").alias("partitions")).collect())
    assert len(spread) == 17 and all(r["partitions"] == 1 for r in spread)


def test_duplicate_keys_under_each_policy(spark: Any, data_root: Path) -> None:
    rows = [(i % 30, f"row{i}") for i in range(90)]  # every key three times, in several input partitions
    df = spark.createDataFrame(rows, "id int, v string").repartition(3)
    with pytest.raises(rodata.DuplicateKeyError, match=r"duplicate key \d+ in column 'id'") as refused:
        rodata.spark.write(df, data_root, "dups", key="id", parts=3)
    assert refused.value.key in range(30)
    assert current_version(data_root / "dups") is None
    assert not [p for p in (data_root / "dups").iterdir() if p.name.startswith(".staging")]
    version = rodata.spark.write(df, data_root, "dups", key="id", parts=3, on_duplicate="any")
    assert version.rows == 30
    with rodata.open(data_root / "dups") as ds:
        for k in range(30):
            got = ds.get(k)
            assert got is not None and got["v"] in {f"row{k}", f"row{k + 30}", f"row{k + 60}"}
    with pytest.raises(rodata.UsageError, match="'error' or 'any'"):
        rodata.spark.write(df, data_root, "dups", key="id", on_duplicate="last")


def _staging_areas(dataset_dir: Path) -> list[str]:
    return [p.name for p in dataset_dir.iterdir() if p.name.startswith(".staging")]


def test_a_failing_job_publishes_nothing_and_the_rerun_succeeds(spark: Any, data_root: Path) -> None:
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, FloatType, LongType

    base = spark.range(0, 400).withColumnRenamed("id", "k")
    first = rodata.spark.write(base.withColumn("x", F.col("k") * 2), data_root, "jobs", key="k", parts=4)

    def explode_on_one_row(k: int) -> int:
        if k == 333:
            raise ValueError("bad row 333")
        return k * 3

    boom = F.udf(explode_on_one_row, LongType())
    with pytest.raises(Exception, match="bad row 333"):
        rodata.spark.write(base.withColumn("x", boom("k")), data_root, "jobs", key="k", parts=4)
    assert current_version(data_root / "jobs") == first.name
    assert list_versions(data_root / "jobs") == [first.name] and _staging_areas(data_root / "jobs") == []

    # A UDF whose one bad value (a vector of the wrong length, in the last range partition) is refused
    # by the part writer of its task, while the tasks of the lower ranges write their parts.
    vector = F.udf(lambda k: [1.0, 2.0] if k == 390 else [float(k), 0.0, 1.0], ArrayType(FloatType()))
    with pytest.raises(rodata.SchemaError, match=r"column 'emb': row \d+ holds 2 numbers, a vector\[3\] holds 3"):
        rodata.spark.write(base.withColumn("emb", vector("k")), data_root, "jobs", key="k", parts=4,
                           schema={"emb": "vector[3]"}, allow_schema_change=True)
    assert current_version(data_root / "jobs") == first.name
    assert list_versions(data_root / "jobs") == [first.name] and _staging_areas(data_root / "jobs") == []

    again = rodata.spark.write(base.withColumn("x", F.col("k") * 3), data_root, "jobs", key="k", parts=4)
    assert current_version(data_root / "jobs") == again.name != first.name
    with rodata.open(data_root / "jobs") as ds:
        assert ds.get(333) == {"k": 333, "x": 999}


def test_unsupported_types_are_refused_before_any_work(spark: Any, data_root: Path) -> None:
    cases = {
        "price decimal(10,2)": "column 'price' has Spark type decimal",
        "tags map<string,int>": "column 'tags' has Spark type map",
        "point struct<x:int,y:int>": "column 'point' has Spark type struct",
        "ints array<int>": "column 'ints' has Spark type array<int>",
    }
    for ddl, message in cases.items():
        df = spark.createDataFrame([], f"id long, {ddl}")
        with pytest.raises(rodata.SchemaError, match=message):
            rodata.spark.write(df, data_root, "bad", key="id")
    with pytest.raises(rodata.SchemaError, match="key column 'f' has Spark type double"):
        rodata.spark.write(spark.createDataFrame([], "f double"), data_root, "bad", key="f")
    with pytest.raises(rodata.UsageError, match="bad dataset name"):
        rodata.spark.write(spark.createDataFrame([], "id long"), data_root, "../bad", key="id")
    with pytest.raises(rodata.UsageError, match="takes a Spark DataFrame"):
        rodata.spark.write({"id": [1]}, data_root, "bad", key="id")
    with pytest.raises(rodata.SchemaError, match="key column 'nope' is not among"):
        rodata.spark.write(spark.createDataFrame([], "f double"), data_root, "bad", key="nope")
    assert not (data_root / "bad").exists()  # refused before a staging area was begun


def test_an_empty_dataframe_is_an_empty_version(spark: Any, data_root: Path) -> None:
    version = rodata.spark.write(spark.createDataFrame([], "id long, s string"), data_root, "none", key="id")
    assert version.rows == 0
    with rodata.open(data_root / "none") as ds:
        assert len(ds) == 0 and ds.schema.key_column.type == "int64"


def test_a_null_key_fails_the_job_naming_the_column(spark: Any, data_root: Path) -> None:
    df = spark.createDataFrame([(1, "a"), (None, "b"), (3, "c")], "id long, s string")
    with pytest.raises(rodata.SchemaError, match=r"column 'id' has a null at row 0, and is not nullable"):
        rodata.spark.write(df, data_root, "nulls", key="id", parts=2)
    assert current_version(data_root / "nulls") is None and _staging_areas(data_root / "nulls") == []
