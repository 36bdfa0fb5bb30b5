"""Small steps of a build (rodata.etl.build): the quote counts of a span, an empty part, the
report of a dry run, the directory the sorted runs spill into."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from rodata._columns import ColumnData
from rodata._process import clean_locked_dirs, locked_dir
from rodata._segment import write_segment
from rodata.etl import guards
from rodata.etl.report import BuildReport
from rodata.etl.workers import count_range
from rodata.manifest import PartEntry
from rodata.schema import Schema


class _Job(Protocol):
    """What a dry run reads of the build (rodata.etl.build._Build), which imports this module."""

    schema: Schema | None
    seconds: dict[str, float]

    def report(self, dataset: str, version: str, path: str, infos: Sequence[PartEntry],
               rejects: str | os.PathLike[str] | None) -> BuildReport: ...

__all__ = ["SPILL_PREFIX", "count_span", "dry_run_report", "empty_part", "spill_area"]

#: A build's private directory under ``--spill-dir`` is ``rodata-spill-<pid>-<random>``.
SPILL_PREFIX = "rodata-spill-"


def dry_run_report(job: _Job, dataset: str, data_root: str | os.PathLike[str], infos: Sequence[PartEntry],
                   rejects: str | os.PathLike[str] | None, allow_schema_change: bool, allow_shrink: bool,
                   t0: float) -> BuildReport:
    """What a build would publish, once the publish guard has said it would let it through."""
    assert job.schema is not None
    guards.dry_run_guard(data_root, dataset, job.schema, sum(i.rows for i in infos), sum(i.bytes for i in infos),
                         allow_schema_change=allow_schema_change, allow_shrink=allow_shrink)
    job.seconds["total"] = time.perf_counter() - t0
    report = job.report(dataset, "", "", infos, rejects)
    report.dry_run = True
    return report


def count_span(span: tuple[str, int, int, bytes]) -> tuple[int, int]:
    """Quote and newline counts of one (path, start, end, quote) span."""
    return count_range(*span)


def empty_part(staging: Path, schema: Schema) -> PartEntry:
    """A version with no rows still has one (empty) part."""
    return write_segment(staging / "part-00000.seg", schema, [ColumnData.empty(col) for col in schema.columns])


@contextmanager
def spill_area(staging: Path, spill_dir: str | None) -> Iterator[Path]:
    """The directory a build's workers spill their sorted runs into: ``spill/`` in the staging
    directory (on the data root's filesystem), or, with `spill_dir` (``--spill-dir``, a local disk
    such as a pod's emptyDir), a private directory there, owned by a lock held while the build runs;
    those of builds that are gone are removed first.  Removed on leaving."""
    if spill_dir is None:
        path = staging / "spill"
        path.mkdir()
        yield path  # removed with the staging directory
        return
    clean_locked_dirs(spill_dir, SPILL_PREFIX)
    with locked_dir(spill_dir, SPILL_PREFIX) as path:
        yield path
