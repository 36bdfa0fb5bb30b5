"""The reference JSON Lines reader of the differential suite (docs/etl.md, "Inputs", "Types and
inference", "Bad input"): one JSON object per line, read with a scanner written from the JSON
grammar (RFC 8259) whose every accepted object is parsed again by Python's json module."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .ref_build import Bad, Col, Expected, Good, Inferred, finish, reason
from .ref_csv import declared, read_bytes
from .ref_values import (
    INT_RANGES,
    Fault,
    date_kind,
    parse_bool,
    parse_date,
    parse_float,
    parse_text,
    parse_timestamp,
    to_float32,
    utf8_fault,
)

_NUMBER = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|NaN|-?Infinity")
_INTEGER = re.compile(rb"-?(?:0|[1-9][0-9]*)")
_ESCAPES = {ord('"'): b'"', ord("\\"): b"\\", ord("/"): b"/", ord("b"): b"\b", ord("f"): b"\f",
            ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t"}
WS = b" \t\r\n"


class JsonFault(Exception):
    def __init__(self, code: str, at: int) -> None:
        super().__init__(code)
        self.code, self.at = code, at


@dataclass
class Value:
    """One JSON value as read: its kind ("null", "bool", "int", "float", "string", "array",
    "object"), raw text, a string's content (bytes), an array's numbers (None: not a flat list
    of numbers), and where it starts."""

    kind: str
    raw: bytes
    start: int
    content: bytes = b""
    numbers: list[float] | None = None
    escaped: bool = False


def skip_ws(b: bytes, i: int) -> int:
    while i < len(b) and b[i] in WS:
        i += 1
    return i


def read_string(b: bytes, i: int) -> tuple[bytes, int, bool]:
    """The string whose opening quote is at `i`: (content, index after the closing quote, escaped)."""
    j, esc = i + 1, False
    while True:  # the end first: a raw control character anywhere is malformed, whatever the escapes
        if j >= len(b):
            raise JsonFault("json", j)
        if b[j] == 0x22:
            break
        if b[j] == 0x5C:
            esc, j = True, j + 2
            continue
        if b[j] < 0x20:
            raise JsonFault("json", j)
        j += 1
    body, out, k = b[i + 1 : j], bytearray(), 0
    while k < len(body):
        if body[k] != 0x5C:
            out.append(body[k])
            k += 1
            continue
        at = i + 1 + k
        c = body[k + 1] if k + 1 < len(body) else -1
        if c in _ESCAPES:
            out += _ESCAPES[c]
            k += 2
            continue
        if c != ord("u") or not re.fullmatch(rb"[0-9a-fA-F]{4}", body[k + 2 : k + 6]):
            raise JsonFault("bad_escape", at)
        cp = int(body[k + 2 : k + 6], 16)
        k += 6
        if 0xD800 <= cp <= 0xDBFF:
            low = body[k : k + 6]
            if not re.fullmatch(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}", low):
                raise JsonFault("bad_escape", at)
            cp = 0x10000 + ((cp - 0xD800) << 10) + (int(low[2:], 16) - 0xDC00)
            k += 6
        elif 0xDC00 <= cp <= 0xDFFF:
            raise JsonFault("bad_escape", at)
        out += chr(cp).encode("utf-8")
    return bytes(out), j + 1, esc


def read_value(b: bytes, i: int) -> tuple[Value, int]:
    """The JSON value at `i` and the index after it."""
    c = b[i : i + 1]
    if c == b'"':
        content, end, esc = read_string(b, i)
        return Value("string", b[i:end], i, content, escaped=esc), end
    if c in (b"[", b"{"):
        depth, j = 0, i
        while j < len(b):
            if b[j] == 0x22:
                j = read_string(b, j)[1]
                continue
            if b[j] in b"[{":
                depth += 1
            elif b[j] in b"]}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if depth:
            raise JsonFault("json", j)
        raw = b[i : j + 1]
        try:
            doc = json.loads(raw.decode("utf-8", "surrogateescape"))
        except ValueError:
            raise JsonFault("json", i) from None
        numbers: list[float] | None = None
        if c == b"[" and not doc:
            numbers = []
        elif c == b"[" and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in doc):
            items = [x.strip(WS) for x in raw[1:-1].split(b",")]
            if all(_NUMBER.fullmatch(x) and x[:1] not in (b"N", b"I") for x in items):
                numbers = [float(x) for x in items]
        return Value("array" if c == b"[" else "object", raw, i, numbers=numbers), j + 1
    j = i
    while j < len(b) and b[j] not in b",}] \t\r\n":
        j += 1
    raw = b[i:j]
    if raw in (b"null", b"true", b"false"):
        return Value("null" if raw == b"null" else "bool", raw, i), j
    if _NUMBER.fullmatch(raw):
        fits = _INTEGER.fullmatch(raw) and INT_RANGES["int64"][0] <= int(raw) <= INT_RANGES["int64"][1]
        return Value("int" if fits else "float", raw, i), j
    raise JsonFault("json", i)


def members(b: bytes, i: int, end: int) -> Generator[tuple[bytes, int, int], int, None]:
    """The members of the object spanning ``b[i:end]``, one at a time as a parser meets them:
    yields (name, position of its quote, where its value starts) and is sent back where the
    value ended; raises JsonFault where the object is malformed."""
    if b[i : i + 1] != b"{":
        raise JsonFault("not_object", i)
    i = skip_ws(b, i + 1)
    if b[i : i + 1] == b"}":
        i += 1
    else:
        while True:
            if b[i : i + 1] != b'"':
                raise JsonFault("json", i)
            name_at = i
            name, i, _esc = read_string(b, i)
            i = skip_ws(b, i)
            if b[i : i + 1] != b":":
                raise JsonFault("json", i)
            i = skip_ws(b, i + 1)
            if i >= end:
                raise JsonFault("json", i)
            i = skip_ws(b, (yield name, name_at, i))
            if b[i : i + 1] == b",":
                i = skip_ws(b, i + 1)
                continue
            if b[i : i + 1] == b"}":
                i += 1
                break
            raise JsonFault("json", i)
    if skip_ws(b, i) != end:
        raise JsonFault("json", i)


def item_kind(v: Value) -> str:
    if v.kind == "string":
        return date_kind(v.content)
    if v.kind == "array":
        return "vector" if v.numbers else "vector_mixed"
    return {"object": "string"}.get(v.kind, v.kind)


def convert(v: Value, type_: str, dim: int) -> Any:
    """An inferred column's value once its type is known."""
    if type_ == "string":
        return (v.content if v.kind == "string" else v.raw).decode("utf-8")
    if type_ == "int64":
        return int(v.raw)
    if type_ == "float64":
        return parse_float(v.raw)
    if type_ == "bool":
        return v.raw == b"true"
    if type_ == "date":
        return parse_date(v.content)
    if type_ == "timestamp":
        return parse_timestamp(v.content)[0]
    assert v.numbers is not None and type_ == "vector"
    return tuple(np.float32(x) for x in v.numbers)


