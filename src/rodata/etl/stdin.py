"""``-`` as an input of ``rodata build``: standard input, spooled to a file first.

The build reads its inputs in byte ranges on every core and, for a type that had to widen,
more than once; a pipe can be read only once, front to back.  So standard input is copied
into a file in a staging directory of the dataset (removed when the build ends, or by the
next build after a crash) and built from there like any other file."""

from __future__ import annotations

import gzip
import os
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from rodata.errors import RodataError
from rodata.store import staging_dir

__all__ = ["STDIN_NAME", "Spooled", "sniff_format", "spooled_stdin"]

#: How standard input is named in messages.
STDIN_NAME = "<stdin>"
_BLOCK = 1 << 20
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Spooled:
    """Standard input, copied to `path`."""

    path: str

    @contextmanager
    def named_as_stdin(self) -> Iterator[None]:
        """Errors that name the spooled file name standard input instead."""
        try:
            yield
        except RodataError as exc:
            exc.args = tuple(a.replace(self.path, STDIN_NAME) if isinstance(a, str) else a for a in exc.args)
            if getattr(exc, "path", None) == self.path:
                exc.path = STDIN_NAME  # type: ignore[attr-defined]
            raise


def sniff_format(head: bytes) -> str:
    """``jsonl`` when the first thing in `head` (decompressed bytes) is a JSON object, else ``csv``."""
    text = head[len(_BOM):] if head.startswith(_BOM) else head
    return "jsonl" if text.lstrip()[:1] == b"{" else "csv"


@contextmanager
def spooled_stdin(data_root: str | os.PathLike[str], dataset: str, format: str | None,
                  stream: BinaryIO | None = None, *, exclusive: bool = True) -> Iterator[Spooled]:
    """Copy standard input (or `stream`) into the dataset's staging area as ``stdin.csv`` or
    ``stdin.jsonl`` (`format`, or told from the content); removed on leaving.  With `exclusive`
    the dataset's build lock is held meanwhile (rodata.store.staging_dir)."""
    src = stream if stream is not None else sys.stdin.buffer
    with staging_dir(data_root, dataset, exclusive=exclusive) as staging:
        raw = staging / "stdin"
        with open(raw, "wb") as out:
            while block := src.read(_BLOCK):
                out.write(block)
        fmt = format or sniff_format(_head(str(raw)))
        path = staging / f"stdin.{fmt}"
        os.replace(raw, path)
        yield Spooled(str(path))


def _head(path: str, nbytes: int = 65536) -> bytes:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic != b"\x1f\x8b":
        with open(path, "rb") as fh:
            return fh.read(nbytes)
    try:
        with gzip.open(path, "rb") as gz:
            return gz.read(nbytes)
    except (OSError, EOFError, zlib.error):
        return b""  # the build reports the corrupt gzip data, naming standard input
