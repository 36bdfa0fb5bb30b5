"""Coverage feedback the fuzzer cannot see by itself, and scratch files for the inputs.

atheris measures coverage of Python bytecode only: the compiled reader and tokenizers are
invisible to it.  So the harnesses report what the compiled code did (which check refused
an input, which path a value took, how many rows came out) as *features*: each distinct tag
bumps one of a block of libFuzzer counters, and an input that produces a tag never seen
before is kept in the corpus, exactly as new Python coverage would be."""

from __future__ import annotations

import atexit
import itertools
import os
import re
import shutil
import tempfile
import zlib
from pathlib import Path
from typing import Any

_COUNTERS: list[int] = []
_SLOTS = 4096
_atheris: Any = None

_DIGITS = re.compile(r"\d+")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def enable() -> None:
    """Reserve the feature counters (call once in the fuzzing process, before fuzzing starts).

    Uses atheris' counter primitives (the ones its bytecode instrumentation calls); without
    them, feedback silently does nothing and the harness still checks every input."""
    global _atheris
    try:
        import atheris

        reserve = atheris._reserve_counter
    except (ImportError, AttributeError):
        return
    _atheris = atheris
    _COUNTERS[:] = [reserve() for _ in range(_SLOTS)]


def tag(*parts: object) -> None:
    """Record the feature named by `parts` (cheap when feedback is off)."""
    if _COUNTERS:
        text = "|".join(map(str, parts))
        # Looked up at each call: atheris replaces _trace_branch when fuzzing starts.
        _atheris._trace_branch(_COUNTERS[zlib.crc32(text.encode("utf-8", "replace")) % _SLOTS])


def error_kind(exc: BaseException, path: str | None = None) -> str:
    """An error message without its path, numbers and quoted names: which check it was."""
    text = str(exc)
    if path:
        text = text.replace(path, "")
    return _DIGITS.sub("#", _QUOTED.sub("'*'", text))[:120]


def bucket(n: int) -> int:
    """0, 1, then the bit length: sizes as a handful of features instead of one per value."""
    return n if n < 2 else n.bit_length() + 1


class Scratch:
    """A private directory in memory (/dev/shm when there is one): mmap needs real files."""

    def __init__(self, prefix: str) -> None:
        base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self.dir = Path(tempfile.mkdtemp(prefix=f"rodata-fuzz-{prefix}-", dir=base))
        self._names = itertools.count()
        atexit.register(shutil.rmtree, self.dir, ignore_errors=True)

    def fresh(self, suffix: str) -> Path:
        """A new file name each call: a file still mapped is never rewritten in place (SIGBUS)."""
        return self.dir / f"{next(self._names)}{suffix}"

    def write(self, data: bytes, suffix: str) -> Path:
        path = self.fresh(suffix)
        path.write_bytes(data)
        return path
