"""Schema inference: the header, a sample of each input, and the schema file decide each
column's type.

Inference rules (docs/etl.md): a column's type is the narrowest that holds every value
seen — bool (true/false), int64, float64 (ints and floats mixed), date (``YYYY-MM-DD``),
timestamp (ISO 8601; dates and timestamps mixed), else string.  Null tokens are
ignored; a column of nothing but nulls is a string.  Integers with leading zeros
("007") are strings: they are codes, not numbers.  The sample only starts the process:
a value later in the input that does not fit widens the column and the input is read
again, so the result never depends on where the sample ended."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rodata._core import _text
from rodata.errors import BadInputError, SchemaError
from rodata.etl.schemafile import ColumnSpec, SchemaFile
from rodata.etl.sources import Source, read_head
from rodata.etl.tokenspec import INFER, SKIP, TokenizerSpec
from rodata.schema import Column, Schema, key_storage_type, parse_type

__all__ = [
    "SAMPLE_BYTES",
    "ColumnPlan",
    "CsvLayout",
    "plan_columns",
    "read_csv_layout",
    "sample_csv",
    "sample_jsonl",
    "to_schema",
    "widen_columns",
]

SAMPLE_BYTES = 1 << 20  # per input file
KIND_INT = _text.KINDS["int"]
MAX_HEADER_BYTES = 16 << 20
_BOM = b"\xef\xbb\xbf"
_BAD_NAME_CHARS = re.compile(r"[\x00-\x1f/]")
_BARE_CR = re.compile(rb"\r(?!\n)")
_TYPE_KINDS = {"bool": _text.KINDS["bool"], "int64": _text.KINDS["int"], "float64": _text.KINDS["float"],
               "date": _text.KINDS["date"], "timestamp": _text.KINDS["timestamp"],
               "string": _text.KINDS["string"], "vector": _text.KINDS["vector"]}


@dataclass(frozen=True)
class ColumnPlan:
    """One column of the dataset being built and where it comes from."""

    name: str  # in the dataset
    source: str  # in the input
    type: str  # storage type (schema.TYPES)
    dim: int = 1
    inferred: bool = True  # the type came from the data and may still widen
    nullable: bool | None = None  # declared; None: nullable when the data holds a null
    key: bool = False

    @property
    def type_name(self) -> str:
        """``vector[DIM]`` for vectors, else the type."""
        return f"vector[{self.dim}]" if self.type == "vector" else self.type

    def tokenizer_spec(self) -> TokenizerSpec:
        """The column as the compiled tokenizers take it."""
        return TokenizerSpec(self.name, self.type, self.dim, self.inferred, self.nullable is False, self.key)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "type": self.type_name, "inferred": self.inferred}
        if self.source != self.name:
            doc["source"] = self.source
        return doc


@dataclass(frozen=True)
class CsvLayout:
    """Where a CSV file's data starts and what its header names."""

    fields: tuple[str, ...]  # column names from the header (cleaned, unique)
    raw_fields: tuple[str, ...]  # as written
    data_start: int  # byte offset of the first record after the header
    first_line: int  # its line number


def read_csv_layout(source: Source, delimiter: bytes, quote: bytes) -> CsvLayout:
    """Read the header row (skipping a UTF-8 byte-order mark)."""
    size = 65536
    while True:
        head, whole = read_head(source, size)
        start = len(_BOM) if head.startswith(_BOM) else 0
        buf = np.frombuffer(head, dtype=np.uint8)
        if start >= len(head) or not head[start:].strip(b"\r\n"):
            raise BadInputError("empty file: no header row", path=source.path, line=1, column=1)
        if head[start:].lstrip()[:1] == b"{":
            raise BadInputError("this looks like JSON Lines, not CSV (the first line is a JSON object): give "
                                "--format jsonl", path=source.path, line=1, column=1)
        try:
            got = _text.csv_split_record(buf, start, delimiter, quote, whole)
        except ValueError as exc:
            reason, pos = exc.args
            if head[pos : pos + 1] == b"\r":
                _refuse_cr_only(source, head, pos)
            line = head.count(b"\n", 0, pos) + 1
            column = _text.column_of(buf, pos)
            raise BadInputError(f"header row: {reason}", path=source.path, line=line, column=column) from None
        if got is not None:
            break
        if size >= MAX_HEADER_BYTES:
            raise BadInputError(f"header row longer than {MAX_HEADER_BYTES} bytes", path=source.path, line=1)
        size *= 4
    fields, end, lines = got
    bare_cr = _BARE_CR.search(head, start, end)
    if bare_cr and any(_BARE_CR.search(name) for name in fields):
        _refuse_cr_only(source, head, bare_cr.start())
    raw = []
    for i, name in enumerate(fields):
        try:
            raw.append(name.decode("utf-8"))
        except UnicodeDecodeError:
            raise BadInputError(f"header row: column {i + 1} is not valid UTF-8", path=source.path, line=1,
                                column=1) from None
    if len(raw) == 1 and "\t" in raw[0] and delimiter != b"\t":  # a tab is no part of a column name
        raise BadInputError("header row: one column holding tabs: the file looks tab-separated; give "
                            "--delimiter '\\t' (or name it .tsv)", path=source.path, line=1, column=1)
    return CsvLayout(tuple(clean_names(raw)), tuple(raw), end, 1 + lines)


