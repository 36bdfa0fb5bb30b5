"""Input files: their format (from the name, or ``--format``), gzip, and reading their bytes."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from rodata.errors import BadInputError, UsageError

__all__ = ["FORMATS", "Source", "detect_sources", "open_bytes", "read_head"]

FORMATS = ("csv", "jsonl", "parquet")
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
}
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Source:
    """One input file."""

    index: int
    path: str
    format: str
    compressed: bool  # gzip: read as a stream, not split into byte ranges
    size: int  # bytes on disk
    tab_separated: bool = False  # a .tsv file

    @property
    def splittable(self) -> bool:
        """True when workers can read byte ranges of it directly."""
        return not self.compressed and self.format != "parquet"


def detect_sources(paths: Sequence[str | os.PathLike[str]], format: str | None = None) -> list[Source]:
    """Describe the inputs: format from `format` or the file name, gzip from the name or magic bytes.

    Raises FileNotFoundError for a missing input and ValueError when a format cannot be told."""
    if format is not None and format not in FORMATS:
        raise UsageError(f"unknown format {format!r}: expected one of {', '.join(FORMATS)}")
    sources = []
    for index, raw in enumerate(paths):
        path = os.fspath(raw)
        st = os.stat(path)  # FileNotFoundError names the path
        if not os.path.isfile(path):
            raise IsADirectoryError(f"{path}: not a file")
        name = path.lower()
        compressed = name.endswith(".gz") or _has_gzip_magic(path)
        if name.endswith(".gz"):
            name = name[:-3]
        ext = os.path.splitext(name)[1]
        fmt = format or _EXTENSIONS.get(ext)
        if fmt is None:
            raise UsageError(f"{path}: cannot tell the format from the name; give --format csv|jsonl|parquet")
        if fmt == "parquet" and compressed:
            raise UsageError(f"{path}: a gzip-compressed Parquet file is not supported (Parquet compresses itself)")
        sources.append(Source(index, path, fmt, compressed, st.st_size, tab_separated=ext == ".tsv"))
    return sources


def _has_gzip_magic(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == _GZIP_MAGIC
    except OSError:
        return False


def open_bytes(source: Source) -> BinaryIO:
    """A binary stream of the file's (decompressed) bytes."""
    if source.compressed:
        return gzip.open(source.path, "rb")  # type: ignore[return-value]
    return open(source.path, "rb")


def read_head(source: Source, nbytes: int) -> tuple[bytes, bool]:
    """Up to `nbytes` first (decompressed) bytes and whether that is the whole file."""
    try:
        with open_bytes(source) as fh:
            data = fh.read(nbytes)
            whole = len(data) < nbytes or not fh.read(1)
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, (gzip.BadGzipFile, EOFError, zlib.error)):
            raise BadInputError(f"corrupt gzip data: {exc}", path=source.path) from None
        raise
    return data, whole
