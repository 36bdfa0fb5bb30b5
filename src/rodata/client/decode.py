"""The server's answers back into the library's values (what ``rodata.open(...).get()`` gives).

The JSON of a value is :mod:`rodata.encode`'s; read back by column type it is the library's value,
with one exception: JSON has no NaN or infinity, so a float (or a vector element) written as
``null`` may be a null or a non-finite number.  :func:`uncertain` names those columns; the client
then asks for them as npz, which carries the stored bits.  npz and raw column bodies are the stored
values as they lie in the mapping (timestamps in nanoseconds, dates in days)."""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from rodata.errors import ClientError
from rodata.schema import Column, Schema

__all__ = [
    "column_body",
    "npz",
    "python_values",
    "row",
    "uncertain",
    "value_from_arrays",
    "var_values",
]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EPOCH_DAY = dt.date(1970, 1, 1)
_FLOATS = frozenset(("float32", "float64"))


def _timestamp(text: str) -> dt.datetime:
    # "YYYY-MM-DDTHH:MM:SS[.ffffff]Z": fromisoformat reads it without the Z on every Python we support
    return dt.datetime.fromisoformat(text[:-1] if text.endswith("Z") else text).replace(tzinfo=dt.timezone.utc)


def _vector(values: Sequence[float | None]) -> np.ndarray[Any, Any]:
    out = np.array([np.nan if v is None else v for v in values], dtype=np.float32)
    out.flags.writeable = False  # the library's vectors are read-only views
    return out


_FROM_JSON: dict[str, Callable[[Any], Any]] = {
    "float32": lambda v: float(np.float32(v)),
    "float64": float,
    "bool": bool,
    "timestamp": _timestamp,
    "date": dt.date.fromisoformat,
    "bytes": base64.b64decode,
    "vector": _vector,
}


def _decoder(column: Column) -> Callable[[Any], Any] | None:
    return _FROM_JSON.get(column.type)


def row(schema: Schema, doc: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON row (a dict of column name to JSON value) as the library's dict of values."""
    out = dict(doc)
    for name, value in doc.items():
        if value is not None and name in schema:
            decode = _decoder(schema[name])
            if decode is not None:
                out[name] = decode(value)
    return out


def uncertain(schema: Schema, doc: Mapping[str, Any]) -> list[str]:
    """The columns of a JSON row whose value cannot be told from the JSON alone: a float written as
    ``null`` (a null, NaN or an infinity) and a vector with a ``null`` element (NaN or an infinity)."""
    out = []
    for name, value in doc.items():
        if name not in schema:
            continue
        kind = schema[name].type
        if (kind in _FLOATS and value is None) or (kind == "vector" and value is not None and None in value):
            out.append(name)
    return out


def value_from_arrays(column: Column, values: np.ndarray[Any, Any], valid: np.ndarray[Any, Any] | None,
                      at: int) -> Any:
    """The library's value at position `at` of an npz column (None where not valid)."""
    if valid is not None and not valid[at]:
        return None
    return python_values(column, values[at : at + 1], None)[0]


def python_values(column: Column, values: Any, valid: np.ndarray[Any, Any] | None) -> list[Any]:
    """A column's values (a numpy array of the column's dtype, or a list for strings and bytes) as the
    library's Python values, None where `valid` is False."""
    kind = column.type
    if not column.fixed_width:
        out: list[Any] = list(values)
    elif kind == "timestamp":  # nanoseconds, floored to microseconds as the library reads them
        micros = (np.asarray(values).view(np.int64) // 1000).tolist()
        out = [_EPOCH + dt.timedelta(microseconds=m) for m in micros]
    elif kind == "date":
        out = [_EPOCH_DAY + dt.timedelta(days=d) for d in np.asarray(values).view(np.int64).tolist()]
    elif kind == "vector":
        array = np.asarray(values, dtype=np.float32)
        out = [array[i] for i in range(len(array))]
    else:
        out = np.asarray(values).tolist()  # int, float (float32 as its exact float64), bool
    if valid is not None:
        for i in np.flatnonzero(~valid).tolist():
            out[i] = None
    return out


def var_values(column: Column, raw: Iterable[Any]) -> list[Any]:
    """String or bytes values as JSON gives them (bytes in base64, None for null) as Python values."""
    if column.type == "bytes":
        return [None if v is None else base64.b64decode(v) for v in raw]
    return list(raw)


def npz(body: bytes) -> dict[str, np.ndarray[Any, Any]]:
    """The arrays of an npz answer (``found``, ``values/<column>``, ``valid/<column>``), read-only."""
    try:
        with np.load(io.BytesIO(body), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError) as exc:
        raise ClientError(f"the server's npz answer cannot be read: {exc}", status=200, code="bad_answer") from None
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


def column_body(body: bytes, headers: Mapping[str, str]) -> np.ndarray[Any, Any]:
    """A raw column slice (``application/octet-stream``) as the numpy array it describes in its
    ``x-rodata-dtype`` and ``x-rodata-shape`` headers, viewing the body (read-only)."""
    try:
        dtype = np.dtype(headers["x-rodata-dtype"])
        shape = tuple(int(x) for x in headers["x-rodata-shape"].split(","))
        return np.frombuffer(body, dtype=dtype).reshape(shape)
    except (KeyError, TypeError, ValueError) as exc:
        raise ClientError(f"the server's column slice cannot be read: {exc}", status=200,
                          code="bad_answer") from None
