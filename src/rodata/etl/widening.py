"""Where an inferred type had to widen: the first value of a chunk that the type could not hold.

The compiled tokenizers only say *that* a column met values of other kinds (a bit mask, kept
cheap on the hot path).  When that happens — rarely, and it costs a second parse pass anyway —
the worker that met it reads its chunk once more in Python to find the first such value and its
line, for the message and the report."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from rodata._core import _text
from rodata.etl.sources import open_bytes

if TYPE_CHECKING:
    from rodata.etl.chunk import ChunkResult, ChunkTask
    from rodata.etl.infer import ColumnPlan

__all__ = ["changes", "locate_widenings", "message", "offset"]

_K = _text.KINDS
_TYPE_KINDS = {"bool": _K["bool"], "int64": _K["int"], "float64": _K["float"], "date": _K["date"],
               "timestamp": _K["timestamp"], "string": _K["string"]}
_MAX_BYTES = 64 << 20  # never read more than this to find the value (past it: no value named)
_MARGIN = 1 << 20  # the chunk's last record may run past its end


def locate_widenings(task: ChunkTask, widened: Mapping[int, int],
                     records: Callable[[ChunkTask, bytes], Iterator[tuple[int, Callable[[int], Any]]]],
                     ) -> dict[int, tuple[str, int]]:
    """(value, line) of the first value that widened each column of `widened`, where found;
    `records` is the format reader's: (line, value of column i) of each record of the bytes."""
    types = {i: task.columns[i].type for i in widened if task.columns[i].type in _TYPE_KINDS}
    if not types:
        return {}
    try:
        data = _read(task)
        found: dict[int, tuple[str, int]] = {}
        for line, values in records(task, data):
            for index, type_ in types.items():
                if index in found:
                    continue
                value = values(index)
                if value is not None and _widens(value, type_):
                    found[index] = (_shown(value), line)
            if len(found) == len(types):
                break
        return found
    except (OSError, ValueError, EOFError):
        return {}  # only a message's detail: the read itself reports any fault of the input


def _read(task: ChunkTask) -> bytes:
    with open_bytes(task.source) as fh:
        if task.source.splittable:
            fh.seek(offset(task))
            return fh.read(min(_MAX_BYTES, max(0, task.end - offset(task)) + _MARGIN))
        fh.read(task.start)  # a stream: skip to the first record (the header is before it)
        return fh.read(_MAX_BYTES)


def offset(task: ChunkTask) -> int:
    """Where the worker starts looking (the byte before a range not known to start a record)."""
    return task.start if task.known_start else task.start - 1


def _kind(value: Any) -> int:
    if isinstance(value, bytes):
        return int(_text.classify_value(value))
    if isinstance(value, bool):
        return _K["bool"]
    if isinstance(value, int):
        return _K["int"]
    if isinstance(value, float):
        return _K["float"]
    if isinstance(value, str):
        kind = int(_text.classify_value(value.encode("utf-8", "surrogatepass")))
        return kind if kind in (_K["date"], _K["timestamp"]) else _K["string"]
    return _K["string"]  # an object or array: its JSON text


def _widens(value: Any, type_: str) -> bool:
    kind = _kind(value)
    if kind == _K["null"]:
        return False
    return _text.resolve_kinds(_TYPE_KINDS[type_] | kind) != type_


def _shown(value: Any) -> str:
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value
    else:
        text = orjson.dumps(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def changes(before: Sequence[ColumnPlan], after: Sequence[ColumnPlan], results: Sequence[ChunkResult],
            ) -> list[dict[str, Any]]:
    """One entry per column a pass widened: its name, the types, and the first value that widened
    it with its file and line (in input order; None where it was not found)."""
    out = []
    ordered = sorted(results, key=lambda r: r.seq)
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        if old.type_name == new.type_name:
            continue
        at = next((r.widened_at[index] for r in ordered if index in r.widened_at), None)
        value, path, line = at if at is not None else (None, None, None)
        out.append({"column": new.name, "from": old.type_name, "to": new.type_name, "value": value,
                    "file": path, "line": line})
    return out


def message(change: Mapping[str, Any]) -> str:
    """``column 'price' widened from float64 to string by 'abc' at in.csv:5``."""
    where = f" by {change['value']!r} at {change['file']}:{change['line']}" if change["value"] is not None else ""
    return f"column {change['column']!r} widened from {change['from']} to {change['to']}{where}"
