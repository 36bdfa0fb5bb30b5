"""The HTTP harness reads its load generators right: recorded ``wrk --latency`` and ``redis-benchmark
--csv`` outputs (benchmarks/http/samples), and a process's CPU time from ``/proc/PID/stat``."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "benchmarks" / "http"


@pytest.fixture(scope="module")
def load() -> Iterator[ModuleType]:
    """benchmarks/http/load.py (a script directory, not a package: its siblings import each other)."""
    sys.path.insert(0, str(HARNESS))
    try:
        import load as module

        yield module
    finally:
        sys.path.remove(str(HARNESS))
        for name in ("load", "servers"):
            sys.modules.pop(name, None)


def test_wrk_output(load: ModuleType) -> None:
    got = load.parse_wrk((HARNESS / "samples" / "wrk-latency.txt").read_text())
    assert got["req_s"] == 52133.24
    assert got["requests"] == 107351
    assert got["p50_ms"] == pytest.approx(0.291)  # "291.00us"
    assert got["p99_ms"] == pytest.approx(17.97)
    assert got["transfer_mb_s"] == pytest.approx(4.38 * 2**20 / 1e6)  # wrk's MB is 2^20 bytes
    assert got["non_2xx"] == 0 and got["socket_errors"] == 0


def test_wrk_errors_and_units(load: ModuleType) -> None:
    sample = (HARNESS / "samples" / "wrk-latency.txt").read_text()
    sample = sample.replace("     99%   17.97ms", "     99%    1.20s").replace(
        "Requests/sec:", "  Socket errors: connect 0, read 2, write 0, timeout 3\n"
        "  Non-2xx or 3xx responses: 7\nRequests/sec:")
    got = load.parse_wrk(sample)
    assert got["p99_ms"] == pytest.approx(1200.0)
    assert got["socket_errors"] == 5
    assert got["non_2xx"] == 7


def test_not_wrk_output_is_refused(load: ModuleType) -> None:
    with pytest.raises(ValueError, match="not wrk output"):
        load.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_redis_benchmark_csv(load: ModuleType) -> None:
    got = load.parse_redis_benchmark((HARNESS / "samples" / "redis-benchmark.csv").read_text())
    assert got["req_s"] == 125944.58
    assert got["p50_ms"] == pytest.approx(0.231)
    assert got["p99_ms"] == pytest.approx(5.551)
    with pytest.raises(ValueError, match="not redis-benchmark"):
        load.parse_redis_benchmark("ERROR: connection refused\n")


def test_cpu_seconds_of_a_process(load: ModuleType) -> None:
    from servers import cpu_seconds

    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # burn a little CPU so the figure is not 0
        pass
    mine = os.times()
    assert cpu_seconds(os.getpid()) == pytest.approx(mine.user + mine.system, abs=0.03)
