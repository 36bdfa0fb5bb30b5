"""The one bounded wait of the tests: poll until something is true, or fail saying what never happened.

A bound on waiting, never a speed check: the timeouts are generous, and reaching one is a failure of
the behaviour waited for, not of a machine being slow."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T | None], what: str, timeout: float = 60.0, *, interval: float = 0.05,
               ignore: tuple[type[BaseException], ...] = (), detail: Callable[[], str] | None = None) -> T:
    """The first true value `predicate()` returns within `timeout` seconds; exceptions of the types in
    `ignore` count as "not yet".  Fails with an AssertionError naming `what` (and `detail()`, e.g. a
    log tail) when the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except ignore:
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}"
                                 + (f"; {detail()}" if detail is not None else ""))
        time.sleep(interval)
