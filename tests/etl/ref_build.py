"""The reference build of the differential suite: from the records a reference reader made of
the inputs (ref_csv, ref_jsonl, ref_parquet) to what ``rodata build`` must publish -- schema,
rows in key order, rejected records -- or the error it must stop with (docs/etl.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .ref_values import canon, resolve

REASONS = {
    "syntax": "cannot parse {value} as {type}", "range": "{value} is out of range for {type}",
    "utf8": "invalid UTF-8", "null": "null in a column declared not nullable",
    "vector_length": "expected {dim} numbers for {type}",
    "duplicate_field": "the field appears twice in one object",
    "bad_escape": "invalid escape sequence in a JSON string",
}
UNPREFIXED = {
    "quote_in_field": "quote inside an unquoted field (quote the whole field and double the quotes inside)",
    "after_quote": "unexpected character after a closing quote",
    "unterminated_quote": "unterminated quoted field (it starts here and never ends)",
    "json": "malformed JSON", "not_object": "a line must hold one JSON object",
}


def shown(value: bytes) -> str:
    """A value as messages quote it."""
    text = value.decode("utf-8", "backslashreplace")
    return repr(text[:60] + "..." if len(text) > 60 else text)


def reason(code: str, column: str | None, type_name: str | None = None, value: bytes | None = None,
           dim: int = 1) -> str:
    """The message text of a fault (docs/etl.md, "Bad input")."""
    if code in ("null_key", "missing_key"):
        return f"{code.replace('_', ' ')} (key column {column!r})"
    if code in UNPREFIXED:
        return UNPREFIXED[code]
    text = REASONS[code].format(value="" if value is None else shown(value), type=type_name, dim=dim)
    return text if column is None else f"column {column!r}: {text}"


@dataclass
class Col:
    """A column of the dataset as the reference sees it."""

    name: str  # in the dataset
    source: str  # in the input
    type: str | None  # declared storage type, or None (inferred)
    dim: int = 1
    nullable: bool | None = None  # declared
    key: bool = False

    @property
    def type_name(self) -> str:
        return f"vector[{self.dim}]" if self.type == "vector" else str(self.type)


@dataclass
class Bad:
    """A record that must be rejected: where and why (column None: not checked)."""

    file: str
    line: int
    column: int | None
    reason: str
    record: bytes
    order: tuple[int, int]  # (file index, byte offset): input order


@dataclass
class Good:
    """A record that must be built: its values by column name (declared columns already typed;
    inferred ones as raw items that `typer` turns into values once the type is known)."""

    file: str
    line: int
    order: tuple[int, int]
    values: dict[str, Any]


@dataclass
class Expected:
    """What the build must do."""

    error: tuple[str, str] | None = None  # (exception name, message) when it must fail
    columns: list[tuple[str, str, int, bool]] = field(default_factory=list)  # name, type, dim, nullable
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # canonical values, key order
    bad: list[Bad] = field(default_factory=list)
    rows_in: int = 0
    duplicates: int = 0


@dataclass(frozen=True)
class Inferred:
    """How a format turns the raw items of inferred columns into kinds, and into values once the
    column's (type, dim) is known; `dim` is the length of an item of kind "vector"."""

    kind: Callable[[Any], str]
    convert: Callable[[Any, str, int], Any]
    dim: Callable[[Any], int]


def finish(columns: Sequence[Col], good: Sequence[Good], bad: Sequence[Bad], *, key: str, max_bad: int,
           on_duplicate: str, rejects: str | None, inferred: Inferred | None, paths: Sequence[str],
           live: tuple[str, int] | None) -> Expected:
    """The expected outcome from the records read (in input order) and the build options."""
    bad = sorted(bad, key=lambda b: b.order)
    good = sorted(good, key=lambda g: g.order)
    rows_in = len(good) + len(bad)
    if len(bad) > max_bad:
        first = bad[0]
        text = first.reason if max_bad == 0 else (f"{first.reason} (more than --max-bad-rows {max_bad} bad "
                                                  f"records; the first is here)")
        return Expected(error=("BadInputError", f"{first.file}:{first.line}:{first.column}: {text}"), bad=bad)
    types = {}
    for col in columns:
        if col.type is not None:
            types[col.name] = (col.type, col.dim)
            continue
        assert inferred is not None
        items = [g.values[col.name] for g in good if g.values.get(col.name) is not None]
        type_ = resolve({inferred.kind(v) for v in items})
        dim = 1
        if type_ == "vector":
            dims = {inferred.dim(v) for v in items}
            type_, dim = ("vector", dims.pop()) if len(dims) == 1 else ("string", 1)
        if col.key:
            type_, dim = ("int64" if type_ == "int64" else "string"), 1
        types[col.name] = (type_, dim)
    rows = []
    for g in good:
        row = []
        for col in columns:
            value = g.values.get(col.name)
            if col.type is None and value is not None:
                assert inferred is not None
                value = inferred.convert(value, *types[col.name])
            row.append(value)
        rows.append((g, row))
    if not rows:
        where = paths[0] if len(paths) == 1 else f"{paths[0]} (and {len(paths) - 1} more)"
        if bad:
            records = "the record was" if len(bad) == 1 else f"all {len(bad):,} records were"
            return Expected(error=("BadInputError", f"{where}: no rows to publish: {records} rejected (see {rejects})"),
                            bad=bad)
        if live is not None and live[1]:
            return Expected(error=("BadInputError", f"{where}: no rows to publish: the input holds no records, and "
                                   f"the live version {live[0]} has {live[1]:,} rows (pass --allow-shrink if this "
                                   "is meant)"), bad=bad)
    k = next(i for i, c in enumerate(columns) if c.name == key)
    string_key = types[key][0] == "string"

    def sort_key(item: tuple[Good, list[Any]]) -> Any:
        value = item[1][k]
        return value.encode("utf-8") if string_key else value

    ordered = sorted(rows, key=sort_key)  # stable: equal keys keep input order
    kept, duplicates = [], 0
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1][1][k] == ordered[i][1][k]:
            j += 1
        if j > i:
            if on_duplicate == "error":
                first, again = ordered[i][0], ordered[i + 1][0]
                return Expected(error=("DuplicateKeyError", f"duplicate key {ordered[i][1][k]!r} in column {key!r}: "
                                       f"first at {first.file}:{first.line}, again at {again.file}:{again.line}"),
                                bad=bad)
            duplicates += j - i
        kept.append(ordered[i] if on_duplicate == "first" else ordered[j])
        i = j + 1
    if live is not None and len(kept) * 2 < live[1]:  # the publish guard: a shrink is refused
        return Expected(error=("PublishGuardError", f"refusing to publish d: {len(kept):,} rows is fewer than half "
                               f"the live version {live[0]}'s {live[1]:,} (pass --allow-shrink, or "
                               "allow_shrink=True, if this is meant)"), bad=bad)
    nullable = [any(r[n] is None for _g, r in rows) for n in range(len(columns))]
    out_cols = []
    for n, col in enumerate(columns):
        type_, dim = types[col.name]
        null = bool(col.nullable) if col.nullable is not None else nullable[n]
        out_cols.append((col.name, type_, dim, False if col.key else null))
    out_rows = [tuple(canon(v, types[c.name][0]) for v, c in zip(r, columns, strict=True)) for _g, r in kept]
    return Expected(columns=out_cols, rows=out_rows, bad=bad, rows_in=rows_in, duplicates=duplicates)
