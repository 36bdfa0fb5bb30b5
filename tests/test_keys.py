"""Lookup keys at the public edge (rodata._keys), against a plain-Python statement of the rule."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rodata
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


@pytest.fixture(scope="module", params=[None, 2], ids=["one-part", "three-parts"])
def string_keyed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[rodata.Dataset]:
    root = tmp_path_factory.mktemp("keys")
    rodata.write(root, "s", {"id": ["a", "b", "c", "d", "e"], "x": [1.0, 2.0, 3.0, 4.0, 5.0]}, key="id",
                 rows_per_part=request.param)
    with rodata.open(root / "s") as ds:
        yield ds


_maybe_strings = st.lists(st.one_of(st.sampled_from("abcz"), st.text(max_size=3), st.integers(), st.binary(max_size=2),
                                    st.none()), max_size=6)


@settings(max_examples=150, deadline=None)
@given(keys=_maybe_strings)
def test_a_string_batch_is_refused_at_its_first_key_that_is_not_a_str(string_keyed: rodata.Dataset,
                                                                      keys: list[Any]) -> None:
    # coerce_keys hands a string batch on as a list; the lookup that receives it is its check
    assert coerce_keys(STR_KEYED, iter(keys)) == keys
    bad = [k for k in keys if not isinstance(k, str)]
    if not bad:
        assert string_keyed.get_many(keys).to_pylist() == [string_keyed.get(k) for k in keys]
        return
    with pytest.raises(KeyTypeError, match="is not a string \\(the key column is string\\)") as info:
        string_keyed.get_many(keys)
    assert repr(bad[0])[:20] in str(info.value)  # the first one, whichever part it would go to


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
