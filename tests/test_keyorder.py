"""rodata.keyorder: key sort order (int64 and UTF-8 byte order) and every on_duplicate policy,
against plain-Python references computed here."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from rodata import keyorder
from rodata._columns import ColumnData, encode_strings
from rodata.errors import DuplicateKeyError, UsageError


def int_key(values: list[int]) -> ColumnData:
    return ColumnData(values=np.array(values, dtype=np.int64))


def bytes_key(values: list[bytes]) -> ColumnData:
    offsets, data = encode_strings(values)
    return ColumnData(offsets=offsets, data=data)


def sorted_rows(key: ColumnData, order: np.ndarray | None) -> list[Any]:
    rows = range(len(key)) if order is None else order.tolist()
    return [keyorder.key_at(key, r) for r in rows]


def reference_order(values: list[Any]) -> list[int]:
    """Python's sort is stable; bytes compare bytewise, which for UTF-8 is code point order."""
    return sorted(range(len(values)), key=values.__getitem__)


def reference_policy(values: list[Any], policy: str) -> list[int]:
    """The input rows kept, in key order: the first or last of each key in input order."""
    chosen: dict[Any, int] = {}
    for row, v in enumerate(values):
        if policy == "last" or v not in chosen:
            chosen[v] = row
    return [chosen[v] for v in sorted(chosen)]


WORDS = ["", "a", "A", "ab", "b", "é", "e\u0301", "日本", "\U0001f600", "z\x00", "z", "\x00", "\x7f", "ÿ"]


def random_ints(rng: random.Random, n: int) -> list[int]:
    pool = [rng.randrange(-2**63, 2**63) for _ in range(max(1, n // 3))] + [-2**63, 2**63 - 1, 0, -1]
    return [rng.choice(pool) for _ in range(n)]


def random_strings(rng: random.Random, n: int) -> list[bytes]:
    pool = [w.encode() for w in WORDS] + [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 6)))
                                          for _ in range(max(1, n // 3))]
    return [rng.choice(pool) for _ in range(n)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["int", "string"])
def test_sort_order_is_the_stable_reference_order(seed: int, kind: str) -> None:
    rng = random.Random(seed)
    n = rng.choice([0, 1, 2, 17, 500])
    values: list[Any] = random_ints(rng, n) if kind == "int" else random_strings(rng, n)
    key = int_key(values) if kind == "int" else bytes_key(values)
    want = reference_order(values)
    for order in (keyorder.sort_order(key), keyorder.merge_order(key)):
        got = list(range(n)) if order is None else order.tolist()
        assert got == want
        assert (order is None) == (want == list(range(n)))


def test_strings_sort_by_utf8_bytes_with_and_without_nul_bytes() -> None:
    for words in (["b", "a", "ab", "", "é"], ["b\x00", "b", "a\x00b", "a"], WORDS[::-1]):
        encoded = [w.encode() for w in words]
        order = keyorder.sort_order(bytes_key(encoded))
        assert order is not None
        assert [encoded[i] for i in order] == sorted(encoded)
        # UTF-8 byte order is code point order: the same order as Python's str sort.
        assert [words[i] for i in order] == sorted(words)


def test_sorted_keys_with_equal_neighbours_need_no_sort() -> None:
    assert keyorder.sort_order(int_key([1, 1, 2])) is None
    assert keyorder.sort_order(bytes_key([b"a", b"a", b"b"])) is None
    assert keyorder.equal_neighbors(int_key([1, 1, 2])).tolist() == [True, False]
    assert keyorder.equal_neighbors(bytes_key([b"", b"", b"a", b"ab"])).tolist() == [True, False, False]


def apply(values: list[Any], policy: str, kind: str) -> list[int]:
    """The input rows that `policy` keeps, in key order, through sort_order + apply_policy."""
    key = int_key(values) if kind == "int" else bytes_key(values)
    order = keyorder.sort_order(key)
    ordered = key if order is None else key.take(order)
    keep, dropped = keyorder.apply_policy(ordered, order, policy, column="k")
    rows = list(range(len(values))) if order is None else order.tolist()
    kept = rows if keep is None else [rows[i] for i in keep.tolist()]
    assert dropped == len(values) - len(kept)
    return kept


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["int", "string"])
@pytest.mark.parametrize("policy", ["first", "last"])
def test_first_and_last_keep_the_reference_rows(seed: int, kind: str, policy: str) -> None:
    rng = random.Random(seed)
    n = rng.choice([0, 1, 2, 30, 400])
    values: list[Any] = random_ints(rng, n) if kind == "int" else random_strings(rng, n)
    assert apply(values, policy, kind) == reference_policy(values, policy)


@pytest.mark.parametrize("kind", ["int", "string"])
def test_error_names_the_first_duplicated_key_and_its_rows(kind: str) -> None:
    raw: list[Any] = [9, 3, 7, 3, 9, 7] if kind == "int" else ["i", "c", "日", "c", "i", "日"]
    values = raw if kind == "int" else [v.encode() for v in raw]
    with pytest.raises(DuplicateKeyError) as info:
        apply(values, "error", kind)
    # The smallest duplicated key, and its first two rows in input order.
    assert info.value.key == raw[1]
    assert str(info.value) == f"duplicate key {raw[1]!r} in column 'k' (rows 1 and 3)"
    assert apply(list(dict.fromkeys(values)), "error", kind) == reference_policy(list(dict.fromkeys(values)), "first")


def test_error_names_rows_the_callers_way() -> None:
    key = int_key([5, 5])
    with pytest.raises(DuplicateKeyError, match=r"^duplicate key 5 in column 'id': first at a:1, again at a:2$"):
        keyorder.apply_policy(key, None, "error", column="id", where=lambda a, b: f": first at a:{a + 1}, "
                                                                            f"again at a:{b + 1}")


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(UsageError, match="on_duplicate must be"):
        keyorder.check_policy("keep")
    with pytest.raises(ValueError, match="on_duplicate must be"):
        keyorder.apply_policy(int_key([1, 1]), None, "keep", column="k")


def test_search_and_key_at() -> None:
    ints = int_key([1, 3, 3, 8])
    assert [keyorder.search(ints, v) for v in (0, 3, 4, 9)] == [0, 1, 3, 4]
    assert keyorder.search(ints, 3, right=True) == 3
    words = bytes_key([b"", b"a", b"\xc3\xa9"])
    assert [keyorder.search(words, v) for v in (b"", b"b", b"\xff")] == [0, 2, 3]
    assert keyorder.key_at(words, 2) == "é".encode() and keyorder.key_at(ints, 3) == 8


def test_the_sample_depends_on_the_keys_only() -> None:
    values = list(range(0, 200_000, 7))
    whole = keyorder.sample_keys(int_key(values)).tolist()
    halves = (keyorder.sample_keys(int_key(values[:9000])).tolist()
              + keyorder.sample_keys(int_key(values[9000:])).tolist())
    assert whole == halves and 0 < len(whole) < len(values)
