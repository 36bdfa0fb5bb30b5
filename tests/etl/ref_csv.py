"""The reference CSV reader of the differential suite (docs/etl.md, "Inputs" and "Bad input").

Records end at the first newline outside quotes, counting quotes from the record's start;
fields are split by the documented rules, and every record those rules accept is split again
by Python's csv module (strict), which must agree."""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .ref_build import Bad, Col, Expected, Good, Inferred, finish, reason
from .ref_values import Fault, csv_kind, parse_bool, parse_date, parse_float, parse_text, parse_timestamp, utf8_fault

DEFAULT_NULLS = ("", "NA", "N/A", "NULL", "null", "NaN", "nan")
ALIASES = {"int": "int64", "float": "float64", "double": "float64", "str": "string", "boolean": "bool",
           "datetime": "timestamp"}
_BAD_NAME = re.compile(r"[\x00-\x1f/]")
csv.field_size_limit(1 << 30)


def read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def declared(spec: Any) -> tuple[str | None, int, bool | None, str | None, bool]:
    """(type, dim, nullable, rename, drop) of a schema file's column entry."""
    doc = {"type": spec} if isinstance(spec, str) else dict(spec)
    type_, dim = doc.get("type"), 1
    if type_ is not None:
        type_ = ALIASES.get(type_, type_)
        m = re.fullmatch(r"vector\[(\d+)\]", type_)
        if m:
            type_, dim = "vector", int(m[1])
    return type_, dim, doc.get("nullable"), doc.get("rename"), bool(doc.get("drop"))


def plan(names: Sequence[str], schema: Mapping[str, Any], key: str) -> list[Col]:
    """The dataset's columns: the input's, less drops, with declared types and renames."""
    columns = []
    for src in names:
        type_, dim, nullable, rename, drop = declared(schema.get("columns", {}).get(src, {}))
        if drop:
            continue
        name = rename or src
        if name == key and type_ in ("int8", "int16", "int32", "uint8", "uint16", "uint32"):
            type_ = "int64"  # an integer key declared narrower is stored as int64
        columns.append(Col(name, src, type_, dim, nullable, name == key))
    return columns


def clean_names(raw: Sequence[str]) -> list[str]:
    out: list[str] = []
    for i, name in enumerate(raw):
        name = _BAD_NAME.sub("_", name)[:240] or f"column_{i + 1}"
        base, n = name, 2
        while name in out:
            name, n = f"{base}_{n}", n + 1
        out.append(name)
    return out


def parity_end(data: bytes, start: int, quote: bytes | None) -> tuple[int, int]:
    """(end of the record's text, start of the next one): the first newline outside quotes."""
    in_quote = False
    for k in range(start, len(data)):
        c = data[k : k + 1]
        if quote and c == quote:
            in_quote = not in_quote
        elif c == b"\n" and not in_quote:
            return (k - 1 if k > start and data[k - 1 : k] == b"\r" else k), k + 1
    at_end = len(data) - 1 if not in_quote and len(data) > start and data.endswith(b"\r") else len(data)
    return at_end, len(data)


def split_fields(data: bytes, start: int, delim: bytes, quote: bytes | None,
                 ) -> tuple[list[tuple[bytes, int, bool]], tuple[int, str, int] | None]:
    """The fields of the record at `start`: [(value, start position, doubled quotes)] and the
    first structural fault (field index, code, position), if any."""
    fields: list[tuple[bytes, int, bool]] = []
    p, n = start, len(data)
    while True:
        if quote and data[p : p + 1] == quote:
            j, value, esc = p + 1, b"", False
            while True:
                k = data.find(quote, j)
                if k < 0:
                    return fields, (len(fields), "unterminated_quote", p)
                if data[k + 1 : k + 2] == quote:
                    value, j, esc = value + data[j:k] + quote, k + 2, True
                    continue
                value += data[j:k]
                break
            fe = k + 1
            fields.append((value, p, esc))
            c = data[fe : fe + 1]
            if c == delim:
                p = fe + 1
                continue
            if c in (b"\n", b"") or (c == b"\r" and data[fe + 1 : fe + 2] in (b"\n", b"")):
                return fields, None
            fields.pop()
            return fields, (len(fields), "after_quote", fe)
        k = p
        while k < n and data[k : k + 1] not in (delim, b"\n") and not (quote and data[k : k + 1] == quote):
            k += 1
        if k < n and quote and data[k : k + 1] == quote:
            return fields, (len(fields), "quote_in_field", k)
        value = data[p:k]
        if (k >= n or data[k : k + 1] == b"\n") and value.endswith(b"\r"):
            value = value[:-1]
        fields.append((value, p, False))
        if k < n and data[k : k + 1] == delim:
            p = k + 1
            continue
        return fields, None


def stdlib_fields(text: bytes, delim: bytes, quote: bytes | None) -> list[bytes]:
    """The same record split by Python's csv module (the self-check of split_fields)."""
    kwargs: dict[str, Any] = {"delimiter": delim.decode(), "strict": True}
    kwargs.update({"quotechar": quote.decode()} if quote else {"quoting": csv.QUOTE_NONE})
    rows = list(csv.reader(io.StringIO(text.decode("utf-8", "surrogateescape"), newline=""), **kwargs))
    assert len(rows) == 1, rows
    return [f.encode("utf-8", "surrogateescape") for f in rows[0]]


