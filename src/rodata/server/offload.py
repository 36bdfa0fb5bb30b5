"""Answers made off the event loop, within a time bound.

A lookup, a scan page or a column slice can read many pages of the mapping, and a page that is not
in the page cache (a cold start, data on NFS) is a blocking read: made on the loop's one thread it
would stall every connection of the process, and the probes with them.  Those routes (``offload``
in the route table) are answered by a small thread pool instead: the compiled probes, gathers and
renderers release the GIL while they read the mapping, and a column slice's pages are read there
before the answer is handed to the loop (:func:`rodata.server.render.column_slice`).  An answer not
made within ``--request-timeout`` seconds is 503 ``timeout`` (the thread's late result is dropped);
the loop, meanwhile, answers everything else.  Both paths (the compiled protocol and the ASGI
application) use the same pool and the same bound, so their answers stay the same."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from rodata.server.errors import Reply, error_reply

__all__ = ["WORKERS", "Offload", "timeout_reply"]

#: Threads answering offloaded requests: a cold read of one connection need not hold the others'.
WORKERS = 4


def timeout_reply(seconds: float) -> Reply:
    """The 503 of an answer not made within `seconds`."""
    return error_reply(503, "timeout", f"the answer took longer than {seconds:g} s (its data is being read from "
                                       "storage): retry, or ask another replica")


class Offload:
    """The thread pool and the time bound of one server's offloaded answers."""

    def __init__(self, timeout: float, workers: int = WORKERS) -> None:
        self.timeout = timeout
        self.late = timeout_reply(timeout)
        self._pool: ThreadPoolExecutor | None = None
        self._workers = workers

    def submit(self, fn: Callable[..., Reply], *args: Any) -> Future[Reply]:
        """`fn(*args)` in the pool (started on first use)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="rodata-answer")
        return self._pool.submit(fn, *args)

    async def run(self, fn: Callable[..., Reply], *args: Any) -> Reply:
        """`fn(*args)` made in the pool, or :attr:`late` (503 ``timeout``) after the time bound."""
        made = asyncio.wrap_future(self.submit(fn, *args))
        try:
            return await asyncio.wait_for(asyncio.shield(made), self.timeout)
        except TimeoutError:
            made.add_done_callback(_drop)  # its late result (or fault) is not waited for
            return self.late


def _drop(done: asyncio.Future[Reply]) -> None:
    if not done.cancelled():
        done.exception()  # read, so that a fault of a dropped answer is not reported as never retrieved
