"""Arrow answers against npz, in process on the handlers: a 20,000-key lookup (binary keys) and a
column slice, each answer read back (``pyarrow.ipc.open_stream(...).read_all()``, ``numpy.load``)
and checked equal before timing, on the flights-like table of ``test_bench_lookup_keys.py``
(20 columns, 336,776 rows).  The npz lookup holds the fixed-width columns only (it cannot carry
strings): the Arrow lookup is timed on the same columns, and once more with every column.

Run:
    pytest benchmarks/core/test_bench_arrow.py --benchmark-json=.benchmarks/arrow.json
    python benchmarks/summarize.py .benchmarks/arrow.json

Each group's ratio (Arrow time / npz time) is what to report: below 1, Arrow answers faster."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from test_bench_lookup_keys import ROWS, flights_columns, random_keys

import rodata
from rodata.catalog import Catalog
from rodata.server import handlers
from rodata.server.errors import Reply
from rodata.server.handlers import Context
from rodata.server.settings import Settings

pytestmark = pytest.mark.benchmark(min_rounds=5, warmup=True)
OCTETS = b"application/octet-stream"
KEYS = 20_000
SLICE = 200_000  # rows of the column slice (1.6 MB of float64)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    root: Path = tmp_path_factory.mktemp("bench-arrow")
    rodata.write(root, "flights", flights_columns(ROWS), key="id")
    catalog = Catalog(root)
    catalog.load()
    yield Context(catalog, Settings())
    catalog.stop()
    for ds in catalog.datasets.values():
        ds.close()


def fixed_columns(ctx: Context) -> str:
    ds = ctx.catalog.get("flights")
    assert ds is not None
    return ",".join(c.name for c in ds.schema.columns if c.fixed_width)


def lookup(ctx: Context, keys: bytes, query: bytes) -> Reply:
    reply = handlers.lookup(ctx, "flights", keys, OCTETS, query)
    assert reply.status == 200, reply.body[:200]
    return reply


def column(ctx: Context, query: bytes) -> Reply:
    reply = handlers.column(ctx, "flights", "dep_delay", query)
    assert reply.status == 200, reply.body[:200]
    return reply


def _record(benchmark: Any, items: float, unit: str) -> None:
    benchmark.extra_info["items_per_call"] = items
    benchmark.extra_info["unit"] = unit


def _check_lookup_alike(ctx: Context, keys: bytes, columns: str) -> None:
    npz = np.load(io.BytesIO(lookup(ctx, keys, f"format=npz&columns={columns}".encode()).body))
    table = pa.ipc.open_stream(lookup(ctx, keys, f"format=arrow&columns={columns}".encode()).body).read_all()
    assert np.array_equal(table.column("found").to_numpy(), npz["found"])
    for name in columns.split(","):
        got = table.column(name).combine_chunks()
        values = npz[f"values/{name}"]
        if got.type == pa.timestamp("ns", tz="UTC"):
            got = got.cast(pa.int64())
            values = values.view(np.int64)
        assert np.array_equal(got.fill_null(0).to_numpy(zero_copy_only=False), values, equal_nan=True), name


@pytest.mark.benchmark(group=f"lookup, binary keys ({KEYS:,} keys, fixed-width columns)")
@pytest.mark.parametrize("fmt", ["arrow", "npz"])
def test_lookup(benchmark: Any, ctx: Context, fmt: str) -> None:
    keys = np.array(random_keys(KEYS), dtype="<i8").tobytes()
    columns = fixed_columns(ctx)
    _check_lookup_alike(ctx, keys, columns)
    benchmark(lookup, ctx, keys, f"format={fmt}&columns={columns}".encode())
    _record(benchmark, KEYS, "keys")


@pytest.mark.benchmark(group=f"lookup, binary keys ({KEYS:,} keys, every column)")
def test_lookup_arrow_every_column(benchmark: Any, ctx: Context) -> None:
    keys = np.array(random_keys(KEYS), dtype="<i8").tobytes()
    benchmark(lookup, ctx, keys, b"format=arrow")
    _record(benchmark, KEYS, "keys")


@pytest.mark.benchmark(group=f"column slice ({SLICE:,} rows of float64)")
@pytest.mark.parametrize("fmt", ["arrow", "npy"])
def test_column_slice(benchmark: Any, ctx: Context, fmt: str) -> None:
    query = f"format={fmt}&offset=1000&limit={SLICE}".encode()
    arrow_values = pa.ipc.open_stream(column(ctx, b"format=arrow&offset=1000&limit=%d" % SLICE).body).read_all()
    npy = np.load(io.BytesIO(column(ctx, b"format=npy&offset=1000&limit=%d" % SLICE).body))
    assert np.array_equal(arrow_values.column(0).to_numpy(), npy, equal_nan=True)
    benchmark(column, ctx, query)
    _record(benchmark, SLICE * 8, "bytes")
