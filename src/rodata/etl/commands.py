"""The ``rodata build`` command (docs/cli.md, docs/etl.md)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

import orjson

from rodata._exit import EXIT_OK, EXIT_USAGE
from rodata._help import add_command, add_data_root
from rodata.etl.cliargs import STDIN, parse_delimiter, parse_size
from rodata.etl.sources import FORMATS

if TYPE_CHECKING:
    from rodata.etl.arguments import BuildArguments

__all__ = ["parse_delimiter", "parse_size", "register"]


def register(subparsers: Any) -> None:
    """Add ``build`` to the ``rodata`` command."""
    p = add_command(
        subparsers, "build", "build input files into a new version of a dataset",
        "Turn CSV, JSON Lines or Parquet files (optionally .gz) into a new, verified version of a dataset and "
        "make it live.  Column types are inferred from the data unless a schema file (--schema, see "
        "`rodata infer`) says them.  A new version whose schema or row count differs much from the live "
        "one's is refused unless --allow-schema-change / --allow-shrink.  Exit codes: 0 ok, 1 runtime "
        "failure, 2 usage error, 3 bad input data.",
        ["rodata build flights.csv --dataset flights --key id --data-root /srv/rodata",
         "rodata build logs/*.jsonl.gz --dataset events --key event_id   # with RODATA_DATA_ROOT set",
         "zcat users.csv.gz | rodata build - --dataset users --key user_id --data-root data",
         "rodata build export.csv --delimiter ';' --dataset prices --key sku --data-root data",
         "rodata infer prices.csv > prices.toml   # edit, then: rodata build prices.csv --schema prices.toml ..."])
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="an input file: .csv/.tsv, .jsonl/.ndjson/.json or .parquet, optionally .gz (several "
                        "files are built into one version; - reads standard input, CSV or JSON Lines)")
    p.add_argument("--dataset", required=True, metavar="NAME", help="dataset name")
    p.add_argument("--key", required=True, metavar="COLUMN", help="the key column (int64 or string, unique)")
    add_data_root(p)
    p.add_argument("--format", choices=FORMATS,
                   help="input format (default: from the file names; for - from the content)")
    p.add_argument("--schema", metavar="FILE", help="JSON or TOML file: column types, nullable, rename, drop")
    p.add_argument("--delimiter", metavar="C", type=parse_delimiter,
                   help="CSV field separator, one character (\\t for tab; default: , or tab for .tsv)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (default: the CPUs this process may use, cgroup quota included)")
    p.add_argument("--on-duplicate", choices=("error", "first", "last"), default="error",
                   help="two rows with one key: fail, keep the first or the last")
    p.add_argument("--max-bad-rows", type=int, default=0, metavar="N",
                   help="quarantine up to N malformed records in --rejects instead of failing")
    p.add_argument("--rejects", metavar="FILE", help="JSON Lines file receiving the quarantined records")
    p.add_argument("--keep-versions", type=int, default=3, metavar="N", help="versions kept for rollback")
    p.add_argument("--memory-limit", type=parse_size, metavar="SIZE",
                   help="working memory budget, e.g. 2G or 512M (default: half of the memory available)")
    p.add_argument("--spill-dir", metavar="DIR", default=os.environ.get("RODATA_SPILL_DIR") or None,
                   help="an existing directory on a local disk (a pod's emptyDir) for the sorted runs the "
                        "workers spill, instead of the dataset's staging directory on the data root "
                        "(default: $RODATA_SPILL_DIR)")
    p.add_argument("--chunk-size", type=parse_size, metavar="SIZE",
                   help="tuning: bytes of input per worker task (default: from the memory budget)")
    p.add_argument("--allow-schema-change", action="store_true",
                   help="publish even when the schema differs from the live version's (a column added or "
                        "dropped, a type or the key changed); without it such a build is refused, exit 3")
    p.add_argument("--allow-shrink", action="store_true",
                   help="publish even when the new version has fewer than half the live version's rows; "
                        "without it such a build is refused, exit 3")
    p.add_argument("--dry-run", action="store_true",
                   help="do everything but publish (read, validate, merge, run the publish guard against the live "
                        "version), report what would be published, and leave the disk as it was; exit status as "
                        "a real build's")
    p.add_argument("--json", action="store_true", help="print the build report as JSON on stdout")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    p.set_defaults(func=run_build)
    from rodata.etl import inferschema

    inferschema.register(subparsers)


def _usage(message: str) -> int:
    print(f"rodata build: error: {message}", file=sys.stderr)
    return EXIT_USAGE


@contextmanager
def _interrupts_stop_the_build() -> Iterator[None]:
    """SIGTERM stops a build the way Ctrl-C does: cleanly, publishing nothing — until the build
    has begun to publish.  From then on the build ends with its version live, so an interrupt
    is held (rodata.etl.interrupts) and the build reports success, as it is."""
    from rodata.etl import interrupts

    def handler(signum: int, frame: FrameType | None) -> None:
        if interrupts.publishing():
            interrupts.note(signum)
            return
        raise KeyboardInterrupt

    try:
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_build(args: argparse.Namespace) -> int:
    """``rodata build``."""
    from rodata.etl.arguments import BuildArgumentError, check_build_arguments

    try:
        checked = check_build_arguments(
            args.inputs, dataset=args.dataset, key=args.key, data_root=args.data_root, schema=args.schema,
            delimiter=args.delimiter, cli=True, workers=args.workers, format=args.format,
            on_duplicate=args.on_duplicate, max_bad_rows=args.max_bad_rows, rejects=args.rejects,
            keep_versions=args.keep_versions, memory_limit=args.memory_limit, chunk_bytes=args.chunk_size,
            allow_schema_change=args.allow_schema_change, allow_shrink=args.allow_shrink, dry_run=args.dry_run,
            spill_dir=args.spill_dir)
    except BuildArgumentError as exc:
        return _usage(str(exc))
    if not checked.reads_stdin:
        return _build(args, checked)
    from contextlib import nullcontext

    from rodata.etl.guards import no_new_directories
    from rodata.etl.stdin import spooled_stdin

    with no_new_directories(checked.data_root, args.dataset) if args.dry_run else nullcontext(), \
            spooled_stdin(checked.data_root, args.dataset, args.format, exclusive=not args.dry_run) as spooled, \
            spooled.named_as_stdin():
        return _build(args, checked.with_stdin(spooled.path), spooled.path)


def _build(args: argparse.Namespace, checked: BuildArguments, stdin_path: str | None = None) -> int:
    from rodata.etl import interrupts
    from rodata.etl.build import build_checked

    with _interrupts_stop_the_build():
        report = build_checked(checked, args.progress)
        report.inputs = [STDIN if p == stdin_path else p for p in report.inputs]
        for change in report.widened:
            if change["file"] == stdin_path:
                change["file"] = "<stdin>"
        if args.json:
            sys.stdout.write(orjson.dumps(report.to_json()).decode() + "\n")
        else:
            from rodata.etl.widening import message

            for change in report.widened:
                print(f"rodata build: {message(change)}", file=sys.stderr)
            print(report.schema_line())
            print(report.summary())
        for name in interrupts.held_signals():
            print(f"rodata build: {name} arrived while the new version was being published; the build completed "
                  f"and {report.version} is live", file=sys.stderr)
    return EXIT_OK
