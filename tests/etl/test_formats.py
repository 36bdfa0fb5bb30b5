"""The reader of each input format on small real files: its plan (columns, where records start,
what is read past) and its tasks, each parsed into sorted runs, give the columns and rows the
reference readers of the differential suite (tests/etl/ref_*.py) say they must."""

from __future__ import annotations

import gzip
import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rodata.etl.chunk import ChunkResult, ChunkTask
from rodata.etl.formats import READERS, FormatReader, reader_for
from rodata.etl.formats.base import InputPlan
from rodata.etl.plan import count_spans, split_points
from rodata.etl.runs import read_run
from rodata.etl.schemafile import schema_from_mapping
from rodata.etl.sources import FORMATS, detect_sources
from rodata.etl.tokenspec import SKIP, TokenizerSpec
from rodata.etl.workers import count_range

from . import ref_csv, ref_jsonl, ref_parquet
from .conftest import write
from .ref_values import canon


def plan_and_parse(paths: Sequence[Path], tmp_path: Path, *, key: str = "id", schema: Mapping[str, Any] | None = None,
                   chunk: int = 1 << 20) -> tuple[InputPlan, list[ChunkTask], list[ChunkResult]]:
    """Plan the inputs with their format's reader, cut them `chunk` bytes apart (quotes counted
    before each cut, as the build does), and parse every task."""
    sources = detect_sources(paths)
    reader = reader_for(sources[0].format)
    schema_file = schema_from_mapping(schema or {})
    dialect = reader.dialect(schema_file, sources)
    plan = reader.plan(sources, schema_file, key, dialect)
    for inp in plan.inputs:
        if inp.source.splittable:
            inp.points = split_points(inp.data_start, inp.source.size, chunk)
            quote = dialect.quote if reader.quoted else b""
            inp.counts = [count_range(inp.source.path, a, b, quote) for a, b in count_spans(inp.points)]
    spill = tmp_path / "spill"
    spill.mkdir(exist_ok=True)
    template = ChunkTask(0, sources[0], 0, 0, True, False, 1, columns=reader.task_columns(plan), field_map=(),
                         null_values=dialect.null_values, delimiter=dialect.delimiter, quote=dialect.quote,
                         key_index=next(i for i, c in enumerate(plan.columns) if c.key), max_bad=0,
                         spill_dir=str(spill), memory_budget=1 << 20, parent_pid=os.getpid(),
                         names=tuple(c.name for c in plan.columns))
    tasks: list[ChunkTask] = []
    for inp in plan.inputs:
        tasks += reader.tasks(template, inp, len(tasks), chunk, lambda _seq, _source: "")
    results = [reader.parse(task) for task in tasks]
    return plan, tasks, results


def parsed_rows(plan: InputPlan, results: Sequence[ChunkResult]) -> list[tuple[Any, ...]]:
    """Every parsed row, canonical as the references write them, in key order."""
    types = [c.type for c in plan.columns]
    rows: list[tuple[Any, ...]] = []
    for result in results:
        assert result.bad == [] and not result.needs_another_pass
        for info in result.runs:
            run = read_run(info.path)
            columns = [_values(col, type_) for col, type_ in zip(run.columns, types, strict=True)]
            rows += [tuple(canon(col[i], t) for col, t in zip(columns, types, strict=True)) for i in range(run.rows)]
            run.close()
    key = next(i for i, c in enumerate(plan.columns) if c.key)
    return sorted(rows, key=lambda r: r[key])


def _values(col: Any, type_: str) -> list[Any]:
    if col.values is not None:
        values = col.values.astype("int64") if type_ in ("date", "timestamp") else col.values
        out = [tuple(np.float32(x) for x in v) for v in values] if type_ == "vector" else values.tolist()
    else:
        offsets, data = col.offsets.tolist(), col.data.tobytes()
        out = [data[a:b] for a, b in itertools.pairwise(offsets)]
        if type_ == "string":
            out = [v.decode("utf-8") for v in out]
    if col.valid is not None:
        out = [v if ok else None for v, ok in zip(out, col.valid.tolist(), strict=True)]
    return out