INFERRED = Inferred(kind=item_kind, convert=convert, dim=lambda v: len(v.numbers or ()))


def declared_value(v: Value, col: Col) -> Any:
    """A value of a declared column (docs/etl.md: a declared type is enforced); raises Fault."""
    t = col.type
    assert t is not None
    if v.kind == "string":
        return parse_text(v.content, t, col.dim)
    if t in ("string", "bytes"):
        return v.raw.decode("utf-8") if t == "string" else v.raw
    if v.kind in ("int", "float"):
        if t in INT_RANGES:
            if v.kind == "int" or _INTEGER.fullmatch(v.raw):
                return parse_text(v.raw, t)
            x = parse_float(v.raw)
            if math.isnan(x) or math.isinf(x) or x != math.floor(x):
                raise Fault("syntax")
            lo, hi = INT_RANGES[t]
            if not lo <= int(x) <= hi:
                raise Fault("range")
            return int(x)
        if t in ("float32", "float64"):
            return parse_text(v.raw, t)
        if t == "bool":
            return parse_bool(v.raw, lenient=True)
        raise Fault("syntax")
    if v.kind == "bool":
        if t == "bool":
            return v.raw == b"true"
        raise Fault("syntax")
    if v.kind == "array" and t == "vector":
        if v.numbers is None:
            raise Fault("syntax")
        if len(v.numbers) != col.dim:
            raise Fault("vector_length")
        return tuple(to_float32(x) for x in v.numbers)
    raise Fault("syntax")


