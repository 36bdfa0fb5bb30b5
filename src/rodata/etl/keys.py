"""Key columns: sort orders, duplicate detection and the content-defined key sample."""

from __future__ import annotations

from typing import Any

import numpy as np

from rodata._core import _text
from rodata.etl.runs import RunColumn

__all__ = ["SAMPLE_MASK", "equal_neighbors", "key_at", "merge_order", "sample_keys", "search", "sort_order",
           "take"]

#: A key is in the sample when its hash has none of these bits set (1 key in 512).  The sample
#: depends on the keys only, never on how the input was cut into chunks, so the part
#: boundaries chosen from it are the same whatever the number of workers.
SAMPLE_MASK = 511


def sort_order(key: RunColumn) -> np.ndarray[Any, Any] | None:
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


def merge_order(key: RunColumn) -> np.ndarray[Any, Any] | None:
    """The stable permutation sorting keys made of sorted runs laid end to end: numpy's stable
    sort (timsort) merges runs in linear passes, faster here than a radix sort from scratch."""
    if key.values is not None:
        values = key.values
        if values.shape[0] < 2 or bool(np.all(values[1:] >= values[:-1])):
            return None
        order: np.ndarray[Any, Any] = np.argsort(values, kind="stable")
        return order
    return sort_order(key)


def take(col: RunColumn, order: np.ndarray[Any, Any]) -> RunColumn:
    """The column's rows in a new order."""
    valid = None if col.valid is None else np.take(col.valid, order)
    if col.values is not None:
        return RunColumn(values=np.take(col.values, order, axis=0), valid=valid)
    assert col.offsets is not None and col.data is not None
    offsets, data = _text.gather_strings(np.ascontiguousarray(col.offsets, dtype=np.uint64),
                                         np.ascontiguousarray(col.data, dtype=np.uint8),
                                         np.ascontiguousarray(order, dtype=np.int64))
    return RunColumn(offsets=offsets, data=data, valid=valid)


def equal_neighbors(key: RunColumn) -> np.ndarray[Any, Any]:
    """Bool array of n - 1 for sorted keys: key i equals key i + 1."""
    if key.values is not None:
        same: np.ndarray[Any, Any] = key.values[1:] == key.values[:-1]
        return same
    assert key.offsets is not None and key.data is not None
    return _text.equal_neighbors_strings(key.offsets, key.data)


def sample_keys(key: RunColumn) -> Any:
    """The sorted keys' content-defined sample: an int64 array or a list of bytes."""
    if key.values is not None:
        values = np.ascontiguousarray(key.values, dtype=np.int64)
        return values[_text.sample_int64(values, SAMPLE_MASK)]
    assert key.offsets is not None and key.data is not None
    picked = np.flatnonzero(_text.sample_strings(key.offsets, key.data, SAMPLE_MASK))
    return [key_at(key, int(i)) for i in picked]


def key_at(key: RunColumn, row: int) -> Any:
    """Key `row` as an int or bytes."""
    if key.values is not None:
        return int(key.values[row])
    assert key.offsets is not None and key.data is not None
    return bytes(key.data[int(key.offsets[row]) : int(key.offsets[row + 1])])


def search(key: RunColumn, value: Any, *, right: bool = False) -> int:
    """Binary search in sorted keys: the first row >= `value` (> with `right`)."""
    if key.values is not None:
        return int(np.searchsorted(key.values, np.int64(value), side="right" if right else "left"))
    assert key.offsets is not None and key.data is not None
    return int(_text.search_strings(key.offsets, key.data, value, right))
