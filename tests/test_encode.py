"""``rodata.encode``: the one JSON text of each column type, and its array form writing the same."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rodata.encode import column_json, max_value_bytes, value_json
from rodata.errors import FormatError
from rodata.schema import FIXED_TYPES, Column

UTC = dt.timezone.utc
EXAMPLES = settings(max_examples=300, deadline=None, derandomize=True)


def col(type_: str, dim: int = 1) -> Column:
    return Column("c", type_, True, dim)


@pytest.mark.parametrize(("type_", "value", "text"), [
    ("int64", -(2**63), b"-9223372036854775808"),
    ("uint64", 2**64 - 1, b"18446744073709551615"),
    ("float32", float(np.float32(0.1469)), b"0.1469"),
    ("float32", float(np.float32(1e16)), b"1e+16"),
    ("float32", float("nan"), b"null"),
    ("float64", 0.1, b"0.1"),
    ("float64", float("-inf"), b"null"),
    ("float64", -0.0, b"-0.0"),
    ("bool", True, b"true"),
    ("timestamp", dt.datetime(2024, 5, 1, 12, 30, tzinfo=UTC), b'"2024-05-01T12:30:00Z"'),
    ("timestamp", dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), b'"1969-12-31T23:59:59.999999Z"'),
    ("date", dt.date(1, 1, 1), b'"0001-01-01"'),
    ("date", dt.date(9999, 12, 31), b'"9999-12-31"'),
    ("string", 'a"\\\n\x01é', b'"a\\"\\\\\\n\\u0001\xc3\xa9"'),
    ("bytes", b"\x00\xff", b'"AP8="'),
    ("string", None, b"null"),
])
def test_the_documented_forms(type_: str, value: Any, text: bytes) -> None:
    assert value_json(col(type_), value) == text


def test_vectors_are_float32_arrays() -> None:
    vec = np.array([0.1469, np.nan, 3.4028235e38], dtype=np.float32)
    assert value_json(col("vector", 3), vec) == b"[0.1469,null,3.4028235e+38]"
    assert value_json(col("vector", 3), None) == b"null"


@EXAMPLES
@given(st.integers(0, 2**32 - 1))
def test_a_float32_is_the_shortest_text_that_reads_back_as_it(bits: int) -> None:
    x = np.array([bits], dtype=np.uint32).view(np.float32)[0]
    text = value_json(col("float32"), float(x))
    if not np.isfinite(x):
        assert text == b"null"
        return
    assert np.float32(float(text)) == x and np.signbit(np.float32(float(text))) == np.signbit(x)
    digits = len(np.format_float_scientific(x, unique=True).split("e")[0].replace("-", "").replace(".", ""))
    mantissa = text.decode().lstrip("-").split("e")[0].replace(".", "").lstrip("0").rstrip("0") or "0"
    assert len(mantissa) <= digits  # no more significant digits than the shortest round trip needs


def _random_values(type_: str, rng: np.random.Generator, n: int) -> np.ndarray[Any, Any]:
    dtype = np.dtype(FIXED_TYPES[type_])
    raw = rng.integers(0, 256, n * dtype.itemsize, dtype=np.uint8)
    values = raw.view(dtype).copy()
    if type_ == "bool":
        values = raw[:n].view(np.bool_) & True
    if type_ == "timestamp":
        values[values.view(np.int64) == np.iinfo(np.int64).min] = np.datetime64(0, "ns")
    if type_ == "date":
        values = (rng.integers(-719162, 2932897, n)).astype("M8[D]")
    return values


def _library_value(type_: str, v: Any) -> Any:
    """The value as ``Dataset.get`` reads it."""
    if type_ == "timestamp":
        us = int(v.astype(np.int64)) // 1000
        return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=us)
    if type_ == "date":
        return dt.date(1970, 1, 1) + dt.timedelta(days=int(v.astype(np.int64)))
    if type_ == "vector":
        return v
    return v.item()


@pytest.mark.parametrize("type_", [*FIXED_TYPES, "vector"])
@pytest.mark.parametrize("nulls", [False, True])
def test_an_array_is_written_value_by_value_and_within_the_bound(type_: str, nulls: bool) -> None:
    rng = np.random.default_rng(len(type_))
    column = col(type_, 5 if type_ == "vector" else 1)
    n = 4000
    if type_ == "vector":
        values = rng.integers(0, 2**32, (n, 5), dtype=np.uint64).astype(np.uint32).view(np.float32)
    else:
        values = _random_values(type_, rng, n)
    valid = (rng.random(n) < 0.7) if nulls else None
    body = column_json(column, values, valid)
    cells = [b"null" if valid is not None and not valid[i] else value_json(column, _library_value(type_, values[i]))
             for i in range(n)]
    assert body == b"[" + b",".join(cells) + b"]"
    assert max(len(c) for c in cells) <= max_value_bytes(column)


def test_strings_and_bytes_arrays() -> None:
    assert column_json(col("string"), ["a", None, "\x00"]) == b'["a",null,"\\u0000"]'
    values = [b"", None, bytes(range(256))]
    assert json.loads(column_json(col("bytes"), values)) == ["", None, base64.b64encode(bytes(range(256))).decode()]


def test_a_day_number_outside_the_calendar_is_a_format_error() -> None:
    with pytest.raises(FormatError, match=r"outside 0001-01-01\.\.9999-12-31"):
        column_json(col("date"), np.array([0, 2932897], dtype="M8[D]"))