def reference(paths: Sequence[Path], *, key: str, schema: Mapping[str, Any], max_bad: int, on_duplicate: str,
              rejects: str | None, live: tuple[str, int] | None) -> Expected:
    """What building the JSON Lines files `paths` must give."""
    nulls = {v.encode() for v in schema.get("null_values", ())}
    specs = {src: declared(spec) for src, spec in schema.get("columns", {}).items()}
    records = []  # (file index, path, data, start, end, line)
    for index, path in enumerate(paths):
        data = read_bytes(path)
        pos, line = (3 if data.startswith(b"\xef\xbb\xbf") else 0), 1
        while pos < len(data):
            eol = data.find(b"\n", pos)
            eol = len(data) if eol < 0 else eol
            end = eol
            while end > pos and data[end - 1] in b"\r \t":
                end -= 1
            k = skip_ws(data, pos)
            if k < end:
                records.append((index, str(path), data, k, end, line, pos))
            pos, line = eol + 1, line + 1
    # Which fields good records name decides the columns; a record's goodness does not depend on them.
    parsed = [_members(r, specs, nulls, key) for r in records]
    key_source = next((src for src, spec in specs.items() if spec[3] == key and not spec[4]), key)
    required = {key_source} | {src for src, spec in specs.items() if spec[2] is False and not spec[4]}
    order: list[str] = []
    for got in parsed:
        if not isinstance(got, tuple) and required <= set(got):
            order += [name for name in got if name not in order]
    if key_source not in order:  # the key, when no good record names it
        order.append(key_source)
    order += [src for src in specs if src not in order]
    columns = []
    for src in order:
        type_, dim, nullable, rename, drop = specs.get(src, (None, 1, None, None, False))
        if drop:
            continue
        name = rename or src
        if name == key and type_ in ("int8", "int16", "int32", "uint8", "uint16", "uint32"):
            type_ = "int64"
        columns.append(Col(name, src, type_, dim, nullable, name == key))
    known = {c.source for c in columns} | {src for src, spec in specs.items() if spec[4]}  # dropped ones too
    good, bad = [], []
    for (index, path, data, _start, end, line, at), got in zip(records, parsed, strict=True):
        if isinstance(got, tuple):
            code, pos, field = got[:3]
            prefixed = field if field in known else None
            name = next((c.name for c in columns if c.source == field), field)
            text = got[3] if len(got) > 3 else reason(code, name if prefixed else None)
            column = None if code in ("json", "not_object", "bad_escape") else 1 + _chars(data, at, pos)
            bad.append(Bad(path, line, column, text, data[at:end], (index, at)))
            continue
        missing = next((c for c in columns if c.source not in got and (c.key or c.nullable is False)), None)
        if missing is not None:
            text = reason("missing_key" if missing.key else "null", missing.name)
            bad.append(Bad(path, line, 1 + _chars(data, at, end), text, data[at:end], (index, at)))
            continue
        good.append(Good(path, line, (index, at), {c.name: got.get(c.source) for c in columns}))
    return finish(columns, good, bad, key=key, max_bad=max_bad, on_duplicate=on_duplicate, rejects=rejects,
                  inferred=INFERRED, paths=[str(p) for p in paths], live=live)


def _chars(data: bytes, start: int, pos: int) -> int:
    return sum(1 for b in data[start:pos] if b & 0xC0 != 0x80)


def _members(record: tuple[Any, ...], specs: Mapping[str, Any], nulls: set[bytes], key: str,
             ) -> dict[str, Any] | tuple[Any, ...]:
    """A record's values by field name, or its fault: (code, position, field[, reason])."""
    _index, _path, data, start, end, _line, _at = record
    values: dict[str, Any] = {}
    scan = members(data[:end], start, end)
    try:
        item = next(scan)
        while True:
            fault = _member(data[:end], *item, values, specs, nulls, key)
            if isinstance(fault, tuple):
                return fault
            item = scan.send(fault)
    except StopIteration:
        return values
    except JsonFault as exc:
        return exc.code, exc.at, None


def _member(b: bytes, name_b: bytes, name_at: int, start: int, values: dict[str, Any], specs: Mapping[str, Any],
            nulls: set[bytes], key: str) -> int | tuple[Any, ...]:
    """Read one member into `values` (checked in the order a parser meets things): where its value
    ends, or the record's fault."""
    bad_at = utf8_fault(name_b)
    if bad_at is not None:
        return "utf8", name_at + 1 + bad_at, None
    name = name_b.decode("utf-8")
    if name in values:
        return "duplicate_field", name_at, name
    try:
        v, end = read_value(b, start)
    except JsonFault as exc:
        if exc.code == "bad_escape":  # in a field's value: named after the field when it is a column
            return "bad_escape", exc.at, name
        raise
    type_, dim, nullable, rename, drop = specs.get(name, (None, 1, None, None, False))
    dataset_name = rename or name
    if dataset_name == key and type_ in ("int8", "int16", "int32", "uint8", "uint16", "uint32"):
        type_ = "int64"
    col = Col(dataset_name, name, type_, dim, nullable, dataset_name == key)
    if drop:
        values[name] = None
        return end
    try:
        values[name] = _value(v, col, nulls)
    except Fault as exc:
        if exc.code in ("null_key", "null"):
            return exc.code, v.start, name, reason(exc.code, dataset_name)
        if exc.code == "utf8":  # prefixed with the column's name only if the field is a column
            return "utf8", v.start + 1 + exc.at if v.kind == "string" and not v.escaped else v.start, name
        shown = v.content if v.kind == "string" else v.raw
        return exc.code, v.start, name, reason(exc.code, dataset_name, col.type_name, shown, dim)
    return end


def _value(v: Value, col: Col, nulls: set[bytes]) -> Any:
    """The value of one member for its column (None for null); raises Fault."""
    text = v.content if v.kind == "string" else v.raw if v.kind in ("array", "object") else None
    if text is not None and col.type != "bytes":
        bad_at = utf8_fault(text)
        if bad_at is not None:
            raise Fault("utf8", bad_at)
    if v.kind == "null" or (v.kind == "string" and v.content in nulls):
        if col.key:
            raise Fault("null_key")
        if col.nullable is False:
            raise Fault("null")
        return None
    return declared_value(v, col) if col.type is not None else v
