"""The load generators and their output: ``wrk`` (HTTP, keep-alive, one thread, random keys through
Lua scripts) and ``redis-benchmark`` (Redis GET with random keys), both pinned to client cores, and
the server's CPU time over the measured interval read from ``/proc/PID/stat``."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import subprocess
from pathlib import Path
from typing import Any

from servers import cpu_seconds

#: A GET of a random existing key in 0 .. n-1 per request.
LUA_RANDOM_KEY = """
math.randomseed({seed})
request = function()
  return wrk.format("GET", "{prefix}" .. math.random(0, {last}) .. "{suffix}")
end
"""
#: A POST of the same body (read from a file: binary bodies survive) on every request.
LUA_POST_FILE = """
local f = assert(io.open("{path}", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "{content_type}"
"""
#: A column slice at a random offset per request.
LUA_COLUMN = """
math.randomseed({seed})
request = function()
  return wrk.format("GET", "{prefix}?offset=" .. math.random(0, {span}) .. "&limit={limit}{extra}")
end
"""

_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
_UNITS_BYTES = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}  # wrk's units are binary


def script_file(tmp: Path, text: str) -> Path:
    """`text` written as a Lua script under `tmp` (named by its digest: one file per script)."""
    path = tmp / f"wrk-{hashlib.sha1(text.encode()).hexdigest()[:12]}.lua"
    path.write_text(text)
    return path


def wrk_command(url: str, script: Path | None, seconds: float, connections: int, core: int) -> list[str]:
    # A long timeout: a slow answer (a column slice on a loaded core) is a latency, not an error.
    cmd = ["taskset", "-c", str(core), "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s",
           "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    return [*cmd, url]


def run_wrk(url: str, script: Path | None, seconds: float, connections: int, core: int,
            server_pids: list[int]) -> dict[str, float]:
    """One wrk run; adds the servers' CPU µs per request over it."""
    before = sum(cpu_seconds(pid) for pid in server_pids)
    out = subprocess.run(wrk_command(url, script, seconds, connections, core), capture_output=True, text=True,
                         check=True).stdout
    used = sum(cpu_seconds(pid) for pid in server_pids) - before
    got = parse_wrk(out)
    got["server_cpu_s"] = used
    got["cpu_us_per_req"] = used / got["requests"] * 1e6 if got["requests"] else float("nan")
    return got


def parse_wrk(out: str) -> dict[str, float]:
    """req/s, requests, p50/p99 (ms), transfer (MB/s, 10^6 bytes), non-2xx and socket errors from wrk's
    ``--latency`` output."""
    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(match.group(1)) * _UNITS_MS[match.group(2)] if match else float("nan")

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise ValueError(f"not wrk output: {out[:200]!r}")
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", out, re.M)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)", out)
    mb = float(transfer.group(1)) * _UNITS_BYTES[transfer.group(2)] / 1e6 if transfer else 0.0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"req_s": float(rps.group(1)), "requests": float(total.group(1)) if total else 0.0,
            "p50_ms": latency("50"), "p99_ms": latency("99"), "transfer_mb_s": mb,
            "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
            "socket_errors": float(sum(int(x) for x in socket_errors.groups())) if socket_errors else 0.0}


def run_redis_benchmark(port: int, requests: int, keyspace: int, connections: int, core: int,
                        server_pid: int) -> dict[str, float]:
    """``redis-benchmark`` GET of ``row:__rand_int__`` (a random key in 0 .. keyspace-1, as the rows
    were loaded), no pipelining; adds the server's CPU µs per request."""
    cmd = ["taskset", "-c", str(core), "redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(connections),
           "-n", str(requests), "-r", str(keyspace), "--csv", "GET", "row:__rand_int__"]
    before = cpu_seconds(server_pid)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    used = cpu_seconds(server_pid) - before
    got = parse_redis_benchmark(out)
    got["requests"] = float(requests)
    got["server_cpu_s"] = used
    got["cpu_us_per_req"] = used / requests * 1e6
    return got


def parse_redis_benchmark(out: str) -> dict[str, float]:
    """req/s and p50/p99 (ms) from ``redis-benchmark --csv`` (Redis 7: a header line, then one per test)."""
    rows = [r for r in csv.reader(io.StringIO(out)) if r]
    header = next((r for r in rows if r[0] == "test"), None)
    data = next((r for r in rows if r[0] != "test"), None)
    if header is None or data is None:
        raise ValueError(f"not redis-benchmark --csv output: {out[:200]!r}")
    row: dict[str, Any] = dict(zip(header, data, strict=False))
    return {"req_s": float(row["rps"]), "p50_ms": float(row.get("p50_latency_ms", "nan")),
            "p99_ms": float(row.get("p99_latency_ms", "nan")), "transfer_mb_s": 0.0, "non_2xx": 0.0,
            "socket_errors": 0.0}
