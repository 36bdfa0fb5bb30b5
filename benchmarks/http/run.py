"""The per-core HTTP harness: rodata's hot routes against a raw-ASGI ceiling and a FastAPI + SQLite
baseline, all measured in one run on the same machine.

Each server runs pinned to one core (``taskset``) with the same uvicorn settings
(uvloop, httptools, no access log); ``wrk`` drives it over keep-alive from
another core.  Per route it reports requests/s, keys/s (lookups), MB/s (column
slices), p50/p99 latency and the ratios against the ceiling and the baseline,
then the server's resident anonymous memory and the time to ready for a 1 GiB
version.  Run it alone on the machine (``flock /tmp/rodata-bench.lock ...``)::

    python benchmarks/http/run.py --out benchmarks/http/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

import rodata

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
UVICORN = [PYTHON, "-m", "uvicorn", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
           "--log-level", "warning", "--no-server-header"]


# -- data ------------------------------------------------------------------------------------


def make_data(root: Path, rows: int) -> dict[str, Any]:
    """A feature table (int64 key, ten columns) as a rodata dataset and as an SQLite table."""
    rng = np.random.default_rng(1)
    keys = np.arange(rows, dtype=np.int64) * 7
    cols: dict[str, Any] = {
        "id": keys,
        "country": rng.choice(np.array(["US", "DE", "FR", "JP", "BR", "IN"]), rows).tolist(),
        "age": rng.integers(18, 90, rows).astype(np.int32),
        "sessions": rng.integers(0, 500, rows).astype(np.int64),
        "spend": np.round(rng.gamma(2.0, 30.0, rows), 2),
        "risk": rng.random(rows).astype(np.float32),
        "score": rng.random(rows),
        "clicks": rng.integers(0, 10_000, rows).astype(np.int64),
        "active": rng.random(rows) < 0.7,
        "segment": rng.integers(0, 20, rows).astype(np.int16),
        "ltv": rng.random(rows) * 1000,
    }
    rodata.write(root / "data", "features", cols, key="id")
    db = root / "features.sqlite"
    conn = sqlite3.connect(db)
    names = list(cols)
    conn.execute(f"CREATE TABLE features (id INTEGER PRIMARY KEY, {', '.join(n + ' ' for n in names[1:])})")
    values = [c.tolist() if isinstance(c, np.ndarray) else c for c in cols.values()]
    conn.executemany(f"INSERT INTO features VALUES ({','.join('?' * len(names))})", zip(*values, strict=True))
    conn.commit()
    conn.close()
    return {"rows": rows, "keys": keys, "db": db}


def make_big_version(root: Path, gib: float) -> int:
    """A dataset of about `gib` GiB (a 64-float vector per row); returns its bytes."""
    rows = int(gib * (1 << 30) / (64 * 4 + 8))
    rng = np.random.default_rng(2)
    emb = rng.random((rows, 64), dtype=np.float32)
    version = rodata.write(root / "big", "big", {"id": np.arange(rows, dtype=np.int64), "emb": emb}, key="id")
    return int(version.manifest.bytes)


# -- servers and load ------------------------------------------------------------------------


class Proc:
    """A server process pinned to one core."""

    def __init__(self, cmd: list[str], port: int, core: int, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.port = port
        self.proc = subprocess.Popen(["taskset", "-c", str(core), *cmd], cwd=cwd, env={**os.environ, **(env or {})},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self, path: str, timeout: float = 120.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as answer:
                    if answer.status == 200:
                        return time.monotonic() - started
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            time.sleep(0.01)
        raise RuntimeError(f"{path} never answered 200")

    def rss_anon_mib(self) -> float:
        # taskset execs the server: the pid is the server's own.
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


LUA_ROW = """
math.randomseed(7)
request = function()
  return wrk.format("GET", "{prefix}" .. (math.random(0, {n}) * 7))
