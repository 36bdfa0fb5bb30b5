"""Reading files under a data root that anyone with write access may have tampered with.

Only regular files are read: a FIFO, a device or a directory in a file's place is
refused before anything blocks on it (opened with ``O_NONBLOCK``, then checked with
``fstat``), and a symlink never leads a reader outside the data root."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rodata.errors import FormatError

__all__ = ["confined", "read_regular"]


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them.

    Raises FileNotFoundError when it does not exist and :class:`FormatError` when it is
    not a regular file or is larger than `limit`."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FormatError(f"{path}: not a regular file")
        if st.st_size > limit:
            raise FormatError(f"{path}: {st.st_size} bytes is larger than the limit of {limit}")
        chunks = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # the file grew while it was read
            raise FormatError(f"{path}: larger than the limit of {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def confined(path: Path, root: Path) -> Path:
    """`path` with its symlinks resolved, when that lies inside `root` (also resolved).

    Raises :class:`FormatError` when a symlink leads outside `root`."""
    real = Path(os.path.realpath(path))
    real_root = Path(os.path.realpath(root))
    if real != real_root and real_root not in real.parents:
        raise FormatError(f"{path}: a symlink leads outside the data root {root} (to {real})")
    return real
