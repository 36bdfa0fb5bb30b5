"""The process pool of a build: every core runs the compiled codec on its own chunk.

Workers are forked while the build process runs a single thread, else started through a
fork server (never a fork of a threaded process); they ignore Ctrl-C (the parent stops them)
and die with the build: each watches the build process and exits the moment it is gone,
however it went (SIGKILL included).  A build of a small
input runs in the calling process instead: starting workers would take longer than it."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from rodata._process import pid_alive
from rodata.errors import RodataError

__all__ = ["WorkerPool"]

T = TypeVar("T")
R = TypeVar("R")
_MAIN_HIDDEN = threading.Lock()  # one pool at a time swaps __main__ out
_SERVER_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _fork_is_safe() -> bool:
    """A fork copies only the calling thread: safe while it is the only one (no lock another
    thread holds can be copied locked).  Linux only: elsewhere fork is not a default for a reason."""
    return (sys.platform.startswith("linux") and threading.active_count() == 1
            and "fork" in multiprocessing.get_all_start_methods())


def _init_worker(build_pid: int) -> None:
    """Runs first in every worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked worker may have inherited the CLI's handler
    _exit_with(build_pid)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None)
            # Keep freed memory for the next chunk instead of giving it back to the kernel and
            # faulting it in again (fresh pages cost far more than the copies into them): blocks
            # up to 32 MiB (glibc's largest mmap threshold; chunks are sized below it) come from
            # the heap, and the heap is not trimmed.
            libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
            libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD


def _exit_with(build_pid: int) -> None:
    """End this worker the moment the build process ends, however it ends (SIGKILL included).

    The fork server keeps running while any worker does, and workers are its children, not the
    build's: so each worker watches the build itself (a pidfd, or polling where there is none)."""
    def watch() -> None:
        try:
            fd = os.pidfd_open(build_pid)
        except (AttributeError, OSError):
            fd = -1
        if fd >= 0:
            select.select([fd], [], [])
        else:
            while pid_alive(build_pid):
                time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="rodata-build-watch", daemon=True).start()



