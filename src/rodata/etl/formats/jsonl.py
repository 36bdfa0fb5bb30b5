"""JSON Lines inputs: one JSON object per line, read by the compiled JSON tokenizer, which finds
fields by their names (so a field that first appears late becomes a new column)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

from rodata._core import _text
from rodata.etl import infer
from rodata.etl.chunk import ChunkTask, Fault
from rodata.etl.formats.base import SAMPLED_FILES, Dialect, InputPlan, PlannedInput
from rodata.etl.formats.text import Records, TextReader, bom_length
from rodata.etl.schemafile import SchemaFile
from rodata.etl.sources import Source
from rodata.etl.tokenspec import TokenizerSpec

__all__ = ["JsonlReader"]


class JsonlReader(TextReader):
    """JSON Lines: the fields of the records the sample builds, in the order they first appear."""

    name = "jsonl"
    adds_fields = True

    def plan(self, sources: Sequence[Source], schema_file: SchemaFile, key: str, dialect: Dialect) -> InputPlan:
        order: list[str] = []
        kinds: dict[str, int] = {}
        dims: dict[str, int] = {}
        inputs = []
        for source in sources:
            sample = (infer.sample_jsonl(source, schema_file, key, dialect.null_values)
                      if source.index < SAMPLED_FILES else [])
            for name, mask, dim in sample:
                if name not in kinds:
                    order.append(name)
                    kinds[name] = 0
                kinds[name] |= mask
                if dim > 0 and name not in dims:
                    dims[name] = dim
            inputs.append(PlannedInput(source, bom_length(source), 1))
        key_source = next((s.source for s in schema_file.columns.values() if s.name == key and not s.drop), key)
        if key_source not in kinds:  # no good record of the sample named the key
            order.append(key_source)
            kinds[key_source] = infer.KIND_INT  # int64, widened by the full read to what the key holds
        for name in schema_file.columns:
            if name not in kinds:  # a declared column that no good record of the sample named
                order.append(name)
                kinds[name] = 0
        columns = infer.plan_columns(order, [kinds[n] for n in order], [dims.get(n, -1) for n in order],
                                     schema_file, key, sources[0].path)
        skipped = tuple(s.source for s in schema_file.columns.values() if s.drop)
        return InputPlan(columns, inputs, skipped)

    def first_field(self, source: Source, schema_file: SchemaFile) -> str:
        fields = infer.sample_jsonl(source)
        return fields[0][0] if fields else ""

    def task_columns(self, plan: InputPlan) -> tuple[TokenizerSpec, ...]:
        """Fields are found by their names in the input (before renames); dropped ones are read past."""
        specs = tuple(c.tokenizer_spec()._replace(name=c.source) for c in plan.columns)
        return specs + tuple(TokenizerSpec.skip(name) for name in plan.skipped)

    def tokenizer(self, task: ChunkTask) -> Any:
        hint = max(1024, min(task.end - task.start, task.memory_budget) // 64)
        return _text.JsonTokenizer(list(task.columns), list(task.null_values), rows_hint=hint)

    def fault(self, task: ChunkTask, code: str, field_index: int, raw: bytes, at: int) -> Fault:
        return field_index, _value_at(raw, at) if code in ("syntax", "range") else None

    def records(self, task: ChunkTask, data: bytes) -> Records:
        line = task.line
        lines = data.split(b"\n")
        if task.source.splittable and not task.known_start:
            lines, line = lines[1:], line + 1
        names = [c.name for c in task.columns]
        nulls = set(task.null_values)
        for text in lines:
            try:
                record = orjson.loads(text) if text.strip() else None
            except orjson.JSONDecodeError:
                record = None
            if isinstance(record, dict):
                yield line, (lambda i, r=record: _unless_null(r.get(names[i]), nulls))
            line += 1


def _unless_null(value: Any, nulls: set[bytes]) -> Any:
    if isinstance(value, str) and value.encode("utf-8", "surrogatepass") in nulls:
        return None
    return value


def _value_at(raw: bytes, at: int) -> bytes | None:
    """The JSON value that starts at `raw[at]`, for a message: a string's content, else its text."""
    text = raw[at:].decode("utf-8", "surrogateescape")
    try:
        value, end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None
    try:
        return (value if isinstance(value, str) else text[:end]).encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate escape
        return None
