"""How long opening and validating a version holds the GIL, as a server's event loop sees it.

A ticker thread sleeps 1 ms in a loop and records the longest gap between its wake-ups while another thread
opens (and deep-validates) a version; the same ticker alone is the baseline of the same run.

    python benchmarks/core/gil_stall.py [--rows 5000000]

Cases: a forged segment whose directory lists a million entries (of a kind a newer minor version may add, so
the reader must walk them), and deep validation of a real version of `--rows` rows."""

from __future__ import annotations

import argparse
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import rodata
from rodata._core import Segment, xxh64


def longest_gap(work: Callable[[], object]) -> tuple[float, float]:
    """(longest gap between 1 ms ticks in ms, seconds `work` took) while `work` runs in a thread."""
    done = threading.Event()
    gaps: list[float] = []

    def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.05)
    started = time.perf_counter()
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    took = time.perf_counter() - started
    done.set()
    ticker.join()
    return max(gaps) * 1e3, took


def forged_directory(part: Path, out: Path, extra: int) -> None:
    data = bytearray(part.read_bytes())
    t = len(data) - 64
    dir_off, count = struct.unpack_from("<QQ", data, t)
    entries = bytes(data[dir_off : dir_off + 32 * count])
    filler = struct.pack("<HHIQQQ", 77, 0, 0, dir_off, 0, xxh64(b"")) * extra
    body = bytearray(data[:dir_off]) + entries + filler
    body += bytes(-len(body) % 64)
    trailer = bytearray(64)
    struct.pack_into("<QQQQ", trailer, 0, dir_off, count + extra, xxh64(bytes(entries + filler)), len(body) + 64)
    struct.pack_into("<Q", trailer, 48, xxh64(bytes(trailer[:48])))
    trailer[56:] = b"RODATEND"
    out_buf = body + trailer
    struct.pack_into("<H", out_buf, 10, 9)  # a newer minor version: unknown kinds are skipped, not refused
    struct.pack_into("<Q", out_buf, 56, xxh64(bytes(out_buf[:56])))
    out.write_bytes(bytes(out_buf))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small = rodata.write(root, "small", {"k": np.arange(10), "x": np.arange(10)}, key="k")
        forged = root / "forged.seg"
        forged_directory(small.path / "part-00000.seg", forged, 1_000_000)
        rng = np.random.default_rng(0)
        n = args.rows
        big = rodata.write(root, "big", {"id": np.arange(n), "x": rng.random(n),
                                         "name": [f"user-{i}" for i in range(n)]}, key="id")
        size = sum(p.bytes for p in big.manifest.parts)
        cases: list[tuple[str, Callable[[], object]]] = [
            ("ticker alone (baseline)", lambda: time.sleep(0.3)),
            (f"open a forged segment, 1,000,000 directory entries ({forged.stat().st_size / 1e6:.0f} MB)",
             lambda: Segment(forged, verify=True)),
            (f"rodata.validate, {n:,} rows ({size / 1e6:.0f} MB)", lambda: rodata.validate(big.path)),
        ]
        print("| case | work (s) | longest gap between 1 ms ticks (ms) |\n|---|---:|---:|")
        for name, work in cases:
            gap, took = longest_gap(work)
            print(f"| {name} | {took:.3f} | {gap:.1f} |")


if __name__ == "__main__":
    main()
