"""Bad input records: one clear message each (file:line:column and what is wrong), and the
rejects file that quarantines them."""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from rodata.errors import BadInputError

__all__ = ["MAX_RECORD_BYTES", "BadRecord", "describe", "write_rejects"]

#: The raw text kept of one bad record (an unterminated quote can swallow the rest of a file).
MAX_RECORD_BYTES = 1 << 20

_REASONS = {
    "syntax": "cannot parse {value} as {type}",
    "range": "{value} is out of range for {type}",
    "null_key": "null key",
    "missing_key": "missing key",
    "null": "null in a column declared not nullable",
    "utf8": "invalid UTF-8",
    "quote_in_field": "quote inside an unquoted field (quote the whole field and double the quotes inside)",
    "after_quote": "unexpected character after a closing quote",
    "unterminated_quote": "unterminated quoted field (it starts here and never ends)",
    "vector_length": "expected {dim} numbers for {type}",
    "json": "malformed JSON",
    "not_object": "a line must hold one JSON object",
    "duplicate_field": "the field appears twice in one object",
    "too_many_fields": "too many distinct unknown fields",
    "bad_escape": "invalid escape sequence in a JSON string",
    "memory": "out of memory",
}


@dataclass(frozen=True)
class BadRecord:
    """A record that could not be read, where it is, why, and its raw bytes."""

    file_index: int
    path: str
    offset: int  # byte offset of the record in the (decompressed) input
    line: int  # line of the fault
    column: int  # 1-based character column of the fault on that line
    reason: str
    record: bytes
    truncated: bool = False

    def error(self) -> BadInputError:
        """The error that stops a build on this record."""
        return BadInputError(self.reason, path=self.path, line=self.line, column=self.column)

    def sort_key(self) -> tuple[int, int]:
        return (self.file_index, self.offset)

    def to_json(self) -> dict[str, Any]:
        """One line of the rejects file: nothing of the record is lost (base64 when not UTF-8)."""
        doc: dict[str, Any] = {"file": self.path, "line": self.line, "column": self.column,
                               "reason": self.reason}
        try:
            doc["record"] = self.record.decode("utf-8")
        except UnicodeDecodeError:
            doc["record"] = self.record.decode("utf-8", "backslashreplace")
            doc["record_base64"] = base64.b64encode(self.record).decode("ascii")
        if self.truncated:
            doc["truncated"] = True
        return doc


def describe(code: str, column: str | None, type_name: str | None, value: bytes | None, *,
             expected_fields: int | None = None, found_fields: int | None = None, dim: int | None = None) -> str:
    """The human reason for a failure code of the tokenizers."""
    if code == "field_count":
        found = "more" if found_fields is None else str(found_fields)
        return f"expected {expected_fields} fields, found {found}"
    text = _REASONS.get(code, code)
    shown = "" if value is None else _show(value)
    text = text.format(value=shown, type=type_name or "?", dim=dim or "?")
    if column is not None and code not in ("quote_in_field", "after_quote", "json", "not_object"):
        text = f"column {column!r}: {text}"
    return text


def _show(value: bytes, limit: int = 60) -> str:
    text = value.decode("utf-8", "backslashreplace")
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)


def write_rejects(path: str | os.PathLike[str], records: Sequence[BadRecord]) -> None:
    """Write the rejects file (JSON Lines, one bad record per line) atomically."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        for rec in records:
            fh.write(orjson.dumps(rec.to_json()))
            fh.write(b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
