"""A daemon thread that calls one function every so often until stopped: how the catalog watches
each dataset's CURRENT and the server watches its tokens file (reading files at an interval, not
waiting for change notifications, works on NFS and with a Kubernetes Secret's symlink swap)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from rodata.errors import UsageError

__all__ = ["Poller"]


class Poller:
    """Calls `poll()` every interval in a daemon thread named `name` (after `first()`, once, when
    given); an exception of one call is logged with `what` and the polling goes on."""

    def __init__(self, name: str, poll: Callable[[], object], *, what: str, log: logging.Logger,
                 first: Callable[[], object] | None = None) -> None:
        self.name = name
        self._poll = poll
        self._first = first
        self._what = what
        self._log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, interval: float) -> None:
        """Start polling every `interval` seconds."""
        if interval <= 0:
            raise UsageError("poll_interval must be positive")
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already polling")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(interval,), name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop polling (a call in progress finishes first, up to `timeout`)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _run(self, interval: float) -> None:
        if self._first is not None:
            self._guarded(self._first)
        while not self._stop.wait(interval):
            self._guarded(self._poll)

    def _guarded(self, step: Callable[[], object]) -> None:
        try:
            step()
        except Exception:  # the thread must outlive any one bad poll; the error is logged
            self._log.exception(self._what)
