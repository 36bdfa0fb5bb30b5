"""``rodata.build``: input files to a published version, on every core.

Phases: *plan* (headers, a sample for the types, byte ranges), *read* (workers parse
their chunks in the compiled tokenizer, sort them by key and spill sorted runs into the
staging directory, or the spill directory), *merge* (workers merge the runs of one key range each into a verified
part), *publish* (manifest, rename, CURRENT).  Any failure — bad input, Ctrl-C, a killed
process — publishes nothing: the staging directory is removed, or, after SIGKILL, by the
next build of the dataset."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from rodata.errors import BadInputError, PublishGuardError, RodataError, SchemaError
from rodata.etl import guards, infer, interrupts, widening
from rodata.etl.arguments import BuildArguments, check_build_arguments
from rodata.etl.badrecords import BadRecord, write_rejects
from rodata.etl.build_steps import count_span, dry_run_report, empty_part, spill_area
from rodata.etl.formats import reader_for
from rodata.etl.formats.base import InputPlan, PlannedInput
from rodata.etl.infer import ColumnPlan
from rodata.etl.merge import PartResult, PartTask, RunRef, choose_boundaries, merge_parts_claimed, part_count
from rodata.etl.plan import count_spans, split_points
from rodata.etl.pool import WorkerPool
from rodata.etl.progress import Progress, ProgressEvent, StreamProgress, make_progress
from rodata.etl.report import BuildReport
from rodata.etl.resources import available_cpus, default_memory_limit
from rodata.etl.schemafile import SchemaFile
from rodata.etl.sources import Source
from rodata.etl.workers import ChunkResult, ChunkTask, count_mapped_batch, parse_chunk
from rodata.manifest import PartEntry
from rodata.schema import Schema
from rodata.store import staging_dir
from rodata.writer import publish_parts

__all__ = ["build", "build_checked"]

_MAX_PASSES = 8
_MIN_CHUNK = 1 << 20
_MAX_CHUNK = 16 << 20  # each column of a chunk stays under glibc's mmap threshold (pool.py)
_MIN_PART = 1 << 20
_MAX_PART = 64 << 20
_SMALL_INPUT = 4 << 20


def build(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    dataset: str,
    key: str,
    data_root: str | os.PathLike[str],
    workers: int | None = None,
    format: str | None = None,
    schema: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    on_duplicate: str = "error",
    max_bad_rows: int = 0,
    rejects: str | os.PathLike[str] | None = None,
    keep_versions: int = 3,
    memory_limit: int | None = None,
    progress: bool | Callable[[ProgressEvent], Any] | None = None,
    chunk_bytes: int | None = None,
    part_bytes: int | None = None,
    allow_schema_change: bool = False,
    allow_shrink: bool = False,
    delimiter: str | None = None,
    dry_run: bool = False,
    spill_dir: str | os.PathLike[str] | None = None,
) -> BuildReport:
    """Build `inputs` (CSV, JSON Lines or Parquet files, optionally ``.gz``) into a new live
    version of `dataset` under `data_root`, keyed by column `key`.

    `workers` defaults to the CPUs this process may use (affinity and cgroup quota);
    `schema` is a schema file's path or its content as a mapping (types, nullability,
    renames, drops; other columns are inferred); `on_duplicate` is "error", "first" or
    "last"; up to `max_bad_rows` malformed records are quarantined into `rejects` (a JSON
    Lines file) instead of stopping the build; `memory_limit` bounds the working memory
    in bytes (default: half of the memory available); `progress` is None (a bar on a
    terminal), a bool, or a callable taking :class:`ProgressEvent`; `delimiter` (CSV, one
    character) overrides the schema file's; `dry_run` does everything but publish (the publish
    guard included) and leaves the disk as it was.  `spill_dir` (an existing directory, e.g. a
    local disk) receives the sorted runs instead of the staging directory on the data root's
    filesystem.  `chunk_bytes` and `part_bytes` tune how input is cut and how large parts get.

    One build of a dataset runs at a time: while another process builds or writes it,
    :class:`rodata.store.BuildInProgressError` is raised at once (a dry run does not take part).

    The publish guard refuses (:class:`rodata.PublishGuardError`) a version whose schema
    differs from the live one's unless `allow_schema_change`, or that holds fewer than half
    its rows unless `allow_shrink`; nothing is published then.

    Raises :class:`rodata.UsageError` for arguments no build can run with (before any work),
    :class:`rodata.BadInputError` (malformed input, naming file:line:column),
    :class:`rodata.DuplicateKeyError`, :class:`rodata.SchemaError`; on any error nothing is
    published and the live version is untouched."""
    args = check_build_arguments(
        inputs, dataset=dataset, key=key, data_root=data_root, schema=schema, delimiter=delimiter, workers=workers,
        format=format, on_duplicate=on_duplicate, max_bad_rows=max_bad_rows, rejects=rejects,
        keep_versions=keep_versions, memory_limit=memory_limit, chunk_bytes=chunk_bytes, part_bytes=part_bytes,
        allow_schema_change=allow_schema_change, allow_shrink=allow_shrink, dry_run=dry_run, spill_dir=spill_dir)
    return build_checked(args, progress)


def build_checked(args: BuildArguments, progress: bool | Callable[[ProgressEvent], Any] | None = None,
                  ) -> BuildReport:
    """:func:`build` with arguments already checked (by rodata.etl.arguments, once)."""
    started = time.time()
    t0 = time.perf_counter()
    sources = list(args.sources)
    dataset, data_root, rejects, dry_run = args.dataset, args.data_root, args.rejects, args.dry_run
    n_workers = args.workers or available_cpus()
    processes = args.chunk_bytes is not None or sum(s.size for s in sources) >= _SMALL_INPUT
    if not processes:
        n_workers = 1  # starting worker processes would take longer than the whole build
    limit = args.memory_limit or default_memory_limit()
    bar = make_progress(progress)
    job = _Build(sources, args.schema, args.key, n_workers, limit, args.on_duplicate, args.max_bad_rows, bar,
                 args.chunk_bytes, args.part_bytes)
    hold = interrupts.Hold()
    published = False
    try:
        with guards.no_new_directories(data_root, dataset) if dry_run else nullcontext(), \
                staging_dir(data_root, dataset, exclusive=not dry_run) as staging, \
                spill_area(staging, args.spill_dir) as job.spill, WorkerPool(n_workers, processes=processes) as pool:
            pool.start()  # the workers boot while the inputs are planned
            job.pool = pool
            job.plan()
            job.read()
            job.check_bad_records(None if dry_run else rejects)  # a dry run writes nothing
            guards.check_rows(sum(r.rows for r in job.results), job.bad_count, [s.path for s in sources], data_root,
                              dataset, rejects, allow_shrink=args.allow_shrink)
            infos = job.merge(staging)
            shutil.rmtree(job.spill, ignore_errors=True)
            t_publish = time.perf_counter()
            assert job.schema is not None
            if dry_run:
                return dry_run_report(job, dataset, data_root, infos, rejects, args.allow_schema_change,
                                      args.allow_shrink, t0)
            hold.start()  # from here on an interrupt waits: the build ends with its version live
            version = publish_parts(staging, dataset, job.schema, infos, keep_versions=args.keep_versions,
                                    build=job.manifest_build(), started=started,
                                    allow_schema_change=args.allow_schema_change, allow_shrink=args.allow_shrink)
            published = True
            job.seconds["publish"] = time.perf_counter() - t_publish
        job.seconds["total"] = time.perf_counter() - t0
        return job.report(version.dataset, version.name, str(version.path), infos, rejects)
    except PublishGuardError as exc:  # a widened type changed the schema: say which value did it
        exc.args = (str(exc) + "".join(f"; {widening.message(c)}" for c in job.widened),)
        raise
    finally:
        bar.close()
        hold.stop(published=published)


class _Build:
    """The state of one build across its phases."""

    def __init__(self, sources: list[Source], schema_file: SchemaFile, key: str, workers: int, memory_limit: int,
                 on_duplicate: str, max_bad: int, bar: Progress, chunk_bytes: int | None,
                 part_bytes: int | None) -> None:
        self.sources = sources
        self.schema_file = schema_file
        self.key = key
        self.workers = workers
        self.memory_limit = memory_limit
        self.on_duplicate = on_duplicate
        self.max_bad = max_bad
        self.bar = bar
        self.pool: WorkerPool = WorkerPool(1, processes=False)
        self.spill = Path()
        self.format = sources[0].format
        self.reader = reader_for(self.format)
        self.dialect = self.reader.dialect(schema_file, sources)
        self.inputs: list[PlannedInput] = []
        self.columns: list[ColumnPlan] = []
        self.skipped: tuple[str, ...] = ()  # input fields the schema file drops that the reader reads past
        self.seconds: dict[str, float] = {}
        self.work: dict[str, float] = {}
        self.passes = 0
        self.stream = StreamProgress(bar, Path(), active=False)
        self.widened: list[dict[str, Any]] = []  # what each widening pass changed, and why
        self.results: list[ChunkResult] = []
        self.bad: list[BadRecord] = []
        self.bad_count = 0
        self.rows_in = 0
        self.duplicates = 0
        self.schema: Schema | None = None
        per_worker = memory_limit // max(workers, 1)
        self.chunk_forced = chunk_bytes is not None
        self.sequential = workers == 1
        self.chunk_bytes = chunk_bytes or max(_MIN_CHUNK, min(_MAX_CHUNK, per_worker // 6))
        self.part_bytes = part_bytes or max(_MIN_PART, min(_MAX_PART, memory_limit // 16))

    # -- plan -------------------------------------------------------------------------------

    def plan(self) -> None:
        t = time.perf_counter()
        planned = self.reader.plan(self.sources, self.schema_file, self.key, self.dialect)
        self.columns, self.inputs, self.skipped = planned.columns, planned.inputs, planned.skipped
        self._count_quotes()
        self.seconds["plan"] = time.perf_counter() - t

    def _count_quotes(self) -> None:
        """The count round: quote/newline prefix counts of every splittable file cut in chunks."""
        spans: list[tuple[str, int, int, bytes]] = []
        owners: list[int] = []
        quote = self.dialect.quote if self.reader.quoted else b""
        if self.sequential:
            return  # one worker reads each file in order: every chunk starts where the last one ended
        for i, inp in enumerate(self.inputs):
            if not inp.source.splittable:
                continue
            inp.points = split_points(inp.data_start, inp.source.size, self._chunk_size())
            for a, b in count_spans(inp.points):
                spans.append((inp.source.path, a, b, quote))
                owners.append(i)
            inp.counts = []
        if spans and self.pool.started:  # the workers are up: one batch of spans each
            size = -(-len(spans) // self.workers)
            batches = [spans[i : i + size] for i in range(0, len(spans), size)]
            counts = [c for batch in self.pool.run(count_mapped_batch, batches) if batch is not None for c in batch]
        elif spans:
            # Threads of this process (the count releases the GIL) while a fork server is still
            # starting the workers.
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="rodata-count") as threads:
                counts = list(threads.map(count_span, spans))
        else:
            return
        for owner, c in zip(owners, counts, strict=True):
            assert self.inputs[owner].counts is not None
            self.inputs[owner].counts.append(c)  # type: ignore[union-attr]

    def _chunk_size(self) -> int:
        """Chunks small enough for the memory budget and for every worker to get several."""
        if self.chunk_forced:
            return self.chunk_bytes
        total = sum(s.size for s in self.sources if s.splittable)
        share = -(-total // (self.workers * 4))
        return min(self.chunk_bytes, max(share, _MIN_CHUNK))

    # -- read -------------------------------------------------------------------------------

    def _template(self) -> ChunkTask:
        """The task settings every chunk shares."""
        specs = self.reader.task_columns(InputPlan(self.columns, self.inputs, self.skipped))
        key_index = next(i for i, c in enumerate(self.columns) if c.key)
        d = self.dialect
        return ChunkTask(0, self.sources[0], 0, 0, True, False, 1, columns=specs, field_map=(),
                         null_values=d.null_values, delimiter=d.delimiter, quote=d.quote, key_index=key_index,
                         names=tuple(c.name for c in self.columns), max_bad=self.max_bad, spill_dir=str(self.spill),
                         memory_budget=max(2 * self.chunk_bytes, _MIN_CHUNK), parent_pid=os.getpid())

    def _input_tasks(self, template: ChunkTask, inp: PlannedInput, first_seq: int) -> list[ChunkTask]:
        """The chunks of one input, numbered from `first_seq`."""
        return self.reader.tasks(template, inp, first_seq, self.chunk_bytes, self.stream.path)

    def _tasks(self) -> list[ChunkTask]:
        template = self._template()
        tasks: list[ChunkTask] = []
        for inp in self.inputs:
            tasks += self._input_tasks(template, inp, len(tasks))
        return tasks

    def _read_in_order(self) -> list[ChunkResult]:
        """One worker: the chunks of a plain file one after the other, each starting where the
        previous one stopped — no quote counts needed."""
        template = self._template()
        results: list[ChunkResult] = []
        for inp in self.inputs:
            if not inp.source.splittable:
                for task in self._input_tasks(template, inp, len(results)):
                    results.append(self._run_chunk(task))
                    if results[-1].stopped:
                        return results
                continue
            start, line, size = inp.data_start, inp.first_line, inp.source.size
            while start < size:
                end = min(size, start + self._chunk_size())
                task = replace(template, seq=len(results), source=inp.source, start=start, end=end,
                               known_start=True, line=line, field_map=inp.field_map)
                result = self._run_chunk(task)
                results.append(result)
                if result.stopped:
                    return results
                if result.next_start < end:  # a chunk always reads on to the first record at or after its end
                    raise RodataError(f"{inp.source.path}: chunk at byte {start} stopped short at {result.next_start}")
                start, line = result.next_start, result.next_line
        return results

    def _run_chunk(self, task: ChunkTask) -> ChunkResult:
        result = self.pool.call(parse_chunk, task)
        self.stream.finish(task.seq, self.reader.task_bytes(task), result.rows)
        return result

    def read(self) -> None:
        """Parse every chunk into sorted runs; widen the inferred types and read again as long as
        values that do not fit turn up."""
        t = time.perf_counter()
        while True:
            self.passes += 1
            total = sum(s.size for s in self.sources)
            self.bar.start("read" if self.passes == 1 else f"read (pass {self.passes})", total, "B")
            with StreamProgress(self.bar, self.spill, active=self._streams_shown()) as self.stream:
                if self.sequential:
                    done = self._read_in_order()
                else:
                    tasks = self._tasks()
                    concurrency = max(1, self.memory_limit // (6 * self.chunk_bytes))
                    results = self.pool.run(parse_chunk, tasks, concurrency=concurrency,
                                            cutoff=lambda r: r.stopped, on_result=self._advance_read(tasks))
                    done = [r for r in results if r is not None]
            if any(r.stopped for r in done) or not any(r.needs_another_pass for r in done):
                break
            if self.passes >= _MAX_PASSES:
                raise SchemaError("column types kept widening; declare them in a schema file")
            self._widen(done)
            for path in self.spill.iterdir():
                path.unlink()
        self.results = done
        self._add_work(r.seconds for r in done)
        for r in done:
            self.rows_in += r.rows + r.bad_count
            self.bad_count += r.bad_count
            self.bad.extend(r.bad)
        self.bad.sort(key=BadRecord.sort_key)
        self.seconds["read"] = time.perf_counter() - t

    def _advance_read(self, tasks: Sequence[ChunkTask]) -> Callable[[ChunkResult], None]:
        sizes = {task.seq: self.reader.task_bytes(task) for task in tasks}
        return lambda r: self.stream.finish(r.seq, sizes[r.seq], r.rows)

    def _streams_shown(self) -> bool:
        """A bar (or callback) is shown and some input is compressed: show its progress as it is read."""
        return type(self.bar) is not Progress and any(s.compressed for s in self.sources)

    def _widen(self, results: Sequence[ChunkResult]) -> None:
        widened: dict[int, int] = {}
        dims: dict[int, int] = {}
        new_fields: dict[str, tuple[int, int, int, int]] = {}
        for r in sorted(results, key=lambda r: r.seq):
            for index, kinds in r.widened.items():
                widened[index] = widened.get(index, 0) | kinds
            for index, dim in r.dims.items():
                dims.setdefault(index, dim)
            for name, kinds, line, dim in r.new_fields:
                seen = new_fields.get(name)
                new_fields[name] = (r.seq, line, (seen[2] if seen else 0) | kinds, seen[3] if seen else dim)
        before, self.columns = self.columns, infer.widen_columns(self.columns, widened, dims)
        self.widened += widening.changes(before, self.columns, results)
        known = {c.source for c in self.columns} | set(self.skipped)
        for name, (_seq, _line, kinds, dim) in sorted(new_fields.items(), key=lambda kv: kv[1][:2]):
            if name in known:
                continue
            type_, tdim = infer.inferred_type(kinds, dim)
            self.columns.append(ColumnPlan(name, name, type_, tdim, True, None, False))

    def check_bad_records(self, rejects: str | os.PathLike[str] | None) -> None:
        """Quarantine up to max_bad records, or stop the build on the first one."""
        if rejects is not None and self.bad:
            write_rejects(rejects, self.bad)
        if self.bad_count > self.max_bad:
            first = self.bad[0]
            if self.max_bad == 0:
                raise first.error()
            raise BadInputError(f"{first.reason} (more than --max-bad-rows {self.max_bad} bad records; "
                                f"the first is here)", path=first.path, line=first.line, column=first.column)

    # -- merge ------------------------------------------------------------------------------

    def merge(self, staging: Path) -> list[PartEntry]:
        """Merge the runs into parts, one key range per part, in parallel."""
        t = time.perf_counter()
        if not any(r.rows for r in self.results):  # no values at all: an inferred column holds only nulls
            self.columns = [replace(c, type="string", dim=1) if c.inferred else c for c in self.columns]
        nulls = [any(r.nulls[i] for r in self.results) for i in range(len(self.columns))]
        self.schema = schema = infer.to_schema(self.columns, nulls)
        refs = tuple(RunRef(run.path, run.file_index)
                     for r in sorted(self.results, key=lambda r: r.seq) for run in r.runs)
        data_bytes = sum(run.data_bytes for r in self.results for run in r.runs)
        string_keys = schema.key_column.type == "string"
        parts = part_count(data_bytes, self.part_bytes)
        bounds = choose_boundaries([r.sample for r in self.results], parts, string_keys)
        edges = [None, *bounds, None]
        paths = tuple(s.path for s in self.sources)
        tasks = [PartTask(j, edges[j], edges[j + 1], refs, schema, self.on_duplicate,
                          str(staging / f"part-{j:05d}.seg"), paths) for j in range(len(edges) - 1)]
        self.bar.start("write", len(tasks), "part")
        # Two parts in memory per worker (one merged while the previous one is written).
        concurrency = max(1, min(self.workers, self.memory_limit // (8 * self.part_bytes), len(tasks)))
        claims = self.spill / "claims"
        claims.mkdir()
        written = [0]

        def advance() -> None:  # the parts on disk so far: workers report only when they are done
            count = sum(1 for _ in staging.glob("part-*.seg"))
            self.bar.advance(count - written[0])
            written[0] = count

        done = self.pool.run(merge_parts_claimed, [(tasks, str(claims))] * concurrency, concurrency=concurrency,
                             poll=advance)
        finished = [d for d in done if d is not None]
        failures = [d.failure for d in finished if d.failure is not None]
        if failures:
            raise min(failures, key=lambda f: f[0])[1]
        results = [r for d in finished for r in d.results]
        self.bar.advance(len(tasks) - written[0])
        infos = self._number_parts(staging, results)
        if not infos:
            infos = [empty_part(staging, schema)]
        self.duplicates = sum(r.duplicates for r in results)
        self._add_work(r.seconds for r in results)
        self.seconds["merge"] = time.perf_counter() - t
        return infos

    @staticmethod
    def _number_parts(staging: Path, results: Sequence[PartResult]) -> list[PartEntry]:
        """Name the non-empty parts part-00000, part-00001, ... in key order."""
        infos: list[PartEntry] = []
        for result in sorted(results, key=lambda r: r.index):
            if result.info is None:
                continue
            name = f"part-{len(infos):05d}.seg"
            if name != result.info.file:
                os.rename(staging / result.info.file, staging / name)
            infos.append(replace(result.info, file=name))
        return infos

    def _add_work(self, timings: Iterable[dict[str, float]]) -> None:
        """Add the workers' time per step (summed over tasks: CPU-ish seconds, not wall)."""
        for doc in timings:
            for step, seconds in doc.items():
                self.work[step] = self.work.get(step, 0.0) + seconds

    # -- report -----------------------------------------------------------------------------

    def manifest_build(self) -> dict[str, Any]:
        return {
            "source": "rodata.build",
            "inputs": [{"path": s.path, "format": s.format, "bytes": s.size, "gzip": s.compressed}
                       for s in self.sources],
            "workers": self.workers,
            "passes": self.passes,
            "rows_in": self.rows_in,
            "bad_rows": self.bad_count,
            "duplicates": self.duplicates,
            "on_duplicate": self.on_duplicate,
            "inferred": {c.name: c.type_name for c in self.columns if c.inferred},
            "declared": {c.name: c.type_name for c in self.columns if not c.inferred},
            "renamed": {c.source: c.name for c in self.columns if c.source != c.name},
            "phases": {k: round(v, 3) for k, v in self.seconds.items()},
            "work": {k: round(v, 3) for k, v in self.work.items()},
        }

    def report(self, dataset: str, version: str, path: str, infos: Sequence[PartEntry],
               rejects: str | os.PathLike[str] | None) -> BuildReport:
        assert self.schema is not None
        schema = []
        for plan, col in zip(self.columns, self.schema.columns, strict=True):
            doc = col.to_json()
            doc["inferred"] = plan.inferred
            if plan.key:
                doc["key"] = True
            if plan.source != plan.name:
                doc["source"] = plan.source
            schema.append(doc)
        return BuildReport(
            dataset=dataset, version=version, path=path, rows_in=self.rows_in,
            rows_out=sum(i.rows for i in infos), bad_rows=self.bad_count, duplicates=self.duplicates,
            bytes_in=sum(s.size for s in self.sources), bytes_out=sum(i.bytes for i in infos), parts=len(infos),
            workers=self.workers, passes=self.passes, seconds=dict(self.seconds), work=dict(self.work),
            schema=schema,
            rejects=os.fspath(rejects) if rejects is not None and self.bad_count else None,
            inputs=[s.path for s in self.sources], widened=list(self.widened),
        )
