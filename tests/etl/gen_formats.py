"""The input files of a differential case, per format: CSV (delimiters, quoting styles, line
ends, BOM, blank lines, malformed records), JSON Lines (sparse fields, escapes, nested values,
malformed lines) and Parquet (every Arrow type rodata reads, row groups, bad rows)."""

from __future__ import annotations

import gzip
import random
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .gen_inputs import (
    NULLS,
    Case,
    Column,
    cells_null,
    csv_value,
    draw_columns,
    draw_keys,
    duplicate,
    faulty,
    json_name,
    json_of,
    maybe_gzip,
    options,
    rows_count,
    split_files,
)
from .gen_values import json_string, string_text

BAD_VALUES = {"int": [b"x12", b"1.5", b"99999999999999999999", b"-129", b"256", b"+"],
              "float": [b"1.2.3", b"e5", b"1e999"],
              "bool": [b"maybe", b"2"], "date": [b"2024-02-30", b"24-01-01", b"0000-01-01"],
              "timestamp": [b"2024-01-01T25:00", b"2300-01-01T00:00Z", b"2024-01-01T10"], "vector": [b"[1, 2", b"1,,2"]}


def _bad_value(rng: random.Random, col: Column) -> bytes:
    family = {"date_wide": "date", "big_int": "float", "allnull": "int"}.get(col.family, col.family)
    return rng.choice(BAD_VALUES.get(family, [b"x"]))


# -- CSV -----------------------------------------------------------------------------------------


def make_csv(rng: random.Random, case: Case, directory: Path) -> None:
    schema: dict[str, Any] = {}
    cols, case.key = draw_columns(rng, "csv", schema)
    if rng.random() < 0.2:
        schema["null_values"] = rng.sample([*NULLS, "-", "none", "?"], k=rng.randint(0, 3))
    nulls = [v.encode() for v in schema.get("null_values", NULLS)]
    delim, suffix = b",", ".csv"
    pick = rng.random()
    if pick < 0.12:
        delim, suffix, case.tab = b"\t", ".tsv", True
    elif pick < 0.2:
        delim = b";"
        schema["delimiter"] = ";"
    quote = b'"'
    pick = rng.random()
    if pick < 0.05:
        quote, schema["quote"] = b"'", "'"
    elif pick < 0.1:
        quote, schema["quote"] = b"", ""
    case.schema = schema
    rows = rows_count(rng)
    options(rng, case, rows)
    keys = draw_keys(rng, cols[0], rows)
    duplicate(rng, keys, case.on_duplicate)
    bad_rate = rng.choice([0, 0, 0, 0.02, 0.1, 0.3])
    case.max_bad = rng.choice([0, 1, 5, 10_000]) if bad_rate else rng.choice([0, 0, 3])
    plain = not quote
    records = []
    for r in range(rows):
        cells: list[tuple[str, bytes]] = []
        for col in cols:
            if col is cols[0]:
                cells.append(("value", keys[r].encode()))
            elif cells_null(rng, col) and nulls:
                cells.append(("null", rng.choice(nulls)))
            else:
                cells.append(("value", csv_value(rng, col, plain)))
        if rng.random() < bad_rate:
            _csv_fault(rng, cols, cells, nulls, quote)
        records.append(cells)
    start = 0
    for i, count in enumerate(split_files(rng, rows)):
        order = list(range(len(cols)))
        if i and not any(c.odd for c in cols):  # an empty or repeated name is named by its position
            rng.shuffle(order)
        eol = rng.choice([b"\n", b"\r\n"])
        style = rng.choice(["minimal", "all", "random"]) if quote else "none"
        out = bytearray(b"\xef\xbb\xbf" if rng.random() < 0.1 else b"")
        out += delim.join(_field(rng, ("value", cols[j].name.encode()), delim, quote, style) for j in order) + eol
        for cells in records[start : start + count]:
            if rng.random() < 0.03:
                out += eol
            out += delim.join(_field(rng, cells[j], delim, quote, style) for j in order if j < len(cells))
            out += eol
        if count and rng.random() < 0.15:
            del out[-len(eol):]  # no line end after the last record
        start += count
        case.files.append(maybe_gzip(rng, directory / f"in{i}{suffix}", bytes(out)))


