"""Interrupts (Ctrl-C, SIGTERM) and the publish of a build.

Until publishing starts, an interrupt stops the build and nothing is published.  Publishing
(manifest, rename, CURRENT, pruning) is short and ends with the version live, so an interrupt
that arrives during it is *held*: the publish completes and the build succeeds — a version that
is live is never reported as interrupted.  The held signals are kept for the caller to mention."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

__all__ = ["Hold", "held_signals", "publishing"]

_HELD = (signal.SIGINT, signal.SIGTERM)


class _State:
    publishing = False  # the current build has started to publish (reset when the next one starts)
    held: list[int] = []


def publishing() -> bool:
    """True once the running build has begun to publish: an interrupt must not stop it now."""
    return _State.publishing


def held_signals() -> list[str]:
    """The names of the signals held while publishing, in arrival order."""
    return [signal.Signals(s).name for s in _State.held]


def note(signum: int) -> None:
    """Remember a signal that arrived while publishing."""
    _State.held.append(signum)


class Hold:
    """Holds SIGINT and SIGTERM from :meth:`start` to :meth:`stop` (the publish of a build).

    Only the main thread can install handlers; elsewhere the signals never interrupt the build
    anyway (Python runs handlers in the main thread), so the hold is just the flag."""

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        _State.publishing = False
        _State.held = []

    def start(self) -> None:
        _State.publishing = True
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in _HELD:
            self._previous[sig] = signal.signal(sig, self._hold)

    def stop(self, *, published: bool) -> None:
        """Restore the handlers; unless the version was `published`, interrupts stop builds again."""
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous = {}
        if not published:
            _State.publishing = False

    @staticmethod
    def _hold(signum: int, frame: FrameType | None) -> None:
        note(signum)
