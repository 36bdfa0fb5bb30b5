"""Progress of a build: a tqdm bar with rows/s and MB/s on a terminal, nothing in a pipe, or
the caller's own callback."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Progress", "ProgressEvent", "StreamProgress", "compact", "make_progress"]


@dataclass(frozen=True)
class ProgressEvent:
    """Where a build stands: `done` of `total` units (bytes while reading, parts while writing) and
    the rows of the phase so far."""

    phase: str  # "read" or "write"
    done: int
    total: int
    rows: int


class Progress:
    """Quiet progress: the base of the others."""

    def start(self, phase: str, total: int, unit: str) -> None:
        """A new phase with `total` units of work."""

    def advance(self, amount: int, rows: int = 0) -> None:
        """`amount` more units done, `rows` more rows."""

    def close(self) -> None:
        """The build is over (successfully or not)."""


class _Callback(Progress):
    def __init__(self, func: Callable[[ProgressEvent], Any]) -> None:
        self.func = func
        self.phase, self.total, self.done, self.rows = "", 0, 0, 0

    def start(self, phase: str, total: int, unit: str) -> None:
        self.phase, self.total, self.done, self.rows = phase, total, 0, 0
        self.func(ProgressEvent(phase, 0, total, self.rows))

    def advance(self, amount: int, rows: int = 0) -> None:
        self.done += amount
        self.rows += rows
        self.func(ProgressEvent(self.phase, self.done, self.total, self.rows))


class _Bar(Progress):
    """tqdm on stderr; rows/s shown beside the byte rate."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.rows = 0
        self.started = time.perf_counter()

    def start(self, phase: str, total: int, unit: str) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped]

        self.close()
        self.started = time.perf_counter()
        self.rows = 0
        scale = unit == "B"
        desc = phase.replace(" (pass ", " #").rstrip(")")  # "read #2": short, for 80 columns
        self.bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=scale, unit_divisor=1000,
                        file=sys.stderr, dynamic_ncols=True, leave=False, mininterval=0.2)

    def advance(self, amount: int, rows: int = 0) -> None:
        if self.bar is None:
            return
        self.rows += rows
        if self.rows:
            elapsed = max(time.perf_counter() - self.started, 1e-9)
            # short, so that the bar itself still shows on an 80-column terminal
            self.bar.set_postfix_str(f"{compact(self.rows)} rows, {compact(self.rows / elapsed)}/s", refresh=False)
        self.bar.update(amount)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class StreamProgress:
    """Advances the bar while compressed inputs are read: the worker streaming one keeps the
    compressed bytes it has read in ``progress-<seq>`` in `directory`; a thread adds what is new
    every `interval` seconds.  A chunk that ends is advanced by what is left of its `size`."""

    def __init__(self, bar: Progress, directory: Path, *, active: bool = True, interval: float = 0.25) -> None:
        self.bar, self.directory, self.interval, self.active = bar, directory, interval, active
        self.taken: dict[int, int] = {}
        self.done: set[int] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rodata-progress", daemon=True)

    def __enter__(self) -> StreamProgress:
        if self.active:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        if self.active:
            self.thread.join()

    def path(self, seq: int, source: Any) -> str:
        """Where the worker streaming chunk `seq` keeps its count ("" when nobody looks)."""
        if not self.active or not getattr(source, "compressed", False):
            return ""
        return str(self.directory / f"progress-{seq}")

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            self.poll()

    def poll(self) -> None:
        """Add the compressed bytes read since the last poll."""
        for p in self.directory.glob("progress-*"):
            try:
                seq, read = int(p.name[9:]), int.from_bytes(p.read_bytes()[:8], "little")
            except (OSError, ValueError):
                continue
            with self.lock:
                if seq in self.done or read <= self.taken.get(seq, 0):
                    continue
                self.bar.advance(read - self.taken.get(seq, 0))
                self.taken[seq] = read

    def finish(self, seq: int, size: int, rows: int) -> None:
        """Chunk `seq` of `size` bytes is read: advance by what the polls have not."""
        with self.lock:
            self.done.add(seq)
            self.bar.advance(max(0, size - self.taken.get(seq, 0)), rows)


def compact(n: float) -> str:
    """``7.0M``, ``715k``, ``940``: a count in at most five characters."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= limit:
            value = n / limit
            return f"{value:.1f}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return f"{n:.0f}"


def make_progress(progress: bool | Callable[[ProgressEvent], Any] | None) -> Progress:
    """None: a bar when stderr is a terminal; True/False: a bar or nothing; a callable: events."""
    if callable(progress) and not isinstance(progress, bool):
        return _Callback(progress)
    if progress is None:
        progress = sys.stderr.isatty()
    return _Bar() if progress else Progress()
