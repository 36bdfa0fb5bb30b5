"""Comparing the client's answers with the library's, strictly: the same types, the same bits."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np


def _bits(array: np.ndarray[Any, Any]) -> bytes:
    return np.ascontiguousarray(array).tobytes()


def assert_same_value(got: Any, want: Any, where: str) -> None:
    """`got` is `want`: same type, same value; floats and arrays bit for bit (NaN, -0.0 included)."""
    assert type(got) is type(want), f"{where}: {type(got).__name__} {got!r} != {type(want).__name__} {want!r}"
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape, f"{where}: {got.dtype}{got.shape} != " \
                                                                    f"{want.dtype}{want.shape}"
        assert _bits(got) == _bits(want), f"{where}: {got!r} != {want!r}"
    elif isinstance(want, float):
        assert struct.pack("<d", got) == struct.pack("<d", want), f"{where}: {got!r} != {want!r}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def assert_same_row(got: dict[str, Any] | None, want: dict[str, Any] | None, where: str) -> None:
    """Two rows (dicts, or None for a miss) hold the same columns in the same order, the same values."""
    if want is None or got is None:
        assert got is want, f"{where}: {got!r} != {want!r}"
        return
    assert list(got) == list(want), f"{where}: columns {list(got)} != {list(want)}"
    for name, value in want.items():
        assert_same_value(got[name], value, f"{where}[{name!r}]")


def assert_same_batch(got: Any, want: Any, where: str) -> None:
    """A client batch and a library Batch: found, every column (arrays bit for bit, lists equal),
    validity and rows."""
    assert got.names == want.names, where
    assert_same_value(got.found, want.found, f"{where}.found")
    for name in want.names:
        assert_same_value(got[name], want[name], f"{where}[{name!r}]")
        assert_same_value(got.valid(name), want.valid(name), f"{where}.valid({name!r})")
    for i, (g, w) in enumerate(zip(got.to_pylist(), want.to_pylist(), strict=True)):
        assert_same_row(g, w, f"{where} row {i}")
