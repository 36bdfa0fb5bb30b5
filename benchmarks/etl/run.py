"""ETL benchmark: ``rodata.build`` on 1..N workers against pyarrow's CSV reader, same file, same run.

Generates a mixed-type CSV of at least ``--size-mb`` megabytes in a temporary directory (never
kept), warms the page cache, then measures, each in a fresh process:

- pyarrow.csv.read_csv single-threaded and multi-threaded (parsing only: the baseline);
- rodata.build with 1, 2, ... N workers (parse, sort, merge, write, verify, publish: everything);
- rodata.build on N workers under a small ``--memory-limit`` (peak memory stays bounded).

Each run is pinned to as many CPUs as it has workers (pyarrow single-threaded to one, multi-threaded
to all), so that "N workers" means N cores, helper threads included.  Configurations alternate in
rounds and the best run of each counts.  Both wall time and CPU time are recorded (the machine may
be shared: CPU seconds per byte are the steadier per-core figure).  Results go to ``--out`` as
JSON; ratios are printed.

    flock /tmp/rodata-bench.lock .venv/bin/python benchmarks/etl/run.py --out benchmarks/etl/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

PYARROW_RUN = """
import json, resource, sys, time
import pyarrow.csv as pc
threads = sys.argv[2] == "1"
t0, c0 = time.perf_counter(), time.process_time()
table = pc.read_csv(sys.argv[1], read_options=pc.ReadOptions(use_threads=threads))
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"wall": wall, "cpu": cpu, "rows": table.num_rows,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

GENERATE_RUN = """
import json, pathlib, sys
from benchmarks.etl.run import generate
print(json.dumps({"rows": generate(pathlib.Path(sys.argv[1]), int(sys.argv[2]))}))
"""

RODATA_RUN = """
import json, resource, sys, time
import rodata
t0 = time.perf_counter()
report = rodata.build(sys.argv[1], dataset="bench", key="id", data_root=sys.argv[2], workers=int(sys.argv[3]),
                      memory_limit=int(sys.argv[4]) or None, progress=False)
wall = time.perf_counter() - t0
# Workers started by a fork server are its children: stop and reap it, so their CPU time counts here.
from multiprocessing import forkserver
if forkserver._forkserver._forkserver_pid:
    forkserver._forkserver._stop()
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
                  "report": report.to_json()}))
"""


class MemoryWatch:
    """Peak private (anonymous) memory of a process and its descendants, sampled from /proc by
    this process (the measured one runs no extra thread): the figure --memory-limit bounds.
    Mapped input and run files are page cache, which the kernel reclaims, and do not count."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.total_mb = 0.0
        self.worker_mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._done.set()
        self._thread.join()
        return {"peak_anon_mb": round(self.total_mb, 1), "peak_worker_anon_mb": round(self.worker_mb, 1)}

    def _family(self) -> set[int]:
        pids = {self.pid}
        for _ in range(3):
            for status in Path("/proc").glob("[0-9]*/status"):
                try:
                    ppid = int(next(line for line in status.read_text().splitlines() if line.startswith("PPid:"))
                               .split()[1])
                except (OSError, StopIteration, ValueError):
                    continue
                if ppid in pids:
                    pids.add(int(status.parent.name))
        return pids

    @staticmethod
    def _anon_mb(pid: int) -> float:
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return 0.0
        line = next((x for x in text.splitlines() if x.startswith("RssAnon:")), "RssAnon: 0 kB")
        return int(line.split()[1]) / 1024

    def _run(self) -> None:
        pids: set[int] = set()
        found = 0.0
        while not self._done.is_set():
            if time.monotonic() - found > 0.5:  # scanning /proc for new processes costs: now and then
                pids, found = self._family(), time.monotonic()
            sizes = {pid: self._anon_mb(pid) for pid in pids}
            self.total_mb = max(self.total_mb, sum(sizes.values()))
            workers = [v for pid, v in sizes.items() if pid != self.pid]
            if workers:
                self.worker_mb = max(self.worker_mb, max(workers))
            self._done.wait(0.1)


def generate(path: Path, size_mb: int, seed: int = 1) -> int:
    """A CSV of mixed types (ints, floats, bools, dates, timestamps, quoted strings, nulls) with
    unique shuffled int64 keys; returns the row count."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    words = pa.array(["alpha", "beta", "gamma, delta", 'say "hi"', "zeta", "lorem ipsum dolor", "ünïcödé", "x"])
    batch = 1_000_000
    rows = int(size_mb * 1e6 / 103) + 1  # about 103 bytes per row
    rows = -(-rows // batch) * batch
    keys = rng.permutation(rows).astype(np.int64) * 7 + 3
    schema = None
    writer = None
    for start in range(0, rows, batch):
        n = batch
        name = words.take(pa.array(rng.integers(0, len(words), n)))
        name = pc.if_else(pa.array(rng.random(n) < 0.05), pa.scalar(None, pa.string()), name)
        code = pc.binary_join_element_wise("C", pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 10**6, n)),
                                                                      pa.string()), 6, "0"), "")
        table = pa.table({
            "id": keys[start : start + n],
            "qty": rng.integers(-1000, 100000, n),
            "price": np.round(rng.random(n) * 1000, 2),
            "score": rng.standard_normal(n),
            "flag": rng.random(n) < 0.5,
            "day": np.datetime64("2000-01-01") + rng.integers(0, 9000, n).astype("timedelta64[D]"),
            "at": np.datetime64("2020-01-01T00:00:00", "s") + rng.integers(0, 10**8, n).astype("timedelta64[s]"),
            "name": name,
            "code": code,
        })
        if writer is None:
            schema = table.schema
            writer = pcsv.CSVWriter(str(path), schema)
        writer.write_table(table.cast(schema))
    assert writer is not None
    writer.close()
    return rows


