"""``rodata infer``: the schema a build would infer, printed as a schema file to edit and pass
back with ``--schema``.

It runs a build's plan and its whole read (so a value late in the input widens a type here as it
would in the build) in a temporary directory, and stops before the merge: nothing is published."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rodata._exit import EXIT_USAGE
from rodata._help import add_command
from rodata.etl import guards
from rodata.etl.cliargs import STDIN, parse_delimiter
from rodata.etl.infer import ColumnPlan
from rodata.etl.sources import FORMATS

__all__ = ["InferredColumn", "infer_schema", "register", "schema_file_text"]


@dataclass(frozen=True)
class InferredColumn:
    """One input column as the build would store it."""

    source: str  # as named in the input (the schema file's key)
    type: str  # "int64", "vector[8]", ...
    nulls: bool  # the data holds a null
    inferred: bool  # from the data (else from the schema file or the Parquet file)
    key: bool


def infer_schema(inputs: Sequence[str | os.PathLike[str]], *, key: str | None = None, format: str | None = None,
                 delimiter: str | None = None, schema: str | os.PathLike[str] | None = None,
                 workers: int | None = None) -> list[InferredColumn]:
    """The columns a build of `inputs` would store (key: `key`, else the first column)."""
    from rodata.etl.build import _Build
    from rodata.etl.pool import WorkerPool
    from rodata.etl.progress import make_progress
    from rodata.etl.resources import available_cpus, default_memory_limit
    from rodata.etl.sources import detect_sources

    sources = detect_sources([os.fspath(p) for p in inputs], format)
    schema_file = guards.schema_file(schema, delimiter)
    n_workers = workers or available_cpus()
    processes = sum(s.size for s in sources) >= 4 << 20
    if not processes:
        n_workers = 1
    job = _Build(sources, schema_file, key or _first_column(sources, schema_file), n_workers,
                 default_memory_limit(), "first", 0, make_progress(False), None, None)
    with tempfile.TemporaryDirectory(prefix="rodata-infer-") as tmp, \
            WorkerPool(n_workers, processes=processes) as pool:
        pool.start()
        job.pool = pool
        job.spill = Path(tmp)
        job.plan()
        job.read()
        job.check_bad_records(None)
    columns: list[ColumnPlan] = job.columns
    if not any(r.rows for r in job.results):  # as the build: a column of nothing but nulls is a string
        columns = [replace(c, type="string", dim=1) if c.inferred else c for c in columns]
    nulls = [any(r.nulls[i] for r in job.results) for i in range(len(columns))]
    return [InferredColumn(c.source, c.type_name, n, c.inferred, c.key) for c, n in zip(columns, nulls, strict=True)]


def _first_column(sources: Sequence[Any], schema_file: Any) -> str:
    from rodata.etl.formats import reader_for

    first = sources[0]
    return reader_for(first.format).first_field(first, schema_file)


def schema_file_text(columns: Sequence[InferredColumn], *, inputs: Sequence[str], delimiter: str | None = None,
                     ) -> str:
    """A TOML schema file (the format ``--schema`` reads) declaring each column's type."""
    lines = [f"# the schema rodata build infers from {', '.join(inputs)}",
             "# edit the types (or add nullable, rename, drop), then: rodata build ... --schema THIS_FILE"]
    if delimiter is not None:
        lines.append(f"delimiter = {json.dumps(delimiter)}")
    lines.append("[columns]")
    for col in columns:
        notes = [n for n, on in (("key", col.key), ("holds nulls", col.nulls), ("declared", not col.inferred)) if on]
        comment = f"  # {', '.join(notes)}" if notes else ""
        lines.append(f"{json.dumps(col.source)} = {json.dumps(col.type)}{comment}")
    return "\n".join(lines) + "\n"


def register(subparsers: Any) -> None:
    """Add ``infer`` to the ``rodata`` command (called by rodata.etl.commands)."""
    p = add_command(
        subparsers, "infer", "print the schema a build would infer, as a schema file to edit",
        "Read the inputs as `rodata build` would (every row: a value late in the input widens a type here "
        "as in the build) and print the column types it would store as a TOML schema file, the format "
        "--schema reads.  Edit it and pass it back to pin the types.  Nothing is written.",
        ["rodata infer prices.csv > prices.toml",
         "rodata build prices.csv --schema prices.toml --dataset prices --key sku --data-root data",
         "rodata infer export.csv --delimiter ';' --key sku"])
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="input files, as for rodata build (- reads standard input)")
    p.add_argument("--key", metavar="COLUMN", help="the key column the build will use (default: the first column)")
    p.add_argument("--format", choices=FORMATS, help="input format (default: from the names)")
    p.add_argument("--delimiter", metavar="C", type=parse_delimiter,
                   help="CSV field separator, one character (\\t for tab; default: , or tab for .tsv)")
    p.add_argument("--schema", metavar="FILE", help="a schema file to start from (its declared types are kept)")
    p.add_argument("--workers", type=int, metavar="N", help="worker processes (default: the CPUs this process may use)")
    p.set_defaults(func=run_infer)


def run_infer(args: argparse.Namespace) -> int:
    """``rodata infer``."""
    for path in args.inputs:
        if path != STDIN and not os.path.isfile(path):
            print(f"rodata infer: error: no such input file: {path}", file=sys.stderr)
            return EXIT_USAGE
    if STDIN not in args.inputs:
        return _infer(args, args.inputs)
    from rodata.etl.stdin import spooled_stdin

    with tempfile.TemporaryDirectory(prefix="rodata-infer-") as tmp, \
            spooled_stdin(tmp, "stdin", args.format) as spooled, spooled.named_as_stdin():
        return _infer(args, [spooled.path if p == STDIN else p for p in args.inputs], spooled.path)


def _infer(args: argparse.Namespace, inputs: list[str], stdin_path: str | None = None) -> int:
    columns = infer_schema(inputs, key=args.key, format=args.format, delimiter=args.delimiter, schema=args.schema,
                           workers=args.workers)
    shown = ["-" if p == stdin_path else p for p in inputs]
    sys.stdout.write(schema_file_text(columns, inputs=shown, delimiter=args.delimiter))
    return 0