def schema_of(plan: InputPlan, results: Sequence[ChunkResult]) -> list[tuple[str, str, int, bool]]:
    """(name, type, dim, nullable) of each planned column, nullable from the nulls parsed."""
    return [(c.name, c.type, c.dim if c.type == "vector" else 1,
             bool(c.nullable) if c.nullable is not None else any(r.nulls[i] for r in results))
            for i, c in enumerate(plan.columns)]


def test_every_format_has_its_reader() -> None:
    assert sorted(READERS) == sorted(FORMATS)
    assert all(isinstance(reader_for(f), FormatReader) and reader_for(f).name == f for f in FORMATS)


def _csv_text(rows: int) -> str:
    lines = ["id,price,label,day,flag,note"]
    for i in range(rows):
        key = (i * 37) % rows
        note = f'"line one\nline ""{i}"", two"' if i % 7 == 0 else ("NA" if i % 5 == 0 else f"n{i}")
        price = "" if i % 11 == 0 else f"{i * 1.25}"
        lines.append(f'{key},{price},"a, {i}",2024-01-{1 + i % 28:02d},{"true" if i % 2 else "false"},{note}')
    return "\n".join(lines) + "\n"


def test_csv_cut_in_many_tasks_reads_as_the_reference(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", _csv_text(300))
    plan, tasks, results = plan_and_parse([path], tmp_path, chunk=700)
    assert len(tasks) > 10 and any(not t.known_start for t in tasks)
    assert any(t.in_quote for t in tasks)  # some cut fell inside a quoted field holding a line break
    assert [t.field_map for t in tasks] == [(0, 1, 2, 3, 4, 5)] * len(tasks)
    assert all(t.start == p for t, p in zip(tasks, plan.inputs[0].points or [], strict=False))
    expected = ref_csv.reference([path], key="id", schema={}, tab=False, max_bad=0, on_duplicate="error",
                                 rejects=None, live=None)
    assert expected.error is None and len(expected.rows) == 300
    assert schema_of(plan, results) == expected.columns
    assert parsed_rows(plan, results) == expected.rows


def test_csv_plan_maps_each_files_fields_and_drops(tmp_path: Path) -> None:
    a = write(tmp_path, "a.csv", "id,x,skip\n1,10,s\n")
    b = write(tmp_path, "b.csv", "skip,x,id\nt,20,2\n")  # the same columns in another order
    schema = {"columns": {"skip": {"drop": True}, "x": {"rename": "ex"}}}
    plan, tasks, results = plan_and_parse([a, b], tmp_path, schema=schema)
    assert [(c.name, c.source, c.type) for c in plan.columns] == [("id", "id", "int64"), ("ex", "x", "int64")]
    assert [i.field_map for i in plan.inputs] == [(0, 1, -1), (-1, 1, 0)]
    assert [t.columns[1].name for t in tasks] == ["ex", "ex"]  # CSV columns are found by position
    expected = ref_csv.reference([a, b], key="id", schema=schema, tab=False, max_bad=0, on_duplicate="error",
                                 rejects=None, live=None)
    assert parsed_rows(plan, results) == expected.rows == [(1, 10), (2, 20)]


def _jsonl_text(rows: int) -> str:
    out = []
    for i in range(rows):
        vec = f"[{i}, {i + 0.5}, -1]"
        extra = f', "notes": {{"deep": [{i}]}}' if i % 3 == 0 else ""
        when = '"2024-05-06T07:08:09Z"' if i % 4 else "null"
        out.append(f'{{"id": {(i * 13) % rows}, "name": "n\\u00e9{i}", "vec": {vec}, "at": {when}{extra}}}')
    return "\n".join(out) + "\n"


def test_jsonl_tasks_find_fields_by_their_input_names(tmp_path: Path) -> None:
    path = write(tmp_path, "in.jsonl", _jsonl_text(200))
    schema = {"columns": {"notes": {"drop": True}, "name": {"rename": "label"}}}
    plan, tasks, results = plan_and_parse([path], tmp_path, schema=schema, chunk=900)
    assert plan.skipped == ("notes",)
    assert len(tasks) > 5 and all(t.quote == b'"' for t in tasks)
    specs = tasks[0].columns
    assert all(type(s) is TokenizerSpec for s in specs)
    assert [s.name for s in specs] == ["id", "name", "vec", "at", "notes"]  # before renames; the dropped last
    assert specs[-1] == TokenizerSpec("notes", SKIP, 1, False, False, False)
    assert tasks[0].names == ("id", "label", "vec", "at")
    expected = ref_jsonl.reference([path], key="id", schema=schema, max_bad=0, on_duplicate="error", rejects=None,
                                   live=None)
    assert expected.error is None and len(expected.rows) == 200
    assert schema_of(plan, results) == expected.columns
    assert parsed_rows(plan, results) == expected.rows


def test_a_gzip_input_is_one_streamed_task(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + _jsonl_text(50).encode()))
    plan, tasks, results = plan_and_parse([path], tmp_path, chunk=100)
    assert plan.inputs[0].data_start == 3  # after the byte-order mark
    assert [(t.start, t.known_start) for t in tasks] == [(3, True)]
    expected = ref_jsonl.reference([path], key="id", schema={}, max_bad=0, on_duplicate="error", rejects=None,
                                   live=None)
    assert len(expected.rows) == 50 and parsed_rows(plan, results) == expected.rows
    assert READERS["jsonl"].task_bytes(tasks[0]) == path.stat().st_size


