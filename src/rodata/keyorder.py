"""Key columns in storage form: sort orders, duplicates under the ``on_duplicate`` policy, search,
and the content-defined key sample.  (Keys a user looks up are checked by rodata._keys.)

Keys are int64 (numeric order) or strings (UTF-8 byte order, which is code point order).
Every sort here is stable, so rows with equal keys keep their input order: the policy's
"first" and "last" mean first and last in the input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from rodata._columns import ColumnData
from rodata._core import _text
from rodata.errors import DuplicateKeyError, UsageError

__all__ = ["ON_DUPLICATE", "SAMPLE_MASK", "OnDuplicate", "apply_policy", "check_policy", "equal_neighbors",
           "key_at", "merge_order", "rows_named", "sample_keys", "search", "sort_order"]

OnDuplicate = Literal["error", "first", "last"]
ON_DUPLICATE: tuple[OnDuplicate, ...] = ("error", "first", "last")

#: A key is in the sample when its hash has none of these bits set (1 key in 512).  The sample
#: depends on the keys only, never on how the input was cut into chunks, so the part
#: boundaries chosen from it are the same whatever the number of workers.
SAMPLE_MASK = 511


def check_policy(on_duplicate: str) -> None:
    """Refuse (:class:`UsageError`) an ``on_duplicate`` that is none of "error", "first", "last"."""
    if on_duplicate not in ON_DUPLICATE:
        raise UsageError(f"on_duplicate must be 'error', 'first' or 'last', not {on_duplicate!r}")


def sort_order(key: ColumnData) -> np.ndarray[Any, Any] | None:
    """The stable permutation sorting `key`, or None when it is sorted already."""
    if key.values is not None:
        values = key.values
        if values.shape[0] < 2 or bool(np.all(values[1:] >= values[:-1])):
            return None
        return _text.argsort_int64(np.ascontiguousarray(values, dtype=np.int64))
    assert key.offsets is not None and key.data is not None
    if _text.strings_sorted(key.offsets, key.data):
        return None
    return _text.argsort_strings(key.offsets, key.data)


def merge_order(key: ColumnData) -> np.ndarray[Any, Any] | None:
    """The stable permutation sorting keys made of sorted runs laid end to end: numpy's stable
    sort (timsort) merges runs in linear passes, faster here than a radix sort from scratch."""
    if key.values is not None:
        values = key.values
        if values.shape[0] < 2 or bool(np.all(values[1:] >= values[:-1])):
            return None
        order: np.ndarray[Any, Any] = np.argsort(values, kind="stable")
        return order
    return sort_order(key)


def equal_neighbors(key: ColumnData) -> np.ndarray[Any, Any]:
    """Bool array of n - 1 for sorted keys: key i equals key i + 1."""
    if key.values is not None:
        same: np.ndarray[Any, Any] = key.values[1:] == key.values[:-1]
        return same
    assert key.offsets is not None and key.data is not None
    return _text.equal_neighbors_strings(key.offsets, key.data)


def rows_named(first: int, second: int) -> str:
    """How a duplicate's two input rows are named when nothing better is known."""
    return f" (rows {first} and {second})"


def apply_policy(key: ColumnData, order: np.ndarray[Any, Any] | None, on_duplicate: str, *, column: str,
                 where: Callable[[int, int], str] = rows_named) -> tuple[np.ndarray[Any, Any] | None, int]:
    """The rows of the sorted `key` to keep under the duplicate policy (None: all), and how many
    are dropped.  `order` is the permutation that sorted it (None: the input was in order), so
    that an error names the two input rows, through `where(first, second)`.

    "error" raises :class:`DuplicateKeyError` naming the first duplicated key; "first" and
    "last" keep the first or last row of each run of equal keys."""
    n = len(key)
    if n < 2:
        return None, 0
    same = equal_neighbors(key)
    if not same.any():
        return None, 0
    if on_duplicate == "error":
        at = int(np.flatnonzero(same)[0])
        first, second = (at, at + 1) if order is None else (int(order[at]), int(order[at + 1]))
        value = key_at(key, at)
        shown = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
        raise DuplicateKeyError(f"duplicate key {shown!r} in column {column!r}{where(first, second)}", key=shown)
    check_policy(on_duplicate)
    keep = np.ones(n, dtype=bool)
    if on_duplicate == "first":
        keep[1:] = ~same  # the first of each run of equal keys (the stable sort kept input order in it)
    else:
        keep[:-1] = ~same  # the last of each run
    return np.flatnonzero(keep), int(n - np.count_nonzero(keep))


def sample_keys(key: ColumnData) -> Any:
    """The sorted keys' content-defined sample: an int64 array or a list of bytes."""
    if key.values is not None:
        values = np.ascontiguousarray(key.values, dtype=np.int64)
        return values[_text.sample_int64(values, SAMPLE_MASK)]
    assert key.offsets is not None and key.data is not None
    picked = np.flatnonzero(_text.sample_strings(key.offsets, key.data, SAMPLE_MASK))
    return [key_at(key, int(i)) for i in picked]


def key_at(key: ColumnData, row: int) -> int | bytes:
    """Key `row` as an int or bytes."""
    if key.values is not None:
        return int(key.values[row])
    return key.bytes_at(row)


def search(key: ColumnData, value: Any, *, right: bool = False) -> int:
    """Binary search in sorted keys: the first row >= `value` (> with `right`)."""
    if key.values is not None:
        return int(np.searchsorted(key.values, np.int64(value), side="right" if right else "left"))
    assert key.offsets is not None and key.data is not None
    return int(_text.search_strings(key.offsets, key.data, value, right))