def _field(rng: random.Random, cell: tuple[str, bytes], delim: bytes, quote: bytes, style: str) -> bytes:
    kind, text = cell
    if kind == "raw":
        return text
    needs = bool(quote) and (delim in text or quote in text or b"\n" in text or b"\r" in text)
    if needs or (quote and (style == "all" or (style == "random" and rng.random() < 0.5))):
        return quote + text.replace(quote, quote + quote) + quote
    return text


def _csv_fault(rng: random.Random, cols: list[Column], cells: list[tuple[str, bytes]], nulls: list[bytes],
               quote: bytes) -> None:
    """Make the record malformed in one way."""
    kinds = ["many", "utf8", "value"] + (["few"] if len(cells) > 1 else [])
    kinds += (["stray", "after"] if quote else []) + (["nullkey"] if nulls else [])
    kinds += ["notnull"] if any(c.not_null for c in cols) and nulls else []
    kind = rng.choice(kinds)
    if kind == "many":
        cells.append(("value", b"extra"))
    elif kind == "few":
        cells.pop()
    elif kind == "utf8":
        i = rng.randrange(len(cells))
        cells[i] = ("value", faulty(rng, cells[i][1] if cells[i][0] == "value" else b"v"))
    elif kind == "value":
        declared = [i for i, c in enumerate(cols) if c.declared and c.declared not in ("string", "str", "bytes")]
        i = rng.choice(declared) if declared else 0
        cells[i] = ("value", _bad_value(rng, cols[i]))
    elif kind == "stray":
        cells[rng.randrange(len(cells))] = ("raw", b"ab" + quote + b"cd" + quote + b"ef")
    elif kind == "after":
        cells[rng.randrange(len(cells))] = ("raw", quote + b"ab" + quote + b"cd")
    elif kind == "nullkey":
        cells[0] = ("null", rng.choice(nulls))
    else:
        i = next(i for i, c in enumerate(cols) if c.not_null)
        cells[i] = ("null", rng.choice(nulls))


# -- JSON Lines ----------------------------------------------------------------------------------


def make_jsonl(rng: random.Random, case: Case, directory: Path) -> None:
    schema: dict[str, Any] = {}
    cols, case.key = draw_columns(rng, "jsonl", schema)
    if rng.random() < 0.1:
        schema["null_values"] = rng.choice([["NA"], ["", "-"], ["null"]])
    case.schema = schema
    nulls = schema.get("null_values", [])
    rows = rows_count(rng)
    options(rng, case, rows)
    keys = draw_keys(rng, cols[0], rows)
    duplicate(rng, keys, case.on_duplicate)
    bad_rate = rng.choice([0, 0, 0, 0.02, 0.1, 0.3])
    case.max_bad = rng.choice([0, 1, 5, 10_000]) if bad_rate else rng.choice([0, 0, 3])
    lines = []
    for r in range(rows):
        members = []
        for col in cols:
            if col is cols[0]:
                value = keys[r].encode() if col.family == "int" else json_string(keys[r], rng)
            elif rng.random() > col.presence:
                continue
            elif cells_null(rng, col):
                value = json_string(rng.choice(nulls), rng) if nulls and rng.random() < 0.3 else b"null"
            else:
                value = json_of(rng, col)
            members.append([json_name(col.name, rng), value])
        if rng.random() < 0.3:
            rng.shuffle(members)
        fault = _json_fault(rng, cols, members) if rng.random() < bad_rate else None
        sep, colon = rng.choice([(b", ", b": "), (b",", b":"), (b" ,\t", b" : ")])
        line = b"{" + sep.join(name + colon + value for name, value in members) + b"}"
        lines.append(fault(line) if fault else line)
    start = 0
    for i, count in enumerate(split_files(rng, rows)):
        eol = rng.choice([b"\n", b"\r\n"])
        out = bytearray(b"\xef\xbb\xbf" if rng.random() < 0.1 else b"")
        for line in lines[start : start + count]:
            if rng.random() < 0.03:
                out += rng.choice([b"", b"  ", b"\t"]) + eol
            out += (b" " if rng.random() < 0.05 else b"") + line + eol
        if count and rng.random() < 0.15:
            del out[-len(eol):]
        start += count
        case.files.append(maybe_gzip(rng, directory / f"in{i}.jsonl", bytes(out)))


