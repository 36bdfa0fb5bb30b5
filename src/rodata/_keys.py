"""Lookup keys checked once, at the public edge, against the type of a dataset's key column.

Every batch (``Dataset.get_many``, the server's lookups) passes through :func:`coerce_keys`, once;
what comes out is what the compiled probes take: a contiguous int64 array for an int64 key column,
checked here, or a list for a string one, whose keys the compiled probe checks as it takes each
one's UTF-8 form (a per-key check here would cost as much as the probe itself).  A single key is
checked by :func:`check_key` where it is routed between parts; within one part, the compiled
``Segment.get`` is the one check of its key (it is the hot path).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from rodata.errors import KeyTypeError
from rodata.schema import Schema

__all__ = ["INT64_MAX", "INT64_MIN", "check_key", "coerce_keys", "first_non_string", "int64_keys"]

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def _not_a_string(key: Any) -> KeyTypeError:
    return KeyTypeError(f"key {key!r:.80} is not a string (the key column is string)")


def _not_an_integer(key: Any) -> KeyTypeError:
    return KeyTypeError(f"key {key!r:.80} is not an integer (the key column is int64)")


def _is_integer(key: Any) -> bool:
    return type(key) is int or (isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)))


def check_key(key_is_string: bool, key: Any) -> None:
    """:class:`KeyTypeError` unless `key` has the key column's type (a bool is not an integer)."""
    if key_is_string:
        if not isinstance(key, str):
            raise _not_a_string(key)
    elif not _is_integer(key):
        raise _not_an_integer(key)


def coerce_keys(schema: Schema, keys: Iterable[Any]) -> list[str] | np.ndarray[Any, Any]:
    """`keys` in the form the compiled probes take, or :class:`KeyTypeError` naming the first bad key.

    A string key column takes ``str`` keys (a list is returned; a key that is not a ``str`` is
    refused by the lookup that receives the list, with the same :class:`KeyTypeError`); an int64 one
    takes Python or numpy integers within the int64 range, or an integer numpy array (a contiguous
    int64 array is returned).  Floats and bools are refused rather than rounded or counted as 0 and 1.
    """
    if schema.key_column.type == "string":
        return _string_keys(keys)
    return _int64_keys(keys)


def int64_keys(data: bytes | memoryview) -> np.ndarray[Any, Any]:
    """Binary keys (little-endian int64, 8 bytes each) as an int64 array viewing `data`: no copy,
    and no object per key (a length that is not a multiple of 8 is ValueError)."""
    return np.frombuffer(data, dtype="<i8")


def _string_keys(keys: Iterable[Any]) -> list[str]:
    if isinstance(keys, np.ndarray):
        keys = keys.tolist()
    return keys if isinstance(keys, list) else list(keys)


def first_non_string(keys: Iterable[Any]) -> KeyTypeError:
    """The error for the first key of `keys` that is not a ``str`` (for a caller that met one)."""
    return _not_a_string(next((k for k in keys if not isinstance(k, str)), None))


def _int64_keys(keys: Iterable[Any]) -> np.ndarray[Any, Any]:
    if isinstance(keys, np.ndarray):
        if keys.dtype.kind not in "iu":
            raise KeyTypeError(f"keys of dtype {keys.dtype} are not integers (the key column is int64)")
        if keys.dtype.kind == "u" and keys.size and keys.max() > INT64_MAX:
            raise KeyTypeError(f"key {int(keys.max())} is outside the int64 range")
        return np.ascontiguousarray(keys, dtype=np.int64).reshape(-1)
    out = keys if isinstance(keys, (list, tuple)) else list(keys)
    if not set(map(type, out)) <= {int}:
        for key in out:
            if not _is_integer(key):
                raise _not_an_integer(key)
    try:
        return np.array(out, dtype=np.int64)
    except OverflowError:
        bad = next(k for k in out if not INT64_MIN <= int(k) <= INT64_MAX)
        raise KeyTypeError(f"key {bad} is outside the int64 range") from None