def _refuse_cr_only(source: Source, head: bytes, pos: int) -> None:
    """A carriage return alone in the header: the file ends its lines with CR only (old Mac OS).
    Read as it is, the whole file would be one header and no rows, so it is refused."""
    column = _text.column_of(np.frombuffer(head, dtype=np.uint8), pos)
    raise BadInputError("the header holds a carriage return (CR) that no line feed follows: CR-only line endings "
                        "are not supported; convert the file to LF or CRLF line endings",
                        path=source.path, line=head.count(b"\n", 0, pos) + 1, column=column)


def clean_names(raw: Sequence[str]) -> list[str]:
    """Usable, unique column names: an empty name becomes ``column_N``, control characters and
    '/' become '_', repeats get ``_2``, ``_3``..."""
    out: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(raw):
        name = _BAD_NAME_CHARS.sub("_", name)[:240] or f"column_{i + 1}"
        base, n = name, 2
        while name in seen:
            name = f"{base}_{n}"
            n += 1
        seen.add(name)
        out.append(name)
    return out


def sample_specs(names: Sequence[str], schema: SchemaFile, key: str) -> list[TokenizerSpec | None]:
    """How the sample reads each input column: as the full read will, so that it rejects the
    same records (a declared type, a null key, a null where the schema says not nullable) and
    only the records that will be built choose the inferred types.  None: a dropped column."""
    specs: list[TokenizerSpec | None] = []
    for name in names:
        spec = schema.spec(name)
        if spec.drop:
            specs.append(None)
        elif spec.type is not None:
            plan = _plan_one(spec, 0, -1, key)
            specs.append(TokenizerSpec(name, plan.type, plan.dim, False, plan.nullable is False, plan.key))
        else:
            specs.append(TokenizerSpec(name, INFER, 1, False, spec.nullable is False, spec.name == key))
    return specs


def sample_csv(source: Source, layout: CsvLayout, delimiter: bytes, quote: bytes,
               null_values: Sequence[bytes], schema: SchemaFile | None = None, key: str = "") -> list[int]:
    """The kind masks of each header field over the first SAMPLE_BYTES of the file (0 for the
    fields that are declared or dropped)."""
    head, whole = read_head(source, layout.data_start + SAMPLE_BYTES)
    buf = np.frombuffer(head, dtype=np.uint8)
    specs = sample_specs(layout.fields, schema or SchemaFile(), key)
    columns: list[_text.ColumnSpec] = [s for s in specs if s is not None]
    field_map, at = [], 0
    for s in specs:
        field_map.append(-1 if s is None else at)
        at += s is not None
    tok = _text.CsvTokenizer(columns, field_map, list(null_values), delimiter, quote)
    pos, line = layout.data_start, layout.first_line
    while True:
        status, pos, line = tok.feed(buf, pos, len(buf), whole, line)
        if status != _text.STATUS_BAD:  # bad records are reported by the real pass
            break
    kinds = tok.seen_kinds()
    return [0 if s is None or s.type != INFER else kinds[field_map[i]] for i, s in enumerate(specs)]


def sample_jsonl(source: Source, schema: SchemaFile | None = None, key: str = "", null_values: Sequence[bytes] = (),
                 ) -> list[tuple[str, int, int]]:
    """Fields of the first SAMPLE_BYTES of a JSON Lines file: (name, kind mask, array length)
    in order of first appearance in the records that will be built (declared columns: mask 0)."""
    head, whole = read_head(source, SAMPLE_BYTES)
    start = len(_BOM) if head.startswith(_BOM) else 0
    check_looks_like_jsonl(source, head[start:])
    buf = np.frombuffer(head, dtype=np.uint8)
    schema = schema or SchemaFile()
    key_source = next((s.source for s in schema.columns.values() if s.name == key and not s.drop), key)
    names = [n for n in (key_source, *schema.columns) if n]
    names = list(dict.fromkeys(names))
    specs = sample_specs(names, schema, key)
    columns = [s if s is not None else TokenizerSpec.skip(n) for n, s in zip(names, specs, strict=True)]
    tok = _text.JsonTokenizer(list(columns), list(null_values), order=True)
    pos, line = start, 1
    while True:
        status, pos, line = tok.feed(buf, pos, len(buf), whole, line)
        if status != _text.STATUS_BAD:
            break
    kinds, dims, new = tok.seen_kinds(), tok.vector_dims(), tok.new_fields()
    out = []
    for name, is_new, index in tok.field_order():
        if is_new:
            out.append((name, new[index][1], new[index][3]))
        elif columns[index].type == INFER:
            out.append((name, kinds[index], dims[index]))
        elif columns[index].type != SKIP:
            out.append((name, 0, -1))
    return out


def inferred_type(kinds: int, dim: int = -1) -> tuple[str, int]:
    """The (type, dim) a set of kinds resolves to."""
    type_ = _text.resolve_kinds(kinds)
    if type_ == "vector":
        return ("vector", dim) if dim > 0 else ("string", 1)
    return type_, 1


