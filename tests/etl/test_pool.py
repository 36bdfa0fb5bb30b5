"""The build's process pool: results in task order, a task's error reaches the caller with its
message (the earliest task's first), a cutoff skips the tasks after it, and a worker killed
mid-task is reported as an error instead of hanging the build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from rodata.errors import RodataError
from rodata.etl.pool import WorkerPool

from .conftest import ROOT


def _square_late(n: int) -> tuple[int, int]:
    """n squared, and the worker that computed it; early tasks finish last."""
    time.sleep(0.02 * (5 - n % 5))
    return n * n, os.getpid()


def _fail_on(n: int) -> int:
    if n in (2, 5):
        raise RodataError(f"task {n} cannot be done")
    return n


def _value_error(n: int) -> int:
    if n == 1:
        raise ValueError("not a RodataError: it still reaches the caller")
    return n


def _stop_at(n: int) -> int:
    return n


def _die(n: int) -> int:
    if n == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return n


@pytest.mark.parametrize("processes", [True, False])
def test_results_come_in_task_order(processes: bool) -> None:
    with WorkerPool(2, processes=processes) as pool:
        pool.start()
        results = pool.run(_square_late, list(range(10)))
    assert [r[0] for r in results if r is not None] == [n * n for n in range(10)]
    pids = {r[1] for r in results if r is not None}
    if processes:
        assert os.getpid() not in pids  # the work ran in worker processes
    else:
        assert pids == {os.getpid()}


def test_concurrency_one_still_gives_every_result_in_order() -> None:
    with WorkerPool(2) as pool:
        results = pool.run(_square_late, list(range(6)), concurrency=1)
    assert [r[0] for r in results if r is not None] == [0, 1, 4, 9, 16, 25]


@pytest.mark.parametrize("processes", [True, False])
def test_the_earliest_tasks_error_reaches_the_caller_with_its_message(processes: bool) -> None:
    with pytest.raises(RodataError, match="task 2 cannot be done"), WorkerPool(2, processes=processes) as pool:
        pool.run(_fail_on, list(range(8)))


def test_any_exception_of_a_worker_reaches_the_caller() -> None:
    with pytest.raises(ValueError, match="it still reaches the caller"), WorkerPool(2) as pool:
        pool.run(_value_error, [0, 1, 2])


@pytest.mark.parametrize("processes", [True, False])
def test_a_cutoff_skips_the_tasks_after_it(processes: bool) -> None:
    seen: list[int] = []
    with WorkerPool(2, processes=processes) as pool:
        results = pool.run(_stop_at, list(range(50)), concurrency=1, cutoff=lambda r: r == 3, on_result=seen.append)
    assert results[:4] == [0, 1, 2, 3]
    assert results[4:] == [None] * 46  # never started
    assert seen == [0, 1, 2, 3]


def test_call_runs_one_task_in_a_worker() -> None:
    with WorkerPool(1) as pool:
        value, pid = pool.call(_square_late, 7)
    assert value == 49 and pid != os.getpid()


_KILLED_SCENARIO = """
from rodata.errors import RodataError
from rodata.etl.pool import WorkerPool
from tests.etl.test_pool import _die

for how in ("run", "call"):
    try:
        with WorkerPool(2) as pool:
            pool.run(_die, [0, 1, 2, 3]) if how == "run" else pool.call(_die, 1)
    except RodataError as exc:
        print(how, "reported:", exc)
    else:
        print(how, "returned")
"""


def test_a_killed_worker_is_reported_not_hung() -> None:
    # In a child process of its own, so that a hang fails this test instead of stopping the suite.
    done = subprocess.run([sys.executable, "-c", _KILLED_SCENARIO], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == ["run reported: a worker process died (out of memory? try a smaller --memory-limit or fewer "
                     "--workers)",
                     "call reported: a worker process died (out of memory? try a smaller --memory-limit)"]


def test_kill_stops_every_worker() -> None:
    pool = WorkerPool(2)
    pool.start()
    pids = {pid for _, pid in (r for r in pool.run(_square_late, [0, 1, 2, 3]) if r is not None)}
    assert pids and pool.started
    pool.kill()
    assert not pool.started
    for pid in pids:  # killed and reaped: no such process any more
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