def _json_fault(rng: random.Random, cols: list[Column], members: list[list[bytes]]) -> Any:
    """Make the record malformed in one way; returns a final touch for the line, or None."""
    kind = rng.choice(["truncated", "comma", "colon", "not_object", "dup", "escape", "missing_key", "null_key",
                       "utf8", "control", "trailing", "value", "number", "nested"])
    if kind == "number" and members:
        rng.choice(members)[1] = rng.choice([b"01", b"1.", b"Inf", b"-NaN", b"+1", b".5", b"1e"])
    elif kind == "nested" and members:
        rng.choice(members)[1] = rng.choice([b"[1, 2,]", b"[1 2]", b'{"a" 1}', b'{"a": 1,}', b"{a: 1}", b'["\\x"]',
                                             b"[tru]", b'[{"a": 01}]'])
    if kind == "truncated":
        return lambda line: line[:-1]
    if kind == "comma":
        return lambda line: line[:-1] + b",}"
    if kind == "colon" and members:
        members[-1][0] += b" 1"
    elif kind == "not_object":
        return lambda _line: rng.choice([b"[1, 2]", b"5", b'"text"', b"null"])
    elif kind == "dup" and members:
        members.append(list(rng.choice(members)))
    elif kind == "escape":
        members.append([json_string("esc", rng), rng.choice([b'"a\\x"', b'"\\ud800"', b'"\\udc00x"', b'"\\u12"'])])
    elif kind == "missing_key":
        members[:] = [m for m in members if m[0] not in (b'"id"',)]
    elif kind == "null_key" and members:
        for m in members:
            if m[0] == b'"id"':
                m[1] = b"null"
    elif kind == "utf8" and members:
        m = rng.choice(members)
        m[1] = b'"' + faulty(rng, b"text") + b'"'
    elif kind == "control" and members:
        rng.choice(members)[1] = b'"a\x01b"'
    elif kind == "trailing":
        return lambda line: line + b" x"
    elif kind == "value":
        declared = [c for c in cols if c.declared and c.declared not in ("string", "str", "bytes")]
        if declared:
            col = rng.choice(declared)
            bad = rng.choice([b'"abc"', b"300", b"3.5", b"[1]", b"true", b'{"a": 1}', b"1e20", b"-1"])
            members.append([json_name(col.name, rng), bad])
            members[:] = [m for m in members[:-1] if m[0] != members[-1][0]] + [members[-1]]
    return None


# -- Parquet -------------------------------------------------------------------------------------

ARROW_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64",
               "bool", "string", "large_string", "dictionary", "binary", "date32", "date64", "timestamp",
               "fixed_list", "list"]


