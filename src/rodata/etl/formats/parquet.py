"""Parquet inputs, read through pyarrow (the optional extra ``rodata[parquet]``): the file's own
schema gives the types (nothing is guessed and nothing widens), tasks are ranges of row groups,
and rodata.etl.parquet turns the Arrow buffers into columns without a Python object per value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from rodata._columns import ColumnData
from rodata.errors import BadInputError, SchemaError
from rodata.etl import infer
from rodata.etl.badrecords import BadRecord
from rodata.etl.chunk import ChunkResult, ChunkState, ChunkTask
from rodata.etl.formats.base import Dialect, FormatReader, InputPlan, PlannedInput, ProgressPath
from rodata.etl.parquet import import_pyarrow, parquet_fields, row_group_ranges, to_run_column
from rodata.etl.schemafile import SchemaFile
from rodata.etl.sources import Source
from rodata.etl.tokenspec import TokenizerSpec
from rodata.schema import key_storage_type

__all__ = ["ParquetReader"]


class ParquetReader(FormatReader):
    """Parquet: every input must have the same column names; the first file's types count."""

    name = "parquet"

    def plan(self, sources: Sequence[Source], schema_file: SchemaFile, key: str, dialect: Dialect) -> InputPlan:
        dropped = frozenset(s.source for s in schema_file.columns.values() if s.drop)
        fields = parquet_fields(sources[0].path, dropped=dropped)
        names = [f[0] for f in fields]
        for source in sources[1:]:
            other = parquet_fields(source.path, lengths=False, dropped=dropped)  # only the names must agree
            if {f[0] for f in other} != set(names):
                raise BadInputError(f"columns differ from {sources[0].path}'s", path=source.path)
        columns = infer.plan_columns(names, [0] * len(names), [-1] * len(names), schema_file, key, sources[0].path)
        types = {name: (type_, dim) for name, type_, dim in fields}
        planned = []
        for col in columns:
            if col.inferred:  # Parquet says the type; nothing is guessed and nothing widens
                type_, dim = types[col.source]
                if col.key:
                    stored = key_storage_type(type_)
                    if stored is None:
                        raise SchemaError(f"key column {col.name!r} is {type_} in Parquet: it must be an integer "
                                          "or a string")
                    type_ = stored
                col = replace(col, type=type_, dim=dim, inferred=False)
            planned.append(col)
        return InputPlan(planned, [PlannedInput(s) for s in sources])

    def first_field(self, source: Source, schema_file: SchemaFile) -> str:
        return str(parquet_fields(source.path, lengths=False)[0][0])

    def task_columns(self, plan: InputPlan) -> tuple[TokenizerSpec, ...]:
        """Columns are read by their names in the file (before renames; messages use the task's names)."""
        return tuple(c.tokenizer_spec()._replace(name=c.source) for c in plan.columns)

    def tasks(self, template: ChunkTask, inp: PlannedInput, first_seq: int, chunk_bytes: int,
              progress_path: ProgressPath) -> list[ChunkTask]:
        """Consecutive row groups of about `chunk_bytes` each."""
        return [replace(template, seq=first_seq + i, source=inp.source, row_groups=groups)
                for i, groups in enumerate(row_group_ranges(inp.source.path, chunk_bytes))]

    def parse(self, task: ChunkTask) -> ChunkResult:
        """Read row groups [a, b) into sorted runs.

        A row with a null key, a null in a column declared not nullable, or a string that is not
        valid UTF-8 is a bad record (quarantined under ``--max-bad-rows``, else the build stops on
        the first), named by file, row and column as for text inputs."""
        pq = import_pyarrow()
        state = ChunkState(task)
        state.check_parent()
        a, b = task.row_groups
        pf = pq.ParquetFile(task.source.path)
        meta = pf.metadata
        first_row = sum(meta.row_group(i).num_rows for i in range(a))
        table = pf.read_row_groups(list(range(a, b)), columns=[c.name for c in task.columns])
        n = table.num_rows
        cols = [to_run_column(table.column(spec.name), spec.type, spec.dim, name, task.source.path)
                for spec, name in zip(task.columns, task.names or [c.name for c in task.columns], strict=True)]
        bad = _bad_rows(task, cols)
        lines = np.arange(first_row + 1, first_row + n + 1, dtype=np.int64)  # "line" = row number
        if bad:
            _quarantine(state, task, table, bad, first_row)
            if state.result.stopped:
                return state.finish()
            mask = np.ones(n, dtype=bool)
            mask[list(bad)] = False
            keep = np.flatnonzero(mask)
            cols = [c.take(keep) for c in cols]
            lines = lines[keep]
        if len(lines):
            state.add_run(cols, lines)
        return state.finish()


def _bad_rows(task: ChunkTask, cols: list[ColumnData]) -> dict[int, tuple[int, str]]:
    """{row: (column index, reason)} of the rows that are bad records, the first fault of each."""
    from rodata._core import _text

    bad: dict[int, tuple[int, str]] = {}
    for index, (col, spec) in enumerate(zip(cols, task.columns, strict=True)):
        name = task.names[index] if index < len(task.names) else spec.name
        if col.valid is not None and (spec.is_key or spec.not_null):
            reason = (f"null key (key column {name!r})" if spec.is_key
                      else f"column {name!r}: null in a column declared not nullable")
            for row in np.flatnonzero(~col.valid).tolist():
                bad.setdefault(row, (index, reason))
        if spec.type == "string":
            assert col.offsets is not None and col.data is not None
            row, _at = _text.utf8_first_invalid(col.offsets, col.data)
            while row >= 0:
                bad.setdefault(row, (index, f"column {name!r}: invalid UTF-8"))
                row, _at = _text.utf8_first_invalid(col.offsets, col.data, row + 1)
    return bad


def _quarantine(state: ChunkState, task: ChunkTask, table: Any, bad: dict[int, tuple[int, str]],
                first_row: int) -> None:
    """Record the bad rows, in row order (the result is `stopped` past max_bad)."""
    for row in sorted(bad):
        index, reason = bad[row]
        state.result.bad_count += 1
        if len(state.result.bad) <= task.max_bad:
            state.result.bad.append(BadRecord(task.source.index, task.source.path, first_row + row,
                                              first_row + row + 1, index + 1, f"row {first_row + row + 1}: {reason}",
                                              _row_text(table, row)))
        if len(state.result.bad) > task.max_bad:
            state.result.stopped = True
            return


def _row_text(table: Any, row: int) -> bytes:
    """One row as JSON for the rejects file; a string that is not UTF-8 is shown with escapes."""
    import orjson
    import pyarrow as pa

    doc = {}
    for name, col in zip(table.column_names, table.slice(row, 1).columns, strict=True):
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            raw = col.cast(pa.large_binary()).to_pylist()[0]
            doc[name] = None if raw is None else raw.decode("utf-8", "backslashreplace")
        else:
            doc[name] = col.to_pylist()[0]
    return orjson.dumps(doc, default=str)