def run_json(code: str, *args: str, watch: bool = False, cpus: int | None = None) -> dict[str, Any]:
    """Run `code` in a fresh process (pinned to its first `cpus` CPUs: N workers get N cores and
    no more, helper threads included) and return the JSON it prints."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    allowed = sorted(os.sched_getaffinity(0))
    pin = set(allowed[:cpus]) if cpus else set(allowed)
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, preexec_fn=lambda: os.sched_setaffinity(0, pin))
    watcher = MemoryWatch(proc.pid) if watch else None
    out, err = proc.communicate()
    memory = watcher.stop() if watcher else {}
    if proc.returncode != 0:
        raise RuntimeError(err)
    return {**json.loads(out.strip().splitlines()[-1]), **memory}


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return min(runs, key=lambda r: r["wall"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1100, help="input size (default 1100 MB)")
    parser.add_argument("--workers", default=None, help="worker counts, e.g. 1,2,4 (default 1..all CPUs)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of measurements; the best of each counts")
    parser.add_argument("--memory-limit-mb", type=int, default=256,
                        help="the bounded-memory runs' budget (default 256, below a quarter of the input)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "etl" / "results.json"))
    parser.add_argument("--tmp", default=None, help="where to put the generated input (default: system temp)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from rodata.etl.resources import available_cpus

    cpus = available_cpus()
    counts = [int(w) for w in args.workers.split(",")] if args.workers else list(range(1, cpus + 1))
    work = Path(tempfile.mkdtemp(prefix="rodata-etl-bench-", dir=args.tmp))
    try:
        csv_path = work / "input.csv"
        t = time.perf_counter()
        rows = run_json(GENERATE_RUN, str(csv_path), str(args.size_mb))["rows"]
        size = csv_path.stat().st_size
        print(f"generated {size / 1e6:,.0f} MB, {rows:,} rows in {time.perf_counter() - t:.0f} s", flush=True)
        with open(csv_path, "rb") as fh:  # warm the page cache: every run reads from memory
            while fh.read(64 << 20):
                pass

        results: dict[str, Any] = {
            "machine": {"cpus_usable": cpus, "cpu_count": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(), "processor": _cpu_model()},
            "input": {"bytes": size, "rows": rows, "columns": 9},
            "pyarrow": {}, "rodata": {},
        }
        import pyarrow

        results["machine"]["pyarrow"] = pyarrow.__version__
        # Rounds: every configuration once per round, so that a busier or quieter machine at some
        # moment touches all of them alike; the best run of each counts.
        configs = [("pyarrow", "single_thread"), ("pyarrow", "multi_thread")] + [("rodata", str(w)) for w in counts]
        runs: dict[tuple[str, str], list[dict[str, Any]]] = {c: [] for c in configs}
        for round_ in range(args.repeat):
            for tool, label in configs:
                if tool == "pyarrow":
                    threads = label == "multi_thread"
                    got = run_json(PYARROW_RUN, str(csv_path), "1" if threads else "0", cpus=None if threads else 1)
                else:
                    root = work / "data"
                    got = run_json(RODATA_RUN, str(csv_path), str(root), label, "0", watch=True, cpus=int(label))
                    shutil.rmtree(root, ignore_errors=True)
                runs[(tool, label)].append(got)
                print(f"round {round_ + 1}: {tool} {label}: {size / 1e6 / got['wall']:.1f} MB/s wall, "
                      f"{size / 1e6 / got['cpu']:.1f} MB per CPU-second", flush=True)
        for label in ("single_thread", "multi_thread"):
            results["pyarrow"][label] = _rates(best(runs[("pyarrow", label)]), size, rows)
        for workers in counts:
            got = best(runs[("rodata", str(workers))])
            entry = _rates(got, size, rows)
            entry.update(phases=got["report"]["seconds"], work=got["report"]["work"], parts=got["report"]["parts"],
                         peak_anon_mb=got["peak_anon_mb"], peak_worker_anon_mb=got["peak_worker_anon_mb"])
            results["rodata"][str(workers)] = entry
        results["runs"] = {f"{tool} {label}": [round(r["wall"], 3) for r in got_runs]
                           for (tool, label), got_runs in runs.items()}
        # Bounded memory: the same budget on the whole input and on a quarter of it; the peak of
        # private memory must not follow the input size.
        quarter = work / "quarter.csv"
        _head_copy(csv_path, quarter, size // 4)
        limit = args.memory_limit_mb << 20
        results["bounded_memory"] = {"workers": max(counts), "memory_limit_mb": args.memory_limit_mb}
        for label, path in (("whole", csv_path), ("quarter", quarter)):
            root = work / "data"
            got = run_json(RODATA_RUN, str(path), str(root), str(max(counts)), str(limit), watch=True,
                           cpus=max(counts))
            shutil.rmtree(root, ignore_errors=True)
            results["bounded_memory"][label] = {
                "input_mb": round(path.stat().st_size / 1e6, 1),
                **_rates(got, path.stat().st_size, got["report"]["rows_in"]),
                "peak_anon_mb": got["peak_anon_mb"], "peak_worker_anon_mb": got["peak_worker_anon_mb"],
                "parts": got["report"]["parts"]}
            print(f"bounded {label}: {results['bounded_memory'][label]}", flush=True)
        results["ratios"] = _ratios(results, counts)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
        print(json.dumps(results["ratios"], indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _head_copy(src: Path, dst: Path, nbytes: int) -> None:
    """The first `nbytes` of a CSV, cut after a whole record (no field of the data holds a newline)."""
    with open(src, "rb") as fh:
        data = fh.read(nbytes)
    dst.write_bytes(data[: data.rindex(b"\n") + 1])


def _rates(run: dict[str, Any], size: int, rows: int) -> dict[str, Any]:
    return {"wall_s": round(run["wall"], 3), "cpu_s": round(run["cpu"], 3),
            "mb_per_s": round(size / 1e6 / run["wall"], 1), "rows_per_s": round(rows / run["wall"]),
            "mb_per_cpu_s": round(size / 1e6 / run["cpu"], 1)}


def _ratios(results: dict[str, Any], counts: list[int]) -> dict[str, Any]:
    base = results["pyarrow"]["single_thread"]
    one = results["rodata"][str(counts[0])] if counts[0] == 1 else None
    out: dict[str, Any] = {}
    if one is not None:
        out["per_core_vs_pyarrow_1_thread_wall"] = round(one["mb_per_s"] / base["mb_per_s"], 3)
        out["per_core_vs_pyarrow_1_thread_cpu"] = round(one["mb_per_cpu_s"] / base["mb_per_cpu_s"], 3)
        out["speedup"] = {w: round(one["wall_s"] / results["rodata"][str(w)]["wall_s"], 3) for w in counts}
        out["efficiency"] = {w: round(out["speedup"][w] / w, 3) for w in counts}
    top = results["rodata"][str(max(counts))]
    out["all_workers_vs_pyarrow_multi_thread_wall"] = round(top["mb_per_s"] / results["pyarrow"]["multi_thread"]
                                                            ["mb_per_s"], 3)
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