def make_parquet(rng: random.Random, case: Case, directory: Path) -> None:
    rows = rows_count(rng)
    options(rng, case, rows)
    key_type = rng.choice(["int8", "int16", "int32", "int64", "int64", "string", "large_string"])
    kinds = [key_type] + [rng.choice(ARROW_TYPES) for _ in range(rng.choice([0, 1, 3, 6, 10]))]
    names = ["id"] + [f"p{i}" for i in range(1, len(kinds))]
    case.key = "id"
    bad_rate = rng.choice([0, 0, 0.05, 0.2])
    case.max_bad = rng.choice([0, 1, 5, 10_000]) if bad_rate else 0
    schema: dict[str, Any] = {}
    for name in names[1:]:
        pick = rng.random()
        if pick < 0.05:
            schema.setdefault("columns", {})[name] = {"drop": True}
        elif pick < 0.1:
            schema.setdefault("columns", {})[name] = {"rename": name + "_r"}
        elif pick < 0.15:
            schema.setdefault("columns", {})[name] = {"nullable": False}
    case.schema = schema
    width = {"int8": 100, "int16": 30000, "int32": 2**31 - 1}.get(key_type, 2**63 - 1)
    pool = rng.sample(range(-min(width, 10**6), min(width, 10**6)), k=min(rows, 2 * min(width, 10**6) - 1))
    keys: list[Any] = pool if "string" not in key_type else [f"k{v}-{string_text(rng, plain=True)}" for v in pool]
    duplicate(rng, keys, case.on_duplicate)
    rows = len(keys)
    dims = [rng.randint(1, 5) for _ in kinds]
    columns = [_arrow_column(rng, k, rows, dims[i], keys if i == 0 else None, bad_rate) for i, k in enumerate(kinds)]
    start = 0
    for i, count in enumerate(split_files(rng, rows)):
        table = pa.table({n: c.slice(start, count) for n, c in zip(names, columns, strict=True)})
        if i and rng.random() < 0.5:
            order = names[:]
            rng.shuffle(order)
            table = table.select(order)
        path = directory / f"in{i}.parquet"
        pq.write_table(table, path, row_group_size=rng.choice([1, 7, 50, 1000]))
        case.files.append(path)
        start += count


