"""Seeded cases of the differential suite: input files (CSV, JSON Lines, Parquet) with a random
schema, a schema file for part of the columns, malformed records now and then, and build options
(workers, chunk and memory sizes that force many chunks and spills, duplicate-key policies).

A case is everything the reference and the build are given; neither sees how it was drawn."""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .gen_values import DECLARED, WIDTHS, bytes_value, family_text, json_string, json_value

NULLS = ["", "NA", "N/A", "NULL", "null", "NaN", "nan"]
FAULTY = [b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf"]  # not UTF-8


@dataclass
class Case:
    """One differential case: the inputs and how to build them."""

    seed: int
    format: str
    files: list[Path]
    key: str
    schema: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    chunk_bytes: int | None = None
    memory_limit: int | None = None
    part_bytes: int | None = None
    on_duplicate: str = "error"
    max_bad: int = 0
    cli: bool = False
    live: bool = False
    tab: bool = False

    def describe(self) -> str:
        opts = {k: v for k, v in vars(self).items() if k not in ("files", "schema") and v not in (None, False)}
        return f"{opts} schema={json.dumps(self.schema, ensure_ascii=False)[:400]}"


@dataclass
class Column:
    """How a column's values are drawn."""

    name: str
    family: str
    declared: str | None
    width: str = "int64"
    dim: int = 1
    null_rate: float = 0.0
    presence: float = 1.0  # JSON Lines: how often a record names it
    not_null: bool = False
    odd: bool = False  # a header name the build cleans: not named in the schema file


def draw_columns(rng: random.Random, fmt: str, schema: dict[str, Any]) -> tuple[list[Column], str]:
    """The key and the other columns, with the schema file's entries for the declared ones."""
    families = list(DECLARED)
    if fmt == "csv":
        families.remove("nested")
    key_family = rng.choice(["int", "int", "string", "code", "int", "string", "code", "numeric"])
    key_decl = rng.choice([None, None, "int64", "int32"] if key_family == "int" else [None, "string"])
    cols = [Column("id", key_family, key_decl)]
    names = ["id"]
    for i in range(rng.choice([0, 1, 2, 3, 4, 6, 9])):
        family = rng.choice(families)
        name = rng.choice([f"c{i}", f"col {i}", f"ü{i}", f"x{i}"])
        odd = fmt == "csv" and rng.random() < 0.05  # a header name to clean: empty, repeated, odd characters
        if odd:
            name = rng.choice(["", names[-1], f"a/b\x01{i}"])
        declared = rng.choice(DECLARED[family])
        width = rng.choice(WIDTHS) if family == "int" and declared is not None else "int64"
        if family == "int" and declared in ("int64", "int"):
            declared = width if rng.random() < 0.7 else declared
        dim = rng.randint(1, 6)
        if family == "vector":
            declared = f"vector[{dim}]"
        if odd:
            declared = "vector" if family == "vector" else None  # the schema file names no such column
        col = Column(name, family, declared, width, dim, rng.choice([0, 0, 0.05, 0.3, 1.0]),
                     rng.choice([1.0, 1.0, 0.5, 0.05]))
        col.odd = odd
        if family == "allnull":
            col.null_rate = 1.0
        cols.append(col)
        names.append(name)
    columns: dict[str, Any] = {}
    for col in cols:
        if col.odd:
            if col.family == "vector":
                col.family = "float"
            continue
        spec: dict[str, Any] = {}
        if col.declared:
            spec["type"] = col.declared
        if col is not cols[0] and rng.random() < 0.1:
            col.not_null, col.null_rate = True, 0.0  # its nulls come as faults
            spec["nullable"] = False
        elif col is not cols[0] and rng.random() < 0.08:
            spec["nullable"] = True
        if col is not cols[0] and rng.random() < 0.06:
            spec["rename"] = col.name + "_renamed"
        if col is not cols[0] and rng.random() < 0.05:
            spec = {"drop": True}
        if spec:
            columns[col.name] = spec["type"] if list(spec) == ["type"] and rng.random() < 0.5 else spec
    if columns:
        schema["columns"] = columns
    key = "id"
    if rng.random() < 0.05 and not isinstance(columns.get("id"), str):
        schema.setdefault("columns", {})["id"] = {**(columns.get("id") or {}), "rename": "key"}
        key = "key"
    return cols, key


def draw_keys(rng: random.Random, col: Column, n: int) -> list[str]:
    """`n` distinct key texts."""
    keys: list[str] = []
    seen: set[str] = set()
    while len(keys) < n:
        text = family_text(rng, "int" if col.family == "int" else col.family, "int64")
        if col.family == "string" and rng.random() < 0.5:
            text = f"k{len(keys)}-{text}"
        if text in seen or text in NULLS or (col.family == "int" and text == "-0"):
            continue
        seen.add(text)
        keys.append(text)
    return keys


def duplicate(rng: random.Random, keys: list[str], policy: str) -> None:
    """Repeat some keys (several with first/last; one now and then with error)."""
    if not keys or (policy == "error" and rng.random() < 0.85):
        return
    for _ in range(rng.randint(1, max(1, len(keys) // 5)) if policy != "error" else 1):
        keys[rng.randrange(len(keys))] = keys[rng.randrange(len(keys))]


def options(rng: random.Random, case: Case, rows: int) -> None:
    case.workers = rng.choice([1, 2])
    case.chunk_bytes = rng.choice([None, 23, 97, 400, 2048, 65536]) if rows else None
    case.memory_limit = rng.choice([None, None, 1 << 20, 2 << 20])
    case.cli = rng.random() < 0.2
    case.part_bytes = None if case.cli else rng.choice([None, 600, 5000, 40000])
    case.on_duplicate = rng.choice(["error", "error", "first", "last"])
    case.live = rng.random() < 0.3


def maybe_gzip(rng: random.Random, path: Path, data: bytes) -> Path:
    if rng.random() < 0.15:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def cells_null(rng: random.Random, col: Column) -> bool:
    return rng.random() < col.null_rate


def split_files(rng: random.Random, rows: int) -> list[int]:
    """How many records each input file gets."""
    if rows < 2 or rng.random() < 0.6:
        return [rows]
    cut = sorted(rng.sample(range(1, rows), k=min(rng.randint(1, 2), rows - 1)))
    return [b - a for a, b in zip([0, *cut], [*cut, rows], strict=True)]


def rows_count(rng: random.Random) -> int:
    return rng.choice([0, 1, 3, 10, 40, 120, 300, 600])


def faulty(rng: random.Random, text: bytes) -> bytes:
    """The text with a byte sequence that is not UTF-8 in it."""
    at = rng.randint(0, len(text))
    return text[:at] + rng.choice(FAULTY) + text[at:]


def csv_value(rng: random.Random, col: Column, plain: bool) -> bytes:
    if col.family == "bytes":
        return bytes_value(rng) if not plain else b"raw"
    if col.family == "bool" and col.declared and rng.random() < 0.3:  # a declared bool takes more spellings
        return rng.choice([b"t", b"F", b"yes", b"No", b"y", b"N", b"1", b"0"])
    return family_text(rng, col.family, col.width, col.dim, plain=plain).encode("utf-8")


def json_of(rng: random.Random, col: Column) -> bytes:
    if col.declared and col.family in ("int", "float", "bool") and rng.random() < 0.1:
        return json_string(json_value(rng, col.family, col.width).decode(), rng)  # a number in a string
    return json_value(rng, col.family, col.width, col.dim)


def json_name(name: str, rng: random.Random) -> bytes:
    return json_string(name, rng)
