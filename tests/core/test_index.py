"""The hash index: sizing, and tables that find every key and nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rodata._columns import encode_strings
from rodata._core import build_index_int64, build_index_strings, table_slots


def test_table_is_a_power_of_two_with_bounded_load() -> None:
    for n in [0, 1, 7, 8, 100, 1000, 12345, 10**6]:
        slots = table_slots(n)
        assert slots & (slots - 1) == 0 and slots > n
        assert n / slots <= 0.7
    with pytest.raises(ValueError, match="out of range"):
        table_slots(2**33)


@given(st.lists(st.integers(-(2**63), 2**63 - 1), unique=True, max_size=300))
def test_int_table_holds_each_row_once(keys: list[int]) -> None:
    table = build_index_int64(np.array(keys, dtype=np.int64))
    rows = sorted(int(s & 0xFFFFFFFF) - 1 for s in table.tolist() if s)
    assert rows == list(range(len(keys)))


@given(st.lists(st.text(max_size=8), unique=True, max_size=200))
def test_string_table_holds_each_row_once(keys: list[str]) -> None:
    offsets, data = encode_strings([k.encode("utf-8", "surrogatepass") for k in keys])
    table = build_index_strings(offsets, data)
    rows = sorted(int(s & 0xFFFFFFFF) - 1 for s in table.tolist() if s)
    assert rows == list(range(len(keys)))


def test_string_table_rejects_bad_offsets() -> None:
    with pytest.raises(ValueError, match="monotonic"):
        build_index_strings(np.array([0, 5, 3], dtype=np.uint64), np.zeros(5, dtype=np.uint8))