def plan_columns(fields: Sequence[str], kinds: Sequence[int], dims: Sequence[int], schema: SchemaFile,
                 key: str, origin: str) -> list[ColumnPlan]:
    """The dataset's columns from the input's fields, what the sample saw and the schema file."""
    known = set(fields)
    missing = [s for s in schema.columns if s not in known]
    if missing:
        hints = [f"{m!r} -> {c[0]!r}" for m in missing if (c := difflib.get_close_matches(m, fields, n=1))]
        hint = f"; did you mean {', '.join(hints)}?" if hints else ""
        raise SchemaError(f"{schema.origin}: names column(s) {missing} that {origin} does not have "
                          f"(its columns: {', '.join(fields)}){hint}")
    plans: list[ColumnPlan] = []
    for name, mask, dim in zip(fields, kinds, dims, strict=True):
        spec = schema.spec(name)
        if spec.drop:
            continue
        plans.append(_plan_one(spec, mask, dim, key))
    names = [p.name for p in plans]
    if key not in names:
        renamed = [s.name for s in schema.columns.values() if s.source == key and not s.drop]
        hint = f" (renamed to {renamed[0]!r} by the schema)" if renamed else ""
        close = difflib.get_close_matches(key, names, n=1)
        hint = hint or (f" (did you mean {close[0]!r}?)" if close else _delimiter_hint(fields))
        raise BadInputError(f"no key column {key!r}{hint}; columns are: {', '.join(names)}", path=origin)
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise SchemaError(f"{schema.origin}: two columns would be named {dup!r}")
    return plans


_SEPARATORS = {";": "semicolon", "\t": "tab", "|": "pipe", ",": "comma"}


def _delimiter_hint(fields: Sequence[str]) -> str:
    """A header read as one column that holds a likely separator: say which, and how to read it."""
    if len(fields) != 1:
        return ""
    for char, name in _SEPARATORS.items():
        if char in fields[0]:
            shown = "\\t" if char == "\t" else char
            return f" (the header looks {name}-separated: give --delimiter '{shown}')"
    return ""


def check_looks_like_jsonl(source: Source, head: bytes) -> None:
    """Refuse, naming the likely format, a file read as JSON Lines whose first lines are not
    JSON objects at all (a CSV file given ``--format jsonl``)."""
    lines = [ln.strip() for ln in head.split(b"\n")[:6] if ln.strip()]
    if lines and not any(ln[:1] in (b"{", b"[") for ln in lines) and any(c in lines[0] for c in (b",", b";", b"\t")):
        raise BadInputError("this looks like CSV, not JSON Lines (no line is a JSON object): give --format csv",
                            path=source.path, line=1, column=1)


def _plan_one(spec: ColumnSpec, mask: int, dim: int, key: str) -> ColumnPlan:
    is_key = spec.name == key
    if spec.type is not None:
        type_, tdim = parse_type(spec.type)
        if is_key:
            stored = key_storage_type(type_)
            if stored is None:
                raise SchemaError(f"key column {spec.name!r} is declared {spec.type}: it must be int64 or string")
            type_ = stored
            if spec.nullable:
                raise SchemaError(f"key column {spec.name!r} cannot be nullable")
        return ColumnPlan(spec.name, spec.source, type_, tdim, False, spec.nullable, is_key)
    type_, tdim = inferred_type(mask, dim)
    if is_key:
        type_, tdim = _inferred_key_type(type_), 1
    return ColumnPlan(spec.name, spec.source, type_, tdim, True, spec.nullable, is_key)


def _inferred_key_type(type_: str) -> str:
    """An inferred key is an int64 when its values are integers, else a string (docs/etl.md)."""
    return "int64" if type_ == "int64" else "string"


def widen_columns(columns: Sequence[ColumnPlan], widened: dict[int, int], dims: dict[int, int] | None = None,
                  ) -> list[ColumnPlan]:
    """Columns whose inferred types were too narrow for values met later, widened to hold them."""
    out = list(columns)
    for index, kinds in widened.items():
        col = out[index]
        mask = _TYPE_KINDS.get(col.type, _text.KINDS["string"]) | kinds
        type_, dim = inferred_type(mask, col.dim if col.type == "vector" else (dims or {}).get(index, -1))
        if col.key:
            type_, dim = _inferred_key_type(type_), 1
        if (type_, dim) == (col.type, col.dim):  # cannot happen for a true widening: never loop
            raise SchemaError(f"column {col.name!r}: cannot widen {col.type_name} to hold kinds {kinds:#x}")
        out[index] = replace(col, type=type_, dim=dim)
    return out


def to_schema(columns: Sequence[ColumnPlan], nullable: Sequence[bool]) -> Schema:
    """The dataset's schema once the data has said which columns hold nulls."""
    cols = []
    for plan, has_null in zip(columns, nullable, strict=True):
        null = bool(plan.nullable) if plan.nullable is not None else has_null
        cols.append(Column(plan.name, plan.type, False if plan.key else null, plan.dim))
    key = next(p.name for p in columns if p.key)
    return Schema(tuple(cols), key)
