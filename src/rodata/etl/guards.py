"""What a build checks before it publishes (that it has rows to publish: nothing replaces a
dataset's rows with none by accident), the publish guard of a dry run, and the schema argument
as a schema file.  The arguments themselves are checked by rodata.etl.arguments."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import Any

from rodata.errors import BadInputError, RodataError, UsageError
from rodata.etl.schemafile import SchemaFile, load_schema, schema_from_mapping
from rodata.store import current_version, dataset_path, guard, load_version

__all__ = ["check_rows", "dry_run_guard", "no_new_directories", "schema_file"]


def schema_file(schema: str | os.PathLike[str] | Mapping[str, Any] | None,
                delimiter: str | None = None) -> SchemaFile:
    """The schema argument of a build as a :class:`SchemaFile` (`delimiter`, when given, replaces
    the file's)."""
    if schema is None:
        parsed = SchemaFile()
    elif isinstance(schema, Mapping):
        parsed = schema_from_mapping(schema)
    else:
        parsed = load_schema(schema)
    if delimiter is None:
        return parsed
    if len(delimiter.encode("utf-8")) != 1 or delimiter in ('"', "\n", "\r"):
        raise UsageError(f"delimiter must be one ASCII character, not {delimiter!r}")
    return replace(parsed, delimiter=delimiter)


def check_rows(rows: int, bad: int, inputs: Sequence[str], data_root: str | os.PathLike[str], dataset: str,
               rejects: str | os.PathLike[str] | None, *, allow_shrink: bool = False) -> None:
    """Refuse a build that has no rows to publish when that cannot be what was meant: every
    record was rejected, or the input holds no records while the live version has rows (unless
    `allow_shrink`).  (An input with no records over no live rows publishes an empty version.)
    Checked before the merge, so such a build fails early; the publish guard checks again."""
    if rows:
        return
    where = inputs[0] if len(inputs) == 1 else f"{inputs[0]} (and {len(inputs) - 1} more)"
    if bad:
        records = "the record was" if bad == 1 else f"all {bad:,} records were"
        see = f" (see {os.fspath(rejects)})" if rejects is not None else ""
        raise BadInputError(f"no rows to publish: {records} rejected{see}", path=where)
    if allow_shrink:
        return
    directory = dataset_path(data_root, dataset)
    try:
        live = current_version(directory) if directory.is_dir() else None
        live_rows = load_version(directory, live).rows if live is not None else 0
    except RodataError:
        return  # a live version that cannot be read is no reason to keep it
    if live_rows:
        raise BadInputError(f"no rows to publish: the input holds no records, and the live version {live} "
                            f"has {live_rows:,} rows (pass --allow-shrink if this is meant)", path=where)


def dry_run_guard(data_root: str | os.PathLike[str], dataset: str, schema: Any, rows: int, nbytes: int, *,
                  allow_schema_change: bool, allow_shrink: bool) -> None:
    """The publish guard a real build would meet, against the live version, without publishing
    (:class:`rodata.PublishGuardError` when it would refuse)."""
    from rodata.manifest import Manifest

    new = Manifest(dataset, "dry-run", "", (0, 0), schema, rows, nbytes, ())
    guard(dataset_path(data_root, dataset), new, allow_schema_change=allow_schema_change, allow_shrink=allow_shrink)


@contextmanager
def no_new_directories(data_root: str | os.PathLike[str], dataset: str) -> Iterator[None]:
    """Remove, on leaving, the data root and dataset directories that did not exist on entering
    (and are empty again): a dry run leaves the disk as it found it."""
    dirs = [os.fspath(data_root), os.fspath(dataset_path(data_root, dataset))]
    missing = [d for d in dirs if not os.path.isdir(d)]
    try:
        yield
    finally:
        for d in reversed(missing):
            with suppress(OSError):  # not empty (someone else wrote there) or already gone: leave it
                os.rmdir(d)