def where(data: bytes, pos: int, floor: int, floor_line: int) -> tuple[int, int]:
    """(line, character column) of byte `pos`, given the line of byte `floor` before it (lines
    count every newline)."""
    line = floor_line + data.count(b"\n", floor, pos)
    start = max(data.rfind(b"\n", 0, pos) + 1, floor)
    return line, 1 + sum(1 for b in data[start:pos] if b & 0xC0 != 0x80)


def _convert(text: bytes, type_: str, dim: int) -> Any:
    if type_ == "int64":
        return int(text)
    if type_ == "float64":
        return parse_float(text)
    if type_ == "bool":
        return parse_bool(text, lenient=False)
    if type_ == "date":
        return parse_date(text)
    if type_ == "timestamp":
        return parse_timestamp(text)[0]
    return text.decode("utf-8")


INFERRED = Inferred(kind=csv_kind, convert=_convert, dim=lambda _v: 1)


def reference(paths: Sequence[Path], *, key: str, schema: Mapping[str, Any], tab: bool, max_bad: int,
              on_duplicate: str, rejects: str | None, live: tuple[str, int] | None) -> Expected:
    """What building the CSV files `paths` must give."""
    delim = (schema.get("delimiter") or ("\t" if tab else ",")).encode()
    quote_text = schema.get("quote", '"')
    quote = quote_text.encode() if quote_text else None
    nulls = {v.encode() for v in schema.get("null_values", DEFAULT_NULLS)}
    columns: list[Col] | None = None
    first_names: list[str] = []
    good: list[Good] = []
    bad: list[Bad] = []
    for index, path in enumerate(paths):
        data = read_bytes(path)
        pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        header, fault = split_fields(data, pos, delim, quote)
        assert fault is None, "the generator writes good headers"
        names = clean_names([v.decode("utf-8") for v, _p, _e in header])
        if columns is not None and set(names) != set(first_names):
            missing, extra = sorted(set(first_names) - set(names)), sorted(set(names) - set(first_names))
            return Expected(error=("BadInputError", f"{path}:1:1: header differs from {paths[0]}'s (missing: "
                                   f"{missing}, extra: {extra})"))
        first_names = first_names or names
        columns = columns or plan(names, schema, key)
        by_source = {c.source: c for c in columns}
        fields_of = [by_source.get(n) for n in names]
        nxt = parity_end(data, pos, quote)[1]
        line, pos = 1 + data.count(b"\n", 0, nxt), nxt
        while pos < len(data):
            if data[pos : pos + 1] == b"\n" or data[pos : pos + 2] == b"\r\n" or data[pos:] == b"\r":
                pos += 2 if data[pos : pos + 2] == b"\r\n" else 1
                line += 1
                continue
            end, nxt = parity_end(data, pos, quote)
            outcome = _record(data, pos, end, delim, quote, fields_of, nulls)
            if isinstance(outcome, tuple):
                code_text, at = outcome
                bad_line, column = where(data, at, pos, line)
                bad.append(Bad(str(path), bad_line, column, code_text, data[pos:end], (index, pos)))
            else:
                good.append(Good(str(path), line, (index, pos), outcome))
            line += data.count(b"\n", pos, nxt)
            pos = nxt
    assert columns is not None
    return finish(columns, good, bad, key=key, max_bad=max_bad, on_duplicate=on_duplicate, rejects=rejects,
                  inferred=INFERRED, paths=[str(p) for p in paths], live=live)


def _record(data: bytes, start: int, end: int, delim: bytes, quote: bytes | None, fields_of: Sequence[Col | None],
            nulls: set[bytes]) -> dict[str, Any] | tuple[str, int]:
    """The values of the record at `start` by column name, or (reason, fault position)."""
    fields, fault = split_fields(data, start, delim, quote)
    if fault is None:
        assert stdlib_fields(data[start:end], delim, quote) == [f[0] for f in fields]
    values: dict[str, Any] = {}
    for i in range(len(fields) + 1):
        if fault is not None and fault[0] == i:
            return reason(fault[1], None), fault[2]
        if i == len(fields):
            break
        text, at, esc = fields[i]
        if i >= len(fields_of):
            return f"expected {len(fields_of)} fields, found {len(fields)}", at
        col = fields_of[i]
        if col is None:
            continue  # a dropped column is not read at all
        content = at + (1 if quote and data[at : at + 1] == quote else 0)
        if text in nulls:
            if col.key:
                return reason("null_key", col.name), at
            if col.nullable is False:
                return reason("null", col.name), at
            values[col.name] = None
            continue
        try:
            if col.type is not None:
                values[col.name] = parse_text(text, col.type, col.dim)
            else:
                bad_at = utf8_fault(text)
                if bad_at is not None:
                    raise Fault("utf8", bad_at)
                values[col.name] = text
        except Fault as exc:
            if exc.code == "utf8":
                return reason("utf8", col.name), at if esc else content + exc.at
            return reason(exc.code, col.name, col.type_name, text, col.dim), at
    if len(fields) < len(fields_of):
        return f"expected {len(fields_of)} fields, found {len(fields)}", end
    return values
