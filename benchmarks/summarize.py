"""Turn a pytest-benchmark JSON file into a Markdown table of throughput and ratios per group.

Usage: python benchmarks/summarize.py RESULTS.json — the first benchmark of each group whose name contains
"rodata" is the subject; every other member is a baseline it is compared with."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import Any


def _rate(bench: dict[str, Any]) -> tuple[float, str]:
    info = bench.get("extra_info", {})
    per_call = float(info.get("items_per_call", 1))
    unit = str(info.get("unit", "calls"))
    median = float(bench["stats"]["median"])
    return per_call / median, unit


def _fmt(rate: float, unit: str) -> str:
    if unit == "bytes":
        return f"{rate / 1e9:.2f} GB/s"
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if rate >= scale:
            return f"{rate / scale:.2f} {suffix} {unit}/s"
    return f"{rate:.1f} {unit}/s"


def summarize(doc: dict[str, Any]) -> str:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for bench in doc["benchmarks"]:
        groups[bench["group"] or bench["name"]].append(bench)
    lines = ["| benchmark | implementation | median | throughput | rodata / this |", "|---|---|---|---|---|"]
    for group, members in groups.items():
        subject = next((b for b in members if "rodata" in b["name"]), members[0])
        subject_rate, _ = _rate(subject)
        for b in members:
            rate, unit = _rate(b)
            name = b["name"].removeprefix("test_")
            lines.append(f"| {group} | {name} | {b['stats']['median'] * 1e3:.2f} ms | {_fmt(rate, unit)} | "
                         f"{subject_rate / rate:.2f}x |")
    machine = doc.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw", "?")
    lines.append("")
    lines.append(f"Machine: {cpu}, Python {machine.get('python_version', '?')}; {doc.get('datetime', '')}")
    return "\n".join(lines)


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        print(summarize(json.load(fh)))
