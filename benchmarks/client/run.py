"""``rodata.Client.get_many`` end to end: int64 keys sent binary, fixed-width columns answered as npz,
decoded into a batch, against a real ``rodata serve`` pinned to one core with this client pinned to
another, beside a plain httpx loop that sends the keys as a JSON body and reads JSON rows.

The figure is keys per second per client core: keys asked for, over the CPU seconds this process
spent (``time.process_time``), so it does not depend on how busy the server's core is.  Target: at
least 2 M keys/s at 20,000 keys per call.  Run: ``python benchmarks/client/run.py [--calls N]``."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

import rodata

HERE = Path(__file__).resolve().parent
COLUMNS = ["qty", "price", "score", "ts"]  # fixed-width: int32, float64 (nullable), float32, timestamp


def write_table(root: Path, rows: int) -> np.ndarray[Any, Any]:
    """A dataset ``items`` of `rows` rows, int64 keys, four fixed-width columns and a string; its keys."""
    rng = np.random.default_rng(1)
    keys = rng.permutation(np.arange(rows, dtype=np.int64) * 7 + 11)
    price = np.ma.MaskedArray(np.round(rng.random(rows) * 100, 2), mask=rng.random(rows) < 0.1)
    rodata.write(root, "items", {
        "id": keys,
        "qty": rng.integers(0, 1000, rows).astype(np.int32),
        "price": price,
        "score": rng.random(rows, dtype=np.float32),
        "ts": np.datetime64("2024-01-01T00:00:00", "ns") + rng.integers(0, 10**15, rows).astype("m8[ns]"),
        "name": [f"item-{i}" for i in range(rows)],
    }, key="id")
    return keys


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def start_server(root: Path, core: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``rodata serve`` pinned to `core` (taskset execs it: the pid is the server's); its base URL once ready."""
    port = free_port()
    cmd = ["taskset", "-c", str(core), sys.executable, "-m", "rodata", "serve", "--data-root", str(root),
           "--port", str(port), "--log-level", "warning"]
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the server never became ready")


def server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name: str, call: Callable[[np.ndarray[Any, Any]], Any], batches: list[np.ndarray[Any, Any]],
            server_pid: int) -> dict[str, Any]:
    """Client CPU and wall time of `call` over every key batch (after two warm-up calls)."""
    for keys in batches[:2]:
        call(keys)
    cpu0, wall0, srv0 = time.process_time(), time.perf_counter(), server_cpu(server_pid)
    for keys in batches:
        call(keys)
    cpu, wall, srv = time.process_time() - cpu0, time.perf_counter() - wall0, server_cpu(server_pid) - srv0
    n = sum(len(k) for k in batches)
    return {"method": name, "calls": len(batches), "keys_per_call": len(batches[0]),
            "client_cpu_ms_per_call": 1000 * cpu / len(batches), "wall_ms_per_call": 1000 * wall / len(batches),
            "server_cpu_ms_per_call": 1000 * srv / len(batches),
            "keys_per_s_per_client_core": n / cpu if cpu else float("inf"), "keys_per_s_wall": n / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=20_000, help="keys per call")
    parser.add_argument("--calls", type=int, default=60, help="calls per method")
    parser.add_argument("--json-calls", type=int, default=12, help="calls of the plain JSON loop (it is slow)")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="rodata-client-bench-") as tmp:
        root = Path(tmp) / "data"
        keys = write_table(root, args.rows)
        proc, url = start_server(root, args.server_core, Path(tmp) / "server.log")
        try:
            os.sched_setaffinity(0, {args.client_core})
            rng = np.random.default_rng(2)
            batches = [rng.choice(keys, args.keys) for _ in range(args.calls)]
            results = run(url, root, batches, proc.pid, args.json_calls)
        finally:
            proc.terminate()
            proc.wait(30)
    print_table(results)
    args.out.write_text(json.dumps({"rows": args.rows, "results": results}, indent=2) + "\n")


def run(url: str, root: Path, batches: list[np.ndarray[Any, Any]], pid: int, json_calls: int) -> list[dict[str, Any]]:
    lookup = f"{url}/v1/datasets/items/lookup"
    with rodata.Client(url) as client, httpx.Client(timeout=30) as plain, rodata.open(root / "items") as ds:
        # the answers are the library's before anything is timed
        got, want = client.get_many("items", batches[0], COLUMNS), ds.get_many(batches[0], COLUMNS)
        assert got.found.all() and all(np.array_equal(got[c], want[c]) for c in COLUMNS)
        assert got.to_pylist()[:100] == want.to_pylist()[:100]

        def binary_npz(keys: np.ndarray[Any, Any]) -> Any:
            return client.get_many("items", keys, COLUMNS)

        def with_a_string(keys: np.ndarray[Any, Any]) -> Any:
            return client.get_many("items", keys, [*COLUMNS, "name"])

        def plain_json(keys: np.ndarray[Any, Any]) -> Any:
            body = orjson.dumps({"keys": keys.tolist(), "columns": COLUMNS})
            answer = plain.post(lookup, content=body, headers={"content-type": "application/json"})
            answer.raise_for_status()
            return orjson.loads(answer.content)["rows"]

        return [measure("Client.get_many (binary keys, npz)", binary_npz, batches, pid),
                measure("Client.get_many + a string column (npz + JSON)", with_a_string, batches, pid),
                measure("plain httpx, JSON keys, JSON rows", plain_json, batches[:json_calls], pid)]


def print_table(results: list[dict[str, Any]]) -> None:
    head = f"{'method':48} {'keys/call':>9} {'client ms':>10} {'wall ms':>8} {'server ms':>10} {'M keys/s/core':>14}"
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r['method']:48} {r['keys_per_call']:>9} {r['client_cpu_ms_per_call']:>10.2f} "
              f"{r['wall_ms_per_call']:>8.2f} {r['server_cpu_ms_per_call']:>10.2f} "
              f"{r['keys_per_s_per_client_core'] / 1e6:>14.2f}")
    ratio = results[0]["keys_per_s_per_client_core"] / results[-1]["keys_per_s_per_client_core"]
    print(f"\nClient.get_many (binary, npz) per client core: {ratio:.1f}x the plain httpx + JSON loop; "
          f"target >= 2 M keys/s: {'met' if results[0]['keys_per_s_per_client_core'] >= 2e6 else 'NOT met'}")


if __name__ == "__main__":
    main()