def test_parquet_tasks_are_row_group_ranges(tmp_path: Path) -> None:
    n = 240
    table = pa.table({
        "id": pa.array([(i * 7) % n for i in range(n)], pa.int32()),  # a narrow integer key is stored as int64
        "v": pa.array([None if i % 9 == 0 else i / 4 for i in range(n)], pa.float32()),
        "s": pa.array([f"s{i}" for i in range(n)]),
        "emb": pa.array([[float(i), 1.0] for i in range(n)], pa.list_(pa.float32(), 2)),
    })
    path = tmp_path / "in.parquet"
    pq.write_table(table, path, row_group_size=30)
    schema = {"columns": {"s": {"rename": "label"}}}
    plan, tasks, results = plan_and_parse([path], tmp_path, schema=schema, chunk=1)
    assert [c.type for c in plan.columns] == ["int64", "float32", "string", "vector"]
    assert not any(c.inferred for c in plan.columns)  # the file says the types
    assert [t.row_groups for t in tasks] == [(g, g + 1) for g in range(8)]
    assert [t.columns[2].name for t in tasks] == ["s"] * 8 and tasks[0].names[2] == "label"
    assert READERS["parquet"].task_bytes(tasks[0]) == 0
    expected = ref_parquet.reference([path], key="id", schema=schema, max_bad=0, on_duplicate="error",
                                     rejects=None, live=None)
    assert expected.error is None and len(expected.rows) == n
    assert schema_of(plan, results) == expected.columns
    assert parsed_rows(plan, results) == expected.rows


@pytest.mark.parametrize(("fmt", "content", "first"), [
    ("csv", "b,a\n1,2\n", "b"), ("jsonl", '{"z": 1, "y": 2}\n', "z"), ("jsonl", "", ""),
])
def test_first_field_is_the_inputs_first_column(tmp_path: Path, fmt: str, content: str, first: str) -> None:
    (source,) = detect_sources([write(tmp_path, f"in.{fmt}", content)])
    assert reader_for(fmt).first_field(source, schema_from_mapping({})) == first
