"""The cluster path against one machine: the same generated CSV built by ``rodata build --workers N``
and by ``rodata.spark.write`` on Spark ``local[N]`` (reading the CSV with Spark's own reader), in
the same run, on the same N CPUs.

Each configuration runs in a fresh process pinned to the first N CPUs; the best of ``--repeat``
runs counts.  The Spark figure is the time from ``spark.read.csv`` to the published version (the
session's start-up, a few seconds once per application, is reported apart).  Both versions are
checked to hold the same rows.  The point of the Spark path is machines beyond one; the target
here is that on one machine it stays within 2x of ``rodata build``.

    .venv/bin/python benchmarks/etl/spark_vs_build.py --rows 1000000
    .venv/bin/python benchmarks/etl/spark_vs_build.py --rows 10000000 --workers 16 --master 'local[16]'
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

#: The CSV's columns as Spark reads them (what ``rodata build`` infers from the same file).
SPARK_SCHEMA = ("id long, qty long, price double, score double, flag boolean, day date, at timestamp, "
                "name string, code string")

SPARK_RUN = """
import json, sys, time
from pyspark.sql import SparkSession
csv, root, master, repeat, memory, schema, batch = sys.argv[1:8]
repeat = int(repeat)
t0 = time.perf_counter()
spark = (SparkSession.builder.master(master).appName("rodata-bench")
         .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
         .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.memory", memory).config("spark.sql.session.timeZone", "UTC")
         .config("spark.sql.execution.arrow.maxRecordsPerBatch", batch)
         .config("spark.log.level", "ERROR").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
startup = time.perf_counter() - t0
import rodata.spark
runs = []
for _ in range(repeat + 1):  # the first run warms the JVM's JIT and the Python workers: reported apart
    t0 = time.perf_counter()
    df = spark.read.csv(csv, header=True, schema=schema, escape='"')  # RFC 4180 quotes, as the file has
    version = rodata.spark.write(df, root, "bench", key="id", allow_schema_change=True)
    wall = time.perf_counter() - t0
    t0 = time.perf_counter()  # Spark's reader alone: every column parsed, nothing shuffled or written
    spark.read.csv(csv, header=True, schema=schema, escape='"').write.format("noop").mode("overwrite").save()
    runs.append({"wall": wall, "read_only": time.perf_counter() - t0, "rows": version.rows,
                 "parts": len(version.manifest.parts)})
spark.stop()
print(json.dumps({"startup": startup, "cold": runs[0], "runs": runs[1:]}))
"""


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """The ETL benchmark's mixed-type CSV (benchmarks/etl/run.py), `rows` rows of it."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    words = pa.array(["alpha", "beta", "gamma, delta", 'say "hi"', "zeta", "lorem ipsum dolor", "ünïcödé", "x"])
    keys = rng.permutation(rows).astype(np.int64) * 7 + 3
    writer = None
    step = 1_000_000
    for start in range(0, rows, step):
        n = min(step, rows - start)
        name = words.take(pa.array(rng.integers(0, len(words), n)))
        name = pc.if_else(pa.array(rng.random(n) < 0.05), pa.scalar(None, pa.string()), name)
        code = pc.binary_join_element_wise(
            "C", pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 10**6, n)), pa.string()), 6, "0"), "")
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
            writer = pcsv.CSVWriter(str(path), table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def _pinned(cpus: int) -> set[int]:
    allowed = sorted(os.sched_getaffinity(0))
    if cpus > len(allowed):
        raise SystemExit(f"{cpus} CPUs asked for, {len(allowed)} available")
    return set(allowed[:cpus])


def _run(cmd: list[str], cpus: int) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
               PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    pin = _pinned(cpus)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          preexec_fn=lambda: os.sched_setaffinity(0, pin), check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed:\n{proc.stderr[-4000:]}")
    return proc.stdout


def build_runs(csv: Path, root: Path, workers: int, repeat: int) -> list[dict[str, Any]]:
    runs = []
    rodata_cli = [sys.executable, "-m", "rodata", "build", str(csv), "--dataset", "bench", "--key", "id",
                  "--data-root", str(root), "--workers", str(workers), "--json", "--no-progress",
                  "--allow-schema-change"]
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = json.loads(_run(rodata_cli, workers))
        runs.append({"wall": time.perf_counter() - t0, "rows": report.get("rows_out", report.get("rows"))})
    return runs


def spark_runs(csv: Path, root: Path, master: str, cpus: int, repeat: int, memory: str, batch: int,
               ) -> dict[str, Any]:
    out = _run([sys.executable, "-c", SPARK_RUN, str(csv), str(root), master, str(repeat), memory, SPARK_SCHEMA,
                str(batch)], cpus)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def same_rows(a: Path, b: Path, sample: int = 2000) -> bool:
    """The two versions hold the same keys and, on a sample of them, the same rows."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "src"))
    import rodata

    with rodata.open(a) as x, rodata.open(b) as y:
        if len(x) != len(y) or not np.array_equal(x.column("id"), y.column("id")):
            return False
        keys = x.column("id")[:: max(1, len(x) // sample)]
        return all(x.get(int(k)) == y.get(int(k)) for k in keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of generated CSV (~100 bytes each)")
    parser.add_argument("--workers", type=int, default=2, help="rodata build --workers N, on N CPUs (default 2)")
    parser.add_argument("--master", default=None, help="the Spark master (default local[N] for --workers N)")
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs (default 2; Spark's cold run apart)")
    parser.add_argument("--driver-memory", default="2g", help="Spark's driver (and, locally, executor) memory")
    parser.add_argument("--arrow-batch", type=int, default=100_000,
                        help="spark.sql.execution.arrow.maxRecordsPerBatch (default 100000; Spark's own is 10000)")
    parser.add_argument("--tmp", default=None, help="where to put the generated input (default: system temp)")
    parser.add_argument("--out", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    master = args.master or f"local[{args.workers}]"
    cpus = args.workers
    if master.startswith("local[") and master[6:-1].isdigit():
        cpus = max(cpus, int(master[6:-1]))

    work = Path(tempfile.mkdtemp(prefix="rodata-spark-bench-", dir=args.tmp))
    try:
        csv = work / "input.csv"
        generate(csv, args.rows)
        size = csv.stat().st_size
        subprocess.run(["cat", str(csv)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        # rodata build runs before and after Spark's, so that a change in the machine's load shows in both
        build = build_runs(csv, work / "build", args.workers, args.repeat)
        spark = spark_runs(csv, work / "spark", master, cpus, args.repeat, args.driver_memory, args.arrow_batch)
        build += build_runs(csv, work / "build", args.workers, args.repeat)
        best_build = min(r["wall"] for r in build)
        best_spark = min(r["wall"] for r in spark["runs"])
        best_read = min(r["read_only"] for r in spark["runs"])
        result = {
            "rows": args.rows, "input_mb": round(size / 1e6, 1), "cpus": cpus,
            "rodata_build": {"workers": args.workers, "seconds": round(best_build, 2),
                             "mb_per_s": round(size / 1e6 / best_build, 1), "runs": build},
            "spark": {"master": master, "seconds": round(best_spark, 2), "mb_per_s": round(size / 1e6 / best_spark, 1),
                      "startup_seconds": round(spark["startup"], 2),
                      "cold_seconds": round(spark["cold"]["wall"], 2), "read_only_seconds": round(best_read, 2),
                      "arrow_batch": args.arrow_batch, "parts": spark["runs"][-1]["parts"],
                      "runs": spark["runs"]},
            "spark_over_build": round(best_spark / best_build, 2),
            "same_rows": same_rows(work / "build" / "bench", work / "spark" / "bench"),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"input: {result['rows']:,} rows, {result['input_mb']} MB on {cpus} CPUs")
    print(f"rodata build --workers {args.workers}: {best_build:.2f} s ({result['rodata_build']['mb_per_s']} MB/s)")
    print(f"rodata.spark.write on {master}: {best_spark:.2f} s ({result['spark']['mb_per_s']} MB/s; apart: session "
          f"start-up {result['spark']['startup_seconds']} s, first run {result['spark']['cold_seconds']} s), "
          f"{result['spark']['parts']} parts")
    print(f"Spark's CSV reader alone (every column parsed, nothing shuffled or written): {best_read:.2f} s")
    print(f"spark / build: {result['spark_over_build']}x (target: within 2x); same rows: {result['same_rows']}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
