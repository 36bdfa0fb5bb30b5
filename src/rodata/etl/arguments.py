"""The arguments of a build, checked once, before any work, for ``rodata build`` and
``rodata.build`` alike: a problem is a :class:`BuildArgumentError` (a :class:`rodata.UsageError`,
exit status 2 on the command line), and the inputs are described (rodata.etl.sources) once."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rodata.errors import SchemaError, UsageError
from rodata.etl.cliargs import STDIN
from rodata.etl.guards import schema_file
from rodata.etl.schemafile import SchemaFile
from rodata.etl.sources import Source, detect_sources
from rodata.store import check_dataset_name

__all__ = ["BuildArgumentError", "BuildArguments", "check_build_arguments"]

_DUPLICATE_POLICIES = ("error", "first", "last")


class BuildArgumentError(UsageError, ValueError):
    """Arguments no build can run with (a ValueError too, as before there was one check)."""


class MissingInputError(BuildArgumentError, FileNotFoundError):
    """An input file that is not there."""


class InputIsDirectoryError(BuildArgumentError, IsADirectoryError):
    """An input that is a directory."""


@dataclass(frozen=True)
class BuildArguments:
    """A build's arguments once checked: the inputs described, the schema file read."""

    inputs: tuple[str, ...]  # as given (``-``: standard input, on the command line)
    sources: tuple[Source, ...]  # the inputs described; standard input only once spooled (with_stdin)
    dataset: str
    key: str
    data_root: str
    schema: SchemaFile
    format: str | None = None
    workers: int | None = None
    on_duplicate: str = "error"
    max_bad_rows: int = 0
    rejects: str | os.PathLike[str] | None = None
    keep_versions: int = 3
    memory_limit: int | None = None
    chunk_bytes: int | None = None
    part_bytes: int | None = None
    allow_schema_change: bool = False
    allow_shrink: bool = False
    dry_run: bool = False
    spill_dir: str | None = None  # where the sorted runs go (None: the staging directory)

    @property
    def reads_stdin(self) -> bool:
        """Standard input is an input that still has to be spooled to a file."""
        return len(self.sources) < len(self.inputs)

    def with_stdin(self, path: str) -> BuildArguments:
        """These arguments with `path` (standard input spooled to a file) in place of ``-``."""
        spooled = detect_sources([path], self.format)[0]
        files = iter(self.sources)
        sources = [replace(spooled if p == STDIN else next(files), index=i) for i, p in enumerate(self.inputs)]
        _one_format(sources)
        return replace(self, inputs=tuple(path if p == STDIN else p for p in self.inputs), sources=tuple(sources))


def check_build_arguments(inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, dataset: str,
                          key: str, data_root: str | os.PathLike[str] | None,
                          schema: str | os.PathLike[str] | Mapping[str, Any] | None = None,
                          delimiter: str | None = None, cli: bool = False, **options: Any) -> BuildArguments:
    """Check a build's arguments (`options`: the other fields of :class:`BuildArguments`) and
    describe its inputs.  `cli`: messages name the command's flags, and ``-`` is standard input.

    Raises :class:`BuildArgumentError`; a schema file that cannot be used, or inputs of several
    formats, :class:`rodata.SchemaError` (bad input: exit status 3)."""
    paths = [os.fspath(inputs)] if isinstance(inputs, (str, os.PathLike)) else [os.fspath(p) for p in inputs]
    problem = _problem(paths, dataset, data_root, schema, delimiter, cli, options)
    if problem:
        raise problem
    assert data_root is not None
    try:
        sources = detect_sources([p for p in paths if not (cli and p == STDIN)], options.get("format"))
    except ValueError as exc:
        raise BuildArgumentError(str(exc)) from None
    if not (cli and STDIN in paths):
        _one_format(sources)
    if options.get("spill_dir") is not None:
        options = dict(options, spill_dir=os.fspath(options["spill_dir"]))
    return BuildArguments(tuple(paths), tuple(sources), dataset, key, os.fspath(data_root),
                          schema_file(schema, delimiter), **options)


def _problem(paths: Sequence[str], dataset: str, data_root: Any, schema: Any, delimiter: str | None, cli: bool,
             options: Mapping[str, Any]) -> BuildArgumentError | None:
    """The first problem with the arguments (in the order the command lists its flags), if any."""
    def name(param: str, flag: str) -> str:
        return flag if cli else param

    if not data_root:
        return BuildArgumentError(f"{name('data_root', '--data-root DIR')} is required"
                                  + (" (or set RODATA_DATA_ROOT)" if cli else ""))
    if not paths:
        return BuildArgumentError("no input files")
    stdin = cli and STDIN in paths
    if stdin and paths.count(STDIN) > 1:
        return BuildArgumentError("- (standard input) can be given only once")
    if stdin and options.get("format") == "parquet":
        return BuildArgumentError("- (standard input) reads CSV or JSON Lines, not Parquet: save the file and give "
                                  "its name")
    for path in paths:
        if cli and path == STDIN:
            continue
        if not os.path.exists(path):
            return MissingInputError(f"no such input file: {path}")
        if os.path.isdir(path):
            return InputIsDirectoryError(f"{path} is a directory, not an input file")
    workers, max_bad, rejects = options.get("workers"), options.get("max_bad_rows", 0), options.get("rejects")
    if workers is not None and workers < 1:
        return BuildArgumentError(f"{name('workers', '--workers')} must be at least 1")
    if max_bad < 0:
        return BuildArgumentError(f"{name('max_bad_rows', '--max-bad-rows')} must not be negative")
    if max_bad > 0 and not rejects:
        return BuildArgumentError("--max-bad-rows needs --rejects FILE: quarantined records are kept there, never "
                                  "dropped" if cli else "max_bad_rows > 0 needs a rejects file: skipped records are "
                                  "kept there, never lost")
    if options.get("keep_versions", 3) < 1:
        return BuildArgumentError(f"{name('keep_versions', '--keep-versions')} must be at least 1")
    chunk, memory = options.get("chunk_bytes"), options.get("memory_limit")
    if chunk is not None and chunk < 1:
        return BuildArgumentError(f"{name('chunk_bytes', '--chunk-size')} must be positive")
    if memory is not None and memory < 1 << 20:
        return BuildArgumentError("--memory-limit must be at least 1M" if cli
                                  else "memory_limit must be at least 1 MiB")
    spill = options.get("spill_dir")
    if spill is not None and not os.path.isdir(spill):
        return BuildArgumentError(f"{name('spill_dir', '--spill-dir')} {os.fspath(spill)}: no such directory")
    if isinstance(schema, (str, os.PathLike)) and (not os.path.exists(schema) or os.path.isdir(schema)):
        return BuildArgumentError(f"no such schema file: {os.fspath(schema)}")  # (a pipe will do)
    try:
        check_dataset_name(dataset)
    except (UsageError, ValueError) as exc:
        return BuildArgumentError(str(exc))
    policy = options.get("on_duplicate", "error")
    if policy not in _DUPLICATE_POLICIES:
        return BuildArgumentError(f"on_duplicate must be 'error', 'first' or 'last', not {policy!r}")
    if delimiter is not None and (len(delimiter.encode("utf-8")) != 1 or delimiter in ('"', "\n", "\r")):
        return BuildArgumentError(f"delimiter must be one ASCII character, not {delimiter!r}")
    return None


def _one_format(sources: Sequence[Source]) -> None:
    formats = {s.format for s in sources}
    if len(formats) > 1:
        raise SchemaError(f"inputs mix formats ({', '.join(sorted(formats))}); build them separately")
