"""Shared fixtures: small real datasets written to a temporary data root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata


def sample_columns(n: int = 200, seed: int = 7, string_key: bool = False) -> dict[str, Any]:
    """A table with one column of every type, nulls in some, unicode in strings."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n * 3)[:n].astype(np.int64) - n  # negative keys too
    words = ["ä", "日本", "x", "", "emoji-\U0001f600", "tab\tand\nnewline", "plain"]
    names: list[str | None] = [None if i % 11 == 3 else f"{words[i % len(words)]}-{i}" for i in range(n)]
    return {
        "id": [f"key-{int(k):+07d}" for k in ids] if string_key else ids,
        "i8": rng.integers(-128, 128, n).astype(np.int8),
        "i16": rng.integers(-(2**15), 2**15, n).astype(np.int16),
        "i32": rng.integers(-(2**31), 2**31, n).astype(np.int32),
        "u8": rng.integers(0, 256, n).astype(np.uint8),
        "u16": rng.integers(0, 2**16, n).astype(np.uint16),
        "u32": rng.integers(0, 2**32, n).astype(np.uint32),
        "u64": rng.integers(0, 2**63, n).astype(np.uint64) * np.uint64(2),
        "f32": rng.standard_normal(n).astype(np.float32),
        "f64": [None if i % 7 == 0 else float(v) for i, v in enumerate(rng.standard_normal(n))],
        "flag": rng.integers(0, 2, n).astype(bool),
        "ts": (np.datetime64("2024-01-01T00:00:00", "ns") + rng.integers(-(10**15), 10**15, n).astype("m8[ns]")),
        "day": np.datetime64("2000-01-01", "D") + rng.integers(-3000, 3000, n).astype("m8[D]"),
        "name": names,
        "blob": [None if i % 5 == 0 else bytes(rng.integers(0, 256, i % 9).astype(np.uint8)) for i in range(n)],
        "emb": rng.standard_normal((n, 4)).astype(np.float32),
    }


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    return root


@pytest.fixture
def sample(data_root: Path) -> tuple[Path, dict[str, Any]]:
    """(dataset dir, columns) for a published int-keyed dataset with every type."""
    cols = sample_columns()
    rodata.write(data_root, "sample", cols, key="id")
    return data_root / "sample", cols


def reference_rows(cols: dict[str, Any], key: str = "id") -> dict[Any, dict[str, Any]]:
    """The plain-Python reference: key -> row dict, as the library should return it."""
    n = len(cols[key])
    out: dict[Any, dict[str, Any]] = {}
    for i in range(n):
        row = {name: python_value(values[i]) for name, values in cols.items()}
        out[row[key]] = row
    return out


def python_value(v: Any) -> Any:
    """What a stored value reads back as through ``Dataset.get``."""
    import datetime as dt

    if isinstance(v, np.datetime64):
        unit = np.datetime_data(v.dtype)[0]
        if unit == "D":
            return dt.date(1970, 1, 1) + dt.timedelta(days=int(v.astype(np.int64)))
        us = int(v.astype("datetime64[ns]").astype(np.int64)) // 1000
        return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=us)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def normalize(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """Make a returned row comparable with the reference (vectors as lists, floats exact)."""
    if row is None:
        return None
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in row.items()}
