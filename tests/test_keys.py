"""Lookup keys at the public edge (rodata._keys), against a plain-Python statement of the rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rodata._keys import check_key, coerce_keys
from rodata.errors import KeyTypeError
from rodata.schema import Column, Schema

INT_KEYED = Schema((Column("id", "int64"), Column("x", "float64")), "id")
STR_KEYED = Schema((Column("id", "string"), Column("x", "float64")), "id")


def _reference_int(keys: list[Any]) -> list[int] | None:
    """What an int64 key column accepts: integers (Python or numpy, not bool) within int64."""
    out = []
    for k in keys:
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            return None
        if not -(2**63) <= int(k) < 2**63:
            return None
        out.append(int(k))
    return out


_any_key = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=4),
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(np.int64),
    st.integers(min_value=0, max_value=2**64 - 1).map(np.uint64),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_any_key, max_size=8))
def test_int64_keys_are_coerced_or_refused_as_the_rule_says(keys: list[Any]) -> None:
    expected = _reference_int(keys)
    if expected is None:
        with pytest.raises(KeyTypeError):
            coerce_keys(INT_KEYED, keys)
        return
    got = coerce_keys(INT_KEYED, keys)
    assert isinstance(got, np.ndarray) and got.dtype == np.int64 and got.flags.c_contiguous
    assert got.tolist() == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=6), st.integers(), st.binary(max_size=3), st.none()), max_size=8))
def test_string_keys_must_all_be_str(keys: list[Any]) -> None:
    if all(isinstance(k, str) for k in keys):
        assert coerce_keys(STR_KEYED, keys) == keys
        assert coerce_keys(STR_KEYED, iter(keys)) == keys  # any iterable
        return
    with pytest.raises(KeyTypeError, match="is not a string") as info:
        coerce_keys(STR_KEYED, keys)
    first_bad = next(k for k in keys if not isinstance(k, str))
    assert repr(first_bad)[:20] in str(info.value)


@pytest.mark.parametrize(("array", "ok"), [
    (np.array([1, -2, 3], dtype=np.int8), True),
    (np.array([2**64 - 1], dtype=np.uint64), False),
    (np.array([2**63 - 1], dtype=np.uint64), True),
    (np.array([1.0]), False),
    (np.array([True]), False),
    (np.array([[1, 2], [3, 4]], dtype=np.int64), True),  # flattened, as a batch of keys
])
def test_integer_arrays(array: np.ndarray[Any, Any], ok: bool) -> None:
    if not ok:
        with pytest.raises(KeyTypeError):
            coerce_keys(INT_KEYED, array)
        return
    got = coerce_keys(INT_KEYED, array)
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.int64 and got.tolist() == [int(v) for v in array.reshape(-1)]


def test_an_out_of_range_key_is_named() -> None:
    with pytest.raises(KeyTypeError, match=f"key {2**63} is outside the int64 range"):
        coerce_keys(INT_KEYED, [1, 2**63])


@pytest.mark.parametrize(("is_string", "key", "ok"), [
    (False, 5, True), (False, np.int32(5), True), (False, True, False), (False, 5.0, False), (False, "5", False),
    (True, "5", True), (True, 5, False), (True, b"5", False),
])
def test_check_key(is_string: bool, key: Any, ok: bool) -> None:
    if ok:
        check_key(is_string, key)
    else:
        with pytest.raises(KeyTypeError):
            check_key(is_string, key)
