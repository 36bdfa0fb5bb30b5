"""CSV inputs (RFC 4180): a header row, then records the compiled CSV tokenizer reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rodata._core import _text
from rodata.errors import BadInputError
from rodata.etl import infer
from rodata.etl.badrecords import describe
from rodata.etl.chunk import ChunkTask, Fault
from rodata.etl.formats.base import SAMPLED_FILES, Dialect, InputPlan, PlannedInput
from rodata.etl.formats.text import Records, TextReader
from rodata.etl.schemafile import DEFAULT_NULL_VALUES, SchemaFile
from rodata.etl.sources import Source
from rodata.etl.widening import offset

__all__ = ["CsvReader"]


class CsvReader(TextReader):
    """CSV: the header names the fields; every input must name the same ones, in any order."""

    name = "csv"
    quoted = True
    default_null_values = DEFAULT_NULL_VALUES

    def plan(self, sources: Sequence[Source], schema_file: SchemaFile, key: str, dialect: Dialect) -> InputPlan:
        layouts = [infer.read_csv_layout(s, dialect.delimiter, dialect.quote) for s in sources]
        first = layouts[0]
        kinds = [0] * len(first.fields)
        for source, layout in zip(sources, layouts, strict=True):
            if set(layout.fields) != set(first.fields):
                missing = sorted(set(first.fields) - set(layout.fields))
                extra = sorted(set(layout.fields) - set(first.fields))
                raise BadInputError(f"header differs from {sources[0].path}'s (missing: {missing}, "
                                    f"extra: {extra})", path=source.path, line=1, column=1)
            if source.index >= SAMPLED_FILES:
                continue  # enough of a sample; values that do not fit widen the types later anyway
            masks = infer.sample_csv(source, layout, dialect.delimiter, dialect.quote, dialect.null_values,
                                     schema_file, key)
            by_name = dict(zip(layout.fields, masks, strict=True))
            kinds = [k | by_name[name] for k, name in zip(kinds, first.fields, strict=True)]
        columns = infer.plan_columns(first.fields, kinds, [-1] * len(kinds), schema_file, key, sources[0].path)
        index = {c.source: i for i, c in enumerate(columns)}
        inputs = [PlannedInput(source, layout.data_start, layout.first_line,
                               tuple(index.get(name, -1) for name in layout.fields))
                  for source, layout in zip(sources, layouts, strict=True)]
        return InputPlan(columns, inputs)

    def first_field(self, source: Source, schema_file: SchemaFile) -> str:
        dialect = self.dialect(schema_file, [source])
        return infer.read_csv_layout(source, dialect.delimiter, dialect.quote).fields[0]

    def tokenizer(self, task: ChunkTask) -> Any:
        hint = max(1024, min(task.end - task.start, task.memory_budget) // 64)
        return _text.CsvTokenizer(list(task.columns), list(task.field_map), list(task.null_values), task.delimiter,
                                  task.quote, rows_hint=hint)

    def fault(self, task: ChunkTask, code: str, field_index: int, raw: bytes, at: int) -> Fault:
        if code == "field_count":
            fields = _split_fields(raw, task.delimiter, task.quote)
            return describe(code, None, None, None, expected_fields=len(task.field_map),
                            found_fields=None if fields is None else len(fields))
        col_index = task.field_map[field_index] if 0 <= field_index < len(task.field_map) else -1
        # A value fault is reported at its field's start: the field alone, whatever comes after it.
        value = _field_at(raw, at, task.delimiter, task.quote) if code in ("syntax", "range") else None
        return col_index, value

    def records(self, task: ChunkTask, data: bytes) -> Records:
        buf = np.frombuffer(data, dtype=np.uint8)
        pos, line = 0, task.line
        if task.source.splittable and not task.known_start:
            pos, skipped = _text.find_record_start(buf, 0, task.in_quote, task.quote)
            if pos < 0:
                return
            line += skipped
        fields_of = {col: f for f, col in enumerate(task.field_map) if col >= 0}
        nulls = set(task.null_values)
        limit = min(len(data), task.end - offset(task)) if task.source.splittable else len(data)
        while pos < len(data) and pos < limit:
            got = _text.csv_split_record(buf, pos, task.delimiter, task.quote, True)
            if got is None:
                return
            fields, pos, lines = got
            if fields != [b""]:
                yield line, (lambda i, f=fields: _field(f, fields_of.get(i), nulls))
            line += lines


def _field(fields: list[bytes], at: int | None, nulls: set[bytes]) -> bytes | None:
    if at is None or at >= len(fields) or fields[at] in nulls:
        return None
    return fields[at]


def _field_at(raw: bytes, at: int, delimiter: bytes, quote: bytes) -> bytes:
    """The value of the CSV field that starts at `raw[at]` (quotes removed, doubled ones undone)."""
    if quote and raw[at : at + 1] == quote:
        value, i = bytearray(), at + 1
        while i < len(raw):
            if raw[i : i + 1] == quote:
                if raw[i + 1 : i + 2] != quote:
                    break
                i += 1
            value += raw[i : i + 1]
            i += 1
        return bytes(value)
    end = len(raw)
    for stop in (delimiter, b"\n"):
        found = raw.find(stop, at)
        if 0 <= found < end:
            end = found
    return raw[at:end].removesuffix(b"\r")


def _split_fields(raw: bytes, delimiter: bytes, quote: bytes) -> list[bytes] | None:
    try:
        got = _text.csv_split_record(np.frombuffer(raw, dtype=np.uint8), 0, delimiter, quote, True)
    except ValueError:
        return None
    return None if got is None else got[0]
