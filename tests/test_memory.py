"""Resident memory after open does not grow with the file: the data stays in the page cache.

Measured in a fresh child process from /proc/self/status (RssAnon: memory the process owns, as opposed to
file pages it maps, which the kernel can drop and re-read at will)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import rodata

CHILD = """
import json, sys
import rodata

def anon_kib():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])

before = anon_kib()
ds = rodata.open(sys.argv[1], verify=True)
ds.get_many(list(range(0, 1000)))
ds.column("x").sum()
print(json.dumps({"delta_kib": anon_kib() - before, "bytes": ds.nbytes}))
"""


def _anon_growth(path: Path) -> dict[str, int]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_anonymous_memory_after_open_is_independent_of_file_size(data_root: Path) -> None:
    for name, rows in (("small", 10_000), ("large", 8_000_000)):
        keys = np.arange(rows, dtype=np.int64)
        rodata.write(data_root, name, {"k": keys, "x": np.ones(rows), "y": keys * 3}, key="k")
    small, large = _anon_growth(data_root / "small"), _anon_growth(data_root / "large")
    assert large["bytes"] > 200 * small["bytes"] > 0  # ~330 MB against ~0.4 MB
    # Opening, verifying and reading a whole column of the large one costs no more owned memory
    # than the small one, give or take allocator noise.
    assert large["delta_kib"] < small["delta_kib"] + 4096, (small, large)