class WorkerPool:
    """Runs rounds of tasks on up to `workers` processes."""

    def __init__(self, workers: int, *, processes: bool = True) -> None:
        self.workers = max(1, workers)
        self.processes = processes  # False: every task runs in the calling process
        self._executor: cf.ProcessPoolExecutor | None = None
        self._starting: threading.Thread | None = None
        self._start_error: BaseException | None = None

    def start(self) -> None:
        """Start the workers.  While this process runs a single thread they are forked on the
        spot (instant, nothing imported again); otherwise a fork server starts them in the
        background (it takes a moment) while the caller plans, and the first round waits."""
        if not self.processes or self._executor is not None or self._starting is not None:
            return
        if _fork_is_safe():
            self._executor = self._new_executor("fork")
            return
        self._starting = threading.Thread(target=self._start_quietly, name="rodata-pool-start", daemon=True)
        self._starting.start()

    def _start_quietly(self) -> None:
        try:
            self._executor = self._new_executor(_SERVER_METHOD)
        except BaseException as exc:  # handed to the caller by _pool()
            self._start_error = exc

    def _pool(self) -> cf.ProcessPoolExecutor:
        if self._starting is not None:
            self._starting.join()
            self._starting = None
            if self._start_error is not None:
                error, self._start_error = self._start_error, None
                raise error
        if self._executor is None:
            self._executor = self._new_executor("fork" if _fork_is_safe() else _SERVER_METHOD)
        return self._executor

    def _new_executor(self, method: str) -> cf.ProcessPoolExecutor:
        ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["rodata.etl.workers", "rodata.etl.merge"])
        executor = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_init_worker,
                                          initargs=(os.getpid(),))
        try:
            self._start_workers(executor)
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        return executor

    def _start_workers(self, executor: cf.ProcessPoolExecutor) -> None:
        """Start every worker now, with the main module hidden: a fork server or a spawned
        process would otherwise import the caller's script (or ``python -m`` module) again,
        and run it.  Once started, the workers serve every round of the build."""
        with _MAIN_HIDDEN:
            saved = sys.modules.get("__main__")
            sys.modules["__main__"] = types.ModuleType("__main__")
            try:
                started = [executor.submit(os.getpid) for _ in range(self.workers)]
            finally:
                if saved is not None:
                    sys.modules["__main__"] = saved
        cf.wait(started)

    def run(self, func: Callable[[T], R], tasks: Sequence[T], *, concurrency: int | None = None,
            cutoff: Callable[[R], bool] | None = None, on_result: Callable[[R], None] | None = None,
            poll: Callable[[], None] | None = None) -> list[R | None]:
        """func(task) for every task, at most `concurrency` at once; results in task order.

        When cutoff(result) holds for task i, tasks after i that have not started are skipped
        (their result is None); tasks before i still run, so the caller can pick the first
        failure in input order whatever the timing.  A task's exception is raised after the
        round, the one of the earliest task first.  `poll` is called now and then while waiting."""
        n = len(tasks)
        width = max(1, min(concurrency or self.workers, self.workers, n))
        results: list[R | None] = [None] * n
        errors: dict[int, BaseException] = {}
        limit = n
        if not self.processes or n == 0:
            for i, task in enumerate(tasks):
                if i >= limit:
                    break
                try:
                    results[i] = func(task)
                except RodataError as exc:
                    errors[i] = exc
                    limit = min(limit, i + 1)
                    continue
                if on_result is not None:
                    on_result(results[i])  # type: ignore[arg-type]
                if cutoff is not None and cutoff(results[i]):  # type: ignore[arg-type]
                    limit = min(limit, i + 1)
        else:
            pool = self._pool()
            running: dict[cf.Future[R], int] = {}
            next_task = 0
            try:
                while True:
                    while len(running) < width and next_task < min(n, limit):
                        running[pool.submit(func, tasks[next_task])] = next_task
                        next_task += 1
                    if not running:
                        break
                    done, _ = cf.wait(running, timeout=0.25 if poll else None, return_when=cf.FIRST_COMPLETED)
                    if poll is not None:
                        poll()
                    for fut in done:
                        i = running.pop(fut)
                        failure = fut.exception()
                        if failure is not None:
                            if isinstance(failure, BrokenProcessPool):
                                raise RodataError("a worker process died (out of memory? try a smaller "
                                                  "--memory-limit or fewer --workers)") from failure
                            errors[i] = failure
                            limit = min(limit, i + 1)
                            continue
                        results[i] = fut.result()
                        if on_result is not None:
                            on_result(results[i])  # type: ignore[arg-type]
                        if cutoff is not None and cutoff(results[i]):  # type: ignore[arg-type]
                            limit = min(limit, i + 1)
            except BaseException:
                self.kill()
                raise
        if errors:
            raise errors[min(errors)]
        return results

    @property
    def started(self) -> bool:
        """The worker processes are up and waiting (false while a fork server starts them)."""
        return self.processes and self._executor is not None and self._starting is None

    def call(self, func: Callable[[T], R], task: T) -> R:
        """func(task) in a worker (or here, without processes), waiting for the result."""
        if not self.processes:
            return func(task)
        future = self._pool().submit(func, task)
        try:
            return future.result()
        except BrokenProcessPool as exc:
            raise RodataError("a worker process died (out of memory? try a smaller --memory-limit)") from exc
        except BaseException:
            if not future.done():
                self.kill()
            raise

    def kill(self) -> None:
        """Stop every worker now (an error or Ctrl-C in the parent)."""
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = dict(getattr(executor, "_processes", None) or {})
        for proc in processes.values():
            with contextlib.suppress(Exception):
                proc.kill()
        executor.shutdown(wait=False, cancel_futures=True)
        for proc in processes.values():
            with contextlib.suppress(Exception):
                proc.join(timeout=5)

    def close(self) -> None:
        """Let the workers finish and exit."""
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.kill()
