"""Codec benchmarks, one core: each rodata figure has a baseline measured in the same run.

Run:
    pytest benchmarks/core --benchmark-json=.benchmarks/core.json
    python benchmarks/summarize.py .benchmarks/core.json
Throughput is recorded in ``extra_info`` as items per call; summarize.py turns it into items/s and ratios."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata

pytestmark = pytest.mark.benchmark(min_rounds=5, warmup=True)
rng = np.random.default_rng(7)


def _record(benchmark: Any, items: float, unit: str) -> None:
    benchmark.extra_info["items_per_call"] = items
    benchmark.extra_info["unit"] = unit


# -- get_many: int64 keys ----------------------------------------------------------------


@pytest.fixture(scope="module")
def int_queries(int_table: Any) -> np.ndarray[Any, Any]:
    _, cols = int_table
    return rng.choice(cols["id"], 1_000_000)


@pytest.mark.benchmark(group="get_many int64 (1M keys)")
def test_get_many_int64_rodata(benchmark: Any, int_table: Any, int_queries: Any) -> None:
    ds, _ = int_table
    batch = benchmark(ds.get_many, int_queries)
    assert batch.found.all()
    _record(benchmark, len(int_queries), "keys")


@pytest.mark.benchmark(group="get_many int64 (1M keys)")
def test_get_many_int64_baseline_searchsorted(benchmark: Any, int_table: Any, int_queries: Any) -> None:
    _, cols = int_table
    sorted_keys = np.sort(cols["id"])

    def lookup(q: Any) -> Any:
        pos = np.searchsorted(sorted_keys, q)
        return sorted_keys[np.minimum(pos, len(sorted_keys) - 1)] == q

    assert benchmark(lookup, int_queries).all()
    _record(benchmark, len(int_queries), "keys")


@pytest.mark.benchmark(group="get_many int64 (1M keys)")
def test_get_many_int64_baseline_dict(benchmark: Any, int_table: Any, int_queries: Any) -> None:
    _, cols = int_table
    index = {k: i for i, k in enumerate(cols["id"].tolist())}
    queries = int_queries.tolist()
    rows = benchmark(lambda: [index.get(k, -1) for k in queries])
    assert min(rows) >= 0
    _record(benchmark, len(queries), "keys")


# -- get_many: string keys -------------------------------------------------------------


@pytest.fixture(scope="module")
def str_queries(str_table: Any) -> list[str]:
    _, keys = str_table
    return [keys[i] for i in rng.integers(0, len(keys), 1_000_000).tolist()]


@pytest.mark.benchmark(group="get_many string (1M keys)")
def test_get_many_string_rodata(benchmark: Any, str_table: Any, str_queries: list[str]) -> None:
    ds, _ = str_table
    assert benchmark(ds.get_many, str_queries).found.all()
    _record(benchmark, len(str_queries), "keys")


@pytest.mark.benchmark(group="get_many string (1M keys)")
def test_get_many_string_baseline_dict(benchmark: Any, str_table: Any, str_queries: list[str]) -> None:
    _, keys = str_table
    index = {k: i for i, k in enumerate(keys)}
    rows = benchmark(lambda: [index.get(k, -1) for k in str_queries])
    assert min(rows) >= 0
    _record(benchmark, len(str_queries), "keys")


# -- get: one 10-column row ------------------------------------------------------------


@pytest.fixture(scope="module")
def row_queries(int_table: Any) -> list[int]:
    _, cols = int_table
    return rng.choice(cols["id"], 100_000).tolist()


@pytest.mark.benchmark(group="get 10-column row (100k gets)")
def test_get_row_rodata(benchmark: Any, int_table: Any, row_queries: list[int]) -> None:
    ds, _ = int_table
    get = ds.get
    rows = benchmark(lambda: [get(k) for k in row_queries])
    assert len(rows[0]) == 10
    _record(benchmark, len(row_queries), "rows")


@pytest.mark.benchmark(group="get 10-column row (100k gets)")
def test_get_row_baseline_dict_of_dicts(benchmark: Any, int_table: Any, row_queries: list[int]) -> None:
    """The in-memory ceiling: every row prebuilt as a dict in a dict (no decoding at all)."""
    ds, _ = int_table
    wanted = set(row_queries)
    table = {k: ds.get(k) for k in wanted}
    rows = benchmark(lambda: [table.get(k) for k in row_queries])
    assert len(rows[0]) == 10
    _record(benchmark, len(row_queries), "rows")


# -- column scan -----------------------------------------------------------------------


def _part_file(ds: Any) -> Path:
    return Path(ds.path) / ds.manifest.parts[0].file


@pytest.mark.benchmark(group="column scan (sum of a float64 column)")
def test_column_scan_rodata(benchmark: Any, int_table: Any) -> None:
    ds, _ = int_table
    total = benchmark(lambda: float(ds.column("f0").sum()))
    assert total > 0
    _record(benchmark, ds.column("f0").nbytes, "bytes")


@pytest.mark.benchmark(group="column scan (sum of a float64 column)")
def test_column_scan_baseline_fromfile(benchmark: Any, int_table: Any) -> None:
    ds, _ = int_table
    view = ds.column("f0")
    offset = view.__array_interface__["data"][0] - np.frombuffer(ds._segments()[0].mapping, np.uint8)\
        .__array_interface__["data"][0]
    path = _part_file(ds)
    total = benchmark(lambda: float(np.fromfile(path, dtype="<f8", count=len(view), offset=offset).sum()))
    assert total == pytest.approx(float(view.sum()))
    _record(benchmark, view.nbytes, "bytes")


# -- open + verify ---------------------------------------------------------------------


def _open_verify(benchmark: Any, ds: Any) -> None:
    """Open a version with every checksum verified, then close it."""
    def open_close() -> int:
        with rodata.open(ds.path, verify=True) as again:
            return len(again)

    assert benchmark(open_close) == len(ds)
    _record(benchmark, ds.nbytes, "bytes")


def _read_file(benchmark: Any, ds: Any) -> None:
    """Reading the same bytes with np.fromfile (page cache warm), the cost of merely touching them."""
    path = _part_file(ds)
    assert benchmark(lambda: int(np.fromfile(path, dtype=np.uint8).size)) == ds.nbytes
    _record(benchmark, ds.nbytes, "bytes")


@pytest.mark.benchmark(group="open + verify (whole version)")
def test_open_verify_rodata(benchmark: Any, int_table: Any) -> None:
    _open_verify(benchmark, int_table[0])


@pytest.mark.benchmark(group="open + verify (whole version)")
def test_open_verify_baseline_fromfile(benchmark: Any, int_table: Any) -> None:
    _read_file(benchmark, int_table[0])


# -- deep validation -------------------------------------------------------------------


@pytest.mark.benchmark(group="deep validation (10 columns, int64 keys)")
def test_validate_rodata(benchmark: Any, int_table: Any) -> None:
    """rodata.validate: open, every checksum, then every structural invariant over every byte."""
    ds, _ = int_table
    assert benchmark(rodata.validate, ds.path).rows == len(ds)
    _record(benchmark, ds.nbytes, "bytes")


@pytest.mark.benchmark(group="deep validation (10 columns, int64 keys)")
def test_validate_baseline_open_verify(benchmark: Any, int_table: Any) -> None:
    """Open and checksums only: what deep validation adds is the difference."""
    _open_verify(benchmark, int_table[0])


@pytest.mark.benchmark(group="deep validation (10 columns, int64 keys)")
def test_validate_baseline_fromfile(benchmark: Any, int_table: Any) -> None:
    _read_file(benchmark, int_table[0])


@pytest.mark.benchmark(group="deep validation (string keys, one column)")
def test_validate_strings_rodata(benchmark: Any, str_table: Any) -> None:
    """The worst case per byte: every row's string key is hashed again and its probe replayed."""
    ds, _ = str_table
    assert benchmark(rodata.validate, ds.path).rows == len(ds)
    _record(benchmark, ds.nbytes, "bytes")


@pytest.mark.benchmark(group="deep validation (string keys, one column)")
def test_validate_strings_baseline_open_verify(benchmark: Any, str_table: Any) -> None:
    _open_verify(benchmark, str_table[0])
