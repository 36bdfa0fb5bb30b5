"""Seeded tables with every column type, nulls and extreme values, for the encoding tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

import rodata

INT_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")

FLOAT32_EXTREMES = [0.1469, 0.1, -0.0, 0.0, 1.0, float("nan"), float("inf"), float("-inf"), 1e-45, 1.1754944e-38,
                    3.4028235e38, -3.4028235e38, 16777217.0, 1e16, 1.2345679e15, 1.2345679e-5, 1e-7, -1.0000001e-6]
FLOAT64_EXTREMES = [0.1, -0.0, 0.0, float("nan"), float("inf"), float("-inf"), 5e-324, 2.2250738585072014e-308,
                    1.7976931348623157e308, -1.7976931348623157e308, 1e16, 1e-7, 123456789.125,
                    -1.2345678901234567e-5, 9007199254740993.0]
# Nanoseconds from the epoch: both ends of the int64 range (NaT, the smallest, is left out), around 0.
TIMESTAMP_EXTREMES = [-(2**63) + 1, 2**63 - 1, 0, -1, 1, -1500, 999, 1000, 1_000_001, -86_400 * 10**9,
                      1_700_000_000_123_456_789]
DATE_EXTREMES = ["0001-01-01", "9999-12-31", "1677-09-21", "1677-09-20", "2262-04-12", "1500-02-28", "2300-06-30",
                 "1969-12-31", "1970-01-01", "2000-02-29"]
STRING_EXTREMES = ["", "a\"b\\c", "\x00\x01\x1f\x7f", "\n\t\r\b\f", "é日本\U0001f600", "\u2028\u2029", "</script>",
                   "null", "x" * 300, "\"" * 40, "\x00" * 40]
BYTES_EXTREMES = [b"", b"\x00", bytes(range(256)), b"\xff\xfe", b"abc", b"ab", b"a", b"\"\\"]


def _pick(rng: np.random.Generator, pool: list[Any], n: int) -> list[Any]:
    return [pool[i] for i in rng.integers(0, len(pool), n)]


def _int_values(rng: np.random.Generator, type_: str, n: int) -> np.ndarray[Any, Any]:
    info = np.iinfo(type_)
    edges = np.array([info.min, info.max, 0, 1, info.max - 1], dtype=object)
    values = rng.integers(info.min, info.max, n, dtype=type_, endpoint=True).astype(object)
    values[: min(n, len(edges))] = edges[: min(n, len(edges))]
    return values.astype(type_)


def table(n: int, seed: int, *, string_key: bool = False, nulls: bool = True) -> tuple[dict[str, Any], dict[str, str]]:
    """(columns, declared types) for `rodata.write`: every type, once without nulls and, with
    `nulls`, once as a nullable column with about one value in four null."""
    rng = np.random.default_rng(seed)
    keys = rng.permutation(np.arange(n, dtype=np.int64) * 5 - 2 * n)
    cols: dict[str, Any] = {"id": [f"k{int(k):+08d}/é" for k in keys] if string_key else keys}
    schema: dict[str, str] = {}
    for type_ in INT_TYPES:
        cols[type_] = _int_values(rng, type_, n)
    cols["float32"] = np.array(_pick(rng, FLOAT32_EXTREMES, n) if n else [], dtype=np.float32)
    cols["float32"][: n // 2] = rng.standard_normal(n // 2).astype(np.float32)
    cols["float64"] = np.array(_pick(rng, FLOAT64_EXTREMES, n) if n else [], dtype=np.float64)
    cols["float64"][: n // 2] = rng.standard_normal(n // 2) * 10.0 ** rng.integers(-30, 30, n // 2)
    cols["bool"] = rng.random(n) < 0.5
    ts = np.array(_pick(rng, TIMESTAMP_EXTREMES, n), dtype=np.int64)
    ts[: n // 2] = rng.integers(-(2**62), 2**62, n // 2)
    cols["timestamp"] = ts.view("M8[ns]")
    cols["date"] = np.array(_pick(rng, DATE_EXTREMES, n), dtype="M8[D]")
    cols["string"] = [s if i % 3 else f"{s}-{i}" for i, s in enumerate(_pick(rng, STRING_EXTREMES, n))]
    cols["bytes"] = _pick(rng, BYTES_EXTREMES, n)
    vec = rng.standard_normal((n, 3)).astype(np.float32)
    if n:
        vec[0] = [np.nan, np.inf, -0.0]
        vec[-1] = [0.1469, 1e-45, 3.4028235e38]
    cols["vector"] = vec
    if nulls:
        for name in [c for c in cols if c != "id"]:
            cols[f"{name}?"], schema[f"{name}?"] = _nullable(rng, name, cols[name])
    return cols, schema


def _nullable(rng: np.random.Generator, type_: str, values: Any) -> tuple[Any, str]:
    """The same values with about one in four replaced by null, and the declared type."""
    n = len(values)
    null = rng.random(n) < 0.25
    if n:
        null[0] = True
    if isinstance(values, list):
        return [None if z else v for v, z in zip(values, null, strict=True)], type_
    if type_ == "vector":
        return np.ma.MaskedArray(values, mask=np.repeat(null[:, None], 3, axis=1)), "vector[3]"
    if type_ in ("timestamp", "date"):
        return [None if z else _python_time(type_, v) for v, z in zip(values, null, strict=True)], type_
    return [None if z else v.item() for v, z in zip(values, null, strict=True)], type_


def _python_time(type_: str, v: np.datetime64) -> Any:
    if type_ == "date":
        return dt.date(1970, 1, 1) + dt.timedelta(days=int(v.astype(np.int64)))
    return v  # a datetime64[ns] scalar keeps the nanoseconds


#: A generated dataset: (name, rows, seed, string key, nulls, rows per part (0: one part)).
TableSpec = tuple[str, int, int, bool, bool, int]


def write_tables(root: Path, specs: Sequence[TableSpec]) -> Path:
    """Publish one generated dataset (:func:`table`) per spec under `root`; returns `root`."""
    for name, n, seed, string_key, nulls, per_part in specs:
        cols, schema = table(n, seed, string_key=string_key, nulls=nulls)
        rodata.write(root, name, cols, key="id", schema=schema, rows_per_part=per_part or None)
    return root


@contextmanager
def opened_tables(root: Path, specs: Sequence[TableSpec]) -> Iterator[dict[str, rodata.Dataset]]:
    """The datasets of `specs` opened with the library (the oracle), closed afterwards."""
    opened = {name: rodata.open(root / name) for name, *_ in specs}
    try:
        yield opened
    finally:
        for ds in opened.values():
            ds.close()
