"""Time to ready: process start to ``/healthz`` 200 for a version of about 1 GiB (its files in the page
cache, just written), and the load itself (map, checksums, deep validation) as the server logs it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
from servers import PYTHON, Proc

import rodata


def make_big_version(root: Path, gib: float) -> int:
    """A dataset of about `gib` GiB (a 64-float vector per row) under `root`; returns its bytes."""
    rows = int(gib * (1 << 30) / (64 * 4 + 8))
    rng = np.random.default_rng(2)
    emb = rng.random((rows, 64), dtype=np.float32)
    version = rodata.write(root, "big", {"id": np.arange(rows, dtype=np.int64), "emb": emb}, key="id")
    return int(version.manifest.bytes)


def _ts(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc).timestamp()


def measure_ready(tmp: Path, gib: float, port: int, core: int) -> dict[str, float]:
    nbytes = make_big_version(tmp / "big", gib)
    log_path = tmp / "big.log"
    server = Proc("rodata-big", [PYTHON, "-m", "rodata", "serve", "--data-root", str(tmp / "big"), "--port",
                                 str(port)], port, core, log=log_path)
    try:
        total = server.wait_http("/healthz")
        rss = server.rss_anon_mib()
    finally:
        server.stop()
    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    started = next(x for x in lines if x.get("message") == "Application startup complete.")
    loaded = next(x for x in lines if x.get("event") == "dataset_loaded")
    load_s = _ts(loaded["ts"]) - _ts(started["ts"])
    print(f"ready for {nbytes / 2**30:.2f} GiB: {total:.2f} s from process start "
          f"({load_s:.2f} s map + verify); RssAnon {rss:.1f} MiB", flush=True)
    return {"bytes": nbytes, "process_start_to_ready_s": round(total, 3), "map_verify_s": round(load_s, 3),
            "verify_gb_s": round(nbytes / 1e9 / max(load_s, 1e-3), 2), "rss_anon_mib": round(rss, 1)}