end
"""
LUA_POST = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{body}]]
"""
LUA_COLUMN = """
math.randomseed(7)
request = function()
  return wrk.format("GET", "{prefix}?offset=" .. math.random(0, {span}) .. "&limit={limit}{extra}")
end
"""


def wrk(url: str, script: str | None, seconds: int, connections: int, core: int, tmp: Path) -> dict[str, float]:
    cmd = ["taskset", "-c", str(core), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        path = tmp / f"script-{abs(hash(script))}.lua"
        path.write_text(script)
        cmd += ["-s", str(path)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> dict[str, float]:
    def latency(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            return float("nan")
        return float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[match.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)", out)
    mb = float(transfer.group(1)) * {"B": 1e-6, "KB": 1e-3, "MB": 1.0, "GB": 1e3}[transfer.group(2)] if transfer else 0
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"req_s": rps, "p50_ms": latency("50"), "p99_ms": latency("99"), "transfer_mb_s": mb * 1.048576,
            "non_2xx": float(errors.group(1)) if errors else 0.0}


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    print("installing wrk from the OS packages", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)


# -- the run ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    ensure_wrk()
    tmp = Path(tempfile.mkdtemp(prefix="rodata-http-bench-"))
    server_core, client_core = args.server_core, args.client_core
    try:
        data = make_data(tmp, args.rows)
        n = data["rows"] - 1
        keys = data["keys"]
        rng = np.random.default_rng(3)
        results: dict[str, Any] = {"routes": {}}

        def measure(name: str, url: str, script: str | None, **extra: Any) -> dict[str, float]:
            got = wrk(url, script, args.seconds, args.connections, client_core, tmp)
            got.update(extra)
            results["routes"][name] = got
            print(f"{name:28s} {got['req_s']:10.0f} req/s  p50 {got['p50_ms']:.2f} ms  p99 {got['p99_ms']:.2f} ms"
                  + (f"  non-2xx {got['non_2xx']:.0f}" if got["non_2xx"] else ""), flush=True)
            return got

        # The ceiling: a raw-ASGI hello world.
        hello = Proc([*UVICORN, "--port", str(args.port), "hello_asgi:app"], args.port, server_core, cwd=HERE)
        hello.wait("/")
        measure("ceiling_hello_asgi", f"http://127.0.0.1:{args.port}/", None)
        hello.stop()

        # The baseline: FastAPI + SQLite.
        lookup_keys = rng.choice(keys, args.json_keys).tolist()
        body_json = json.dumps({"keys": lookup_keys})
        base = Proc([*UVICORN, "--port", str(args.port), "sqlite_app:app"], args.port, server_core,
                    env={"RODATA_BENCH_SQLITE": str(data["db"])}, cwd=HERE)
        base.wait("/rows/7")
        url = f"http://127.0.0.1:{args.port}"
        measure("baseline_sqlite_row", url, LUA_ROW.format(prefix="/rows/", n=n))
        got = measure("baseline_sqlite_lookup_json", f"{url}/lookup", LUA_POST.format(body=body_json))
        got["keys_s"] = got["req_s"] * args.json_keys
        base.stop()

        # rodata.
        server = Proc([PYTHON, "-m", "rodata", "serve", "--data-root", str(tmp / "data"), "--port", str(args.port)],
                      args.port, server_core)
        server.wait("/healthz")
        prefix = "/v1/datasets/features"
        measure("rodata_row", url, LUA_ROW.format(prefix=f"{prefix}/rows/", n=n))
        got = measure("rodata_lookup_json", f"{url}{prefix}/lookup", LUA_POST.format(body=body_json))
        got["keys_s"] = got["req_s"] * args.json_keys
        npz_body = json.dumps({"keys": rng.choice(keys, args.npz_keys).tolist(), "format": "npz"})
        got = measure("rodata_lookup_npz", f"{url}{prefix}/lookup", LUA_POST.format(body=npz_body))
        got["keys_s"] = got["req_s"] * args.npz_keys
        limit = args.column_rows
        column_script = LUA_COLUMN.format(prefix=f"{prefix}/columns/score", span=n - limit, limit=limit, extra="")
        got = measure("rodata_column_raw", url, column_script)
        got["mb_s"] = got["req_s"] * limit * 8 / 1e6
        column_script = LUA_COLUMN.format(prefix=f"{prefix}/columns/score", span=n - limit, limit=limit,
                                          extra="&format=npy")
        got = measure("rodata_column_npy", url, column_script)
        got["mb_s"] = got["req_s"] * limit * 8 / 1e6
        results["rss_anon_mib_after_load"] = round(server.rss_anon_mib(), 1)
        server.stop()

        results["ready"] = measure_ready(tmp, args, server_core)
        results["ratios"] = ratios(results)
        results["setup"] = {
            "rows": args.rows, "json_keys": args.json_keys, "npz_keys": args.npz_keys,
            "column_rows": args.column_rows, "seconds": args.seconds, "connections": args.connections,
            "server_core": server_core, "client_core": client_core, "python": platform.python_version(),
            "machine": platform.machine(), "cpu": _cpu_model(), "cpus": os.cpu_count(),
            "kernel": platform.release(), "rodata": rodata.__version__,
        }
        return results
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure_ready(tmp: Path, args: argparse.Namespace, core: int) -> dict[str, float]:
    """Process start to /healthz 200 for a version of about 1 GiB (its files in the page cache), and the
    load itself (map + verify every checksum) as the server logs it."""
    nbytes = make_big_version(tmp, args.big_gib)
    log_path = tmp / "big.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(["taskset", "-c", str(core), PYTHON, "-m", "rodata", "serve", "--data-root",
                                 str(tmp / "big"), "--port", str(args.port)], stderr=log)
        server = Proc.__new__(Proc)
        server.proc, server.port = proc, args.port
        total = server.wait("/healthz")
        rss = server.rss_anon_mib()
        server.stop()
    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    started = next(x for x in lines if x.get("message") == "Application startup complete.")
    loaded = next(x for x in lines if x.get("event") == "dataset_loaded")
    load_s = _ts(loaded["ts"]) - _ts(started["ts"])
    print(f"ready for {nbytes / 2**30:.2f} GiB: {total:.2f} s from process start "
          f"({load_s:.2f} s map + verify); RssAnon {rss:.1f} MiB", flush=True)
    return {"bytes": nbytes, "process_start_to_ready_s": round(total, 3), "map_verify_s": round(load_s, 3),
            "verify_gb_s": round(nbytes / 1e9 / max(load_s, 1e-3), 2), "rss_anon_mib": round(rss, 1)}


def _ts(text: str) -> float:
    import datetime as dt

    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc).timestamp()


def ratios(results: dict[str, Any]) -> dict[str, float]:
    r = results["routes"]
    return {
        "row_vs_ceiling": round(r["rodata_row"]["req_s"] / r["ceiling_hello_asgi"]["req_s"], 3),
        "row_vs_sqlite": round(r["rodata_row"]["req_s"] / r["baseline_sqlite_row"]["req_s"], 2),
        "lookup_json_vs_sqlite": round(r["rodata_lookup_json"]["keys_s"] / r["baseline_sqlite_lookup_json"]["keys_s"],
                                       2),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json-keys", type=int, default=1000)
    parser.add_argument("--npz-keys", type=int, default=20_000)
    parser.add_argument("--column-rows", type=int, default=1_000_000)
    parser.add_argument("--big-gib", type=float, default=1.0)
    parser.add_argument("--port", type=int, default=18081)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--ready-only", action="store_true",
                        help="only the time to ready for a --big-gib version (needs no wrk); prints it, writes nothing")
    args = parser.parse_args()
    if args.ready_only:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(measure_ready(Path(tmp), args, args.server_core), indent=1))
        return 0
    results = run(args)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results["ratios"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
