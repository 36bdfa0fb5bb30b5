"""Progress of a build: a tqdm bar with rows/s and MB/s on a terminal, nothing in a pipe, or
the caller's own callback."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Progress", "ProgressEvent", "make_progress"]


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
        self.bar = tqdm(total=total, desc=phase, unit=unit, unit_scale=scale, unit_divisor=1000,
                        file=sys.stderr, dynamic_ncols=True, leave=False, mininterval=0.2)

    def advance(self, amount: int, rows: int = 0) -> None:
        if self.bar is None:
            return
        self.rows += rows
        if self.rows:
            elapsed = max(time.perf_counter() - self.started, 1e-9)
            self.bar.set_postfix_str(f"{self.rows:,} rows, {self.rows / elapsed:,.0f} rows/s", refresh=False)
        self.bar.update(amount)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def make_progress(progress: bool | Callable[[ProgressEvent], Any] | None) -> Progress:
    """None: a bar when stderr is a terminal; True/False: a bar or nothing; a callable: events."""
    if callable(progress) and not isinstance(progress, bool):
        return _Callback(progress)
    if progress is None:
        progress = sys.stderr.isatty()
    return _Bar() if progress else Progress()
