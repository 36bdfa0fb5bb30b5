"""``rodata.validate``: deep validation of a dataset, a version or a segment file.

Checksums (what :func:`rodata.open` checks) plus every structural invariant that
docs/FORMAT.md states, over every byte ("Deep validation" there).  Every writer runs
it on what it wrote before publishing, and the server on every version before
serving it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from rodata.dataset import open as open_dataset

__all__ = ["ValidationReport", "validate"]


@dataclass(frozen=True)
class ValidationReport:
    """What a deep validation checked: the version, its parts, rows and bytes, and how long it took."""

    path: str
    version: str | None
    parts: int
    rows: int
    bytes: int
    seconds: float


def validate(path: str | os.PathLike[str]) -> ValidationReport:
    """Deep-validate `path` (a dataset directory's live version, a version directory or a
    ``.seg`` file); raise :class:`rodata.FormatError` naming the file, section and byte offset
    of the first fault, else return what was checked."""
    started = time.perf_counter()
    with open_dataset(path, verify=True) as ds:
        ds.validate()
        parts = 1 if ds.manifest is None else len(ds.manifest.parts)  # a .seg file is one part
        return ValidationReport(str(path), ds.version, parts, len(ds), ds.nbytes,
                                round(time.perf_counter() - started, 6))
