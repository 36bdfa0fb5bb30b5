"""Data for the codec benchmarks: 1 M rows, written once per session under a temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import rodata

ROWS = 1_000_000


@pytest.fixture(scope="session")
def int_table(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A 10-column table keyed by int64 (random, sparse keys)."""
    rng = np.random.default_rng(42)
    keys = rng.permutation(ROWS * 4)[:ROWS].astype(np.int64)
    cols: dict[str, Any] = {"id": keys}
    for i in range(3):
        cols[f"f{i}"] = rng.random(ROWS)
    for i in range(3):
        cols[f"i{i}"] = rng.integers(0, 10**9, ROWS)
    cols["flag"] = rng.integers(0, 2, ROWS).astype(bool)
    cols["name"] = [f"name-{k}" for k in keys.tolist()]
    cols["day"] = np.datetime64("2020-01-01", "D") + rng.integers(0, 2000, ROWS).astype("m8[D]")
    root = tmp_path_factory.mktemp("bench")
    rodata.write(root, "ints", cols, key="id")
    with rodata.open(root / "ints") as ds:
        yield ds, cols


@pytest.fixture(scope="session")
def str_table(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[str]]]:
    """1 M string keys like 'user-000123456' with one value column."""
    rng = np.random.default_rng(43)
    ids = rng.permutation(ROWS * 4)[:ROWS]
    keys = [f"user-{i:09d}" for i in ids.tolist()]
    root = tmp_path_factory.mktemp("bench-str")
    rodata.write(root, "strs", {"id": keys, "v": ids.astype(np.int64)}, key="id")
    with rodata.open(root / "strs") as ds:
        yield ds, keys
