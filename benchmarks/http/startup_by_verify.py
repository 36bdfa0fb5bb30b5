"""Start-up time per GiB by verification mode: the first load of a catalog (what a server does
before ``/healthz`` turns 200) for a version of about ``--gib`` GiB, in ``--verify full`` and
``--verify recorded``, with the files in the page cache (just written) and out of it (each file's
pages dropped with ``posix_fadvise(DONTNEED)`` first: every byte read from the disk again, as a pod
on a shared filer reads them).

    python benchmarks/http/startup_by_verify.py --gib 1 [--dir /scratch] [--repeat 3]

Prints one line per mode and cache state, seconds and seconds per GiB, and a JSON summary."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from ready import make_big_version

from rodata.catalog import Catalog


def drop_cache(root: Path) -> None:
    """Ask the kernel to drop the cached pages of every file under `root` (clean pages: no privilege needed)."""
    for path in root.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def first_load(root: Path, mode: str) -> float:
    catalog = Catalog(root, verify=mode)
    started = time.perf_counter()
    events = catalog.load()
    seconds = time.perf_counter() - started
    if [e.kind for e in events] != ["loaded"]:
        raise SystemExit(f"{mode}: the version was not loaded: {events}")
    catalog.stop()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=1.0, help="size of the version (default 1)")
    parser.add_argument("--dir", default=None, help="where to write it (default: a temporary directory)")
    parser.add_argument("--repeat", type=int, default=3, help="loads per case; the best is reported (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp) / "data"
        nbytes = make_big_version(root, args.gib)
        gib = nbytes / 2**30
        results: dict[str, dict[str, float]] = {}
        for cache in ("warm", "cold"):
            for mode in ("full", "recorded"):
                times = []
                for _ in range(args.repeat):
                    if cache == "cold":
                        drop_cache(root)
                    times.append(first_load(root, mode))
                best = min(times)
                results[f"{mode}_{cache}"] = {"seconds": round(best, 4), "seconds_per_gib": round(best / gib, 4)}
                print(f"{mode:>8} {cache}: {best:8.3f} s for {gib:.2f} GiB = {best / gib:8.4f} s/GiB", flush=True)
        print(json.dumps({"bytes": nbytes, **results}))


if __name__ == "__main__":
    main()