def _arrow_column(rng: random.Random, kind: str, n: int, dim: int, keys: list[Any] | None, bad_rate: float,
                  ) -> pa.Array:
    null = [rng.random() < (bad_rate if keys is not None else rng.choice([0, 0.2])) for _ in range(n)]
    if keys is not None and kind in ("string", "large_string"):
        values: list[Any] = [None if z else k.encode() for k, z in zip(keys, null, strict=True)]
        return _strings(rng, values, pa.large_string() if kind == "large_string" else pa.string(), bad_rate)
    if keys is not None:
        return pa.array([None if z else k for k, z in zip(keys, null, strict=True)], type=getattr(pa, kind)())
    if kind.startswith(("int", "uint")):
        info = np.iinfo(kind)
        ints = [rng.choice([int(info.min), int(info.max), 0, rng.randint(int(info.min), int(info.max))])
                for _ in range(n)]
        return pa.array([None if z else v for v, z in zip(ints, null, strict=True)], type=getattr(pa, kind)())
    if kind in ("float32", "float64"):
        floats = [rng.choice([0.0, -0.0, float("inf"), float("nan"), 1e-40, rng.uniform(-1e9, 1e9)]) for _ in range(n)]
        return pa.array([None if z else v for v, z in zip(floats, null, strict=True)], type=getattr(pa, kind)())
    if kind == "bool":
        return pa.array([None if z else rng.random() < 0.5 for z in null], type=pa.bool_())
    if kind in ("string", "large_string", "dictionary"):
        values = [None if z else string_text(rng).encode() for z in null]
        arr = _strings(rng, values, pa.large_string() if kind == "large_string" else pa.string(), bad_rate)
        return arr.dictionary_encode() if kind == "dictionary" else arr
    if kind == "binary":
        return pa.array([None if z else rng.randbytes(rng.randint(0, 5)) for z in null], type=pa.binary())
    if kind in ("date32", "date64"):
        days = [rng.randint(-719162, 2932896) for _ in range(n)]
        if kind == "date64":
            return pa.array([None if z else d * 86_400_000 for d, z in zip(days, null, strict=True)], type=pa.date64())
        return pa.array([None if z else d for d, z in zip(days, null, strict=True)], type=pa.date32())
    if kind == "timestamp":
        unit = rng.choice(["s", "ms", "us", "ns"])
        scale = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
        stamps = [rng.randint(-(2**63 - 1) // scale + 1, (2**63 - 1) // scale - 1) for _ in range(n)]
        tz = rng.choice([None, "UTC", "Europe/Paris"])
        return pa.array([None if z else v for v, z in zip(stamps, null, strict=True)], type=pa.timestamp(unit, tz=tz))
    vectors = [[float(np.float32(rng.uniform(-5, 5))) for _ in range(dim)] for _ in range(n)]
    if kind == "fixed_list":
        return pa.array([None if z else v for v, z in zip(vectors, null, strict=True)],
                        type=pa.list_(pa.float32(), dim))
    return pa.array([None if z else v for v, z in zip(vectors, null, strict=True)], type=pa.list_(pa.float64()))


def _strings(rng: random.Random, values: list[bytes | None], type_: pa.DataType, bad_rate: float) -> pa.Array:
    """A string array of exactly these bytes, some made not UTF-8 (pyarrow checks nothing when built from buffers)."""
    values = [faulty(rng, v) if v is not None and rng.random() < bad_rate / 2 else v for v in values]
    large = type_ == pa.large_string()
    offsets = np.cumsum([0] + [len(v or b"") for v in values]).astype(np.int64 if large else np.int32)
    valid = np.packbits(np.array([v is not None for v in values], dtype=bool), bitorder="little")
    return pa.Array.from_buffers(type_, len(values), [pa.py_buffer(valid.tobytes()), pa.py_buffer(offsets.tobytes()),
                                                      pa.py_buffer(b"".join(v or b"" for v in values))])


# -- large inputs: the rows of one task take more than its memory budget, so they spill mid-way --------


def make_large(rng: random.Random, case: Case, directory: Path) -> None:
    """About a megabyte of narrow CSV fields or sparse JSON Lines fields (rows take several times
    their input's bytes in memory), streamed from gzip or cut in chunks of a few MiB, with a value
    that widens a type and (JSON Lines) a field that first appears in the last records."""
    case.workers, case.on_duplicate = rng.choice([1, 2]), rng.choice(["error", "first", "last"])
    # gzip is read as one stream in blocks of 256 KiB with a 1 MiB budget (a tiny --chunk-size):
    # the rows spill several times in the middle of the task.  A plain JSON Lines file in 2 MiB
    # chunks spills after the first 1 MiB window of each; plain CSV in 256 KiB chunks, one run each.
    gz = rng.random() < 0.7
    jsonl = case.format == "jsonl"
    case.chunk_bytes = 23 if gz else (2 << 20) if jsonl else 256 << 10
    rows = rng.randint(12000, 16000) if jsonl and gz else 52000 if jsonl else rng.randint(25000, 32000)
    keys = list({rng.getrandbits(64) - 2**63: None for _ in range(rows)})
    rows = len(keys)
    if case.on_duplicate != "error":
        keys[-1] = keys[0]
    out = bytearray()
    if case.format == "csv":
        out += b"id," + b",".join(b"n%d" % j for j in range(9)) + b"\n"
        for i, k in enumerate(keys):
            late = i >= rows - 2
            cells = [str(k).encode(), b"2.5" if late else b"%d" % (i % 10), b"true" if i % 3 else b"false",
                     b"0900-01-01" if late else b"2024-01-0%d" % (1 + i % 9)] + [b"%d" % (i * j % 7) for j in range(6)]
            out += b",".join(cells) + b"\n"
    else:
        for i, k in enumerate(keys):
            j = i % 40
            value = b"%d" % i if j % 2 else b'"s%d"' % i
            extra = b', "late": [1.5, 2]' if i >= rows - 3 else b""
            out += b'{"id": %d, "f%d": %s%s}\n' % (k, j, value, extra)
    name = f"in0.{case.format}"
    if gz:
        path = directory / (name + ".gz")
        path.write_bytes(gzip.compress(bytes(out), compresslevel=1, mtime=0))
    else:
        path = directory / name
        path.write_bytes(bytes(out))
    case.files.append(path)


FORMATS = {"csv": make_csv, "jsonl": make_jsonl, "parquet": make_parquet}


def make_case(seed: int, directory: Path, fmt: str | None = None, *, large: bool = False) -> Case:
    """The case of `seed` (its format drawn too unless given), its files written into `directory`;
    `large`: a large input that spills (CSV or JSON Lines)."""
    rng = random.Random(seed)
    fmt = fmt or rng.choice(["csv", "jsonl"] if large else ["csv", "csv", "jsonl", "jsonl", "parquet"])
    case = Case(seed, fmt, [], "id")
    (make_large if large else FORMATS[fmt])(rng, case, directory)
    return case
