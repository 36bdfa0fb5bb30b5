"""The harness's tables: every job's medians, and rodata's figures against each target of the
"hot routes below ASGI" work, each marked met or not met (ratios within the same run)."""

from __future__ import annotations

import math
from typing import Any

#: (name, text, how the figure is computed, the bound, "min" (figure ≥ bound) or "max" (figure ≤ bound)).
TARGETS: tuple[tuple[str, str, str, float, str], ...] = (
    ("row_vs_roapi", "single-key GET ≥ 1.3x ROAPI key-value", "ratio", 1.3, "min"),
    ("row_vs_asgi", "single-key GET ≥ 2.5x raw ASGI (hello world on uvicorn)", "ratio", 2.5, "min"),
    ("row_cpu_us", "single-key GET ≤ 15 µs server CPU per request", "cpu", 15.0, "max"),
    ("lookup_json_all", "lookup of 1,000 keys as JSON, all 20 columns ≥ 0.5 M keys/s", "keys", 0.5e6, "min"),
    ("lookup_json_numeric", "lookup of 1,000 keys as JSON, 4 numeric columns ≥ 3 M keys/s", "keys", 3e6, "min"),
    ("lookup_binary_npz", "lookup of 20,000 binary keys, npz out ≥ 5 M keys/s", "keys", 5e6, "min"),
    ("auth_cost_us", "access control on the fast path < 2 µs per request (the row with a token, less without)",
     "auth", 2.0, "max"),
)


def _median(results: dict[str, Any], job: str) -> dict[str, float] | None:
    entry = results["jobs"].get(job)
    if not entry or entry.get("skipped"):
        return None
    return entry["median"]  # type: ignore[no-any-return]


def _skip_reason(results: dict[str, Any], job: str) -> str:
    entry = results["jobs"].get(job)
    return str(entry["skipped"]) if entry and entry.get("skipped") else "not measured"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its figure (None when a side is missing), the text of how it was got, met or not."""
    row = _median(results, "rodata_row")
    out = []
    for name, text, kind, bound, sense in TARGETS:
        figure: float | None = None
        detail = ""
        if kind == "ratio":
            peer_job = {"row_vs_roapi": "roapi_kv", "row_vs_asgi": "hello_asgi"}[name]
            peer = _median(results, peer_job)
            if row and peer:
                figure = row["req_s"] / peer["req_s"]
                # On a shared machine the server's core is not all its own: CPU per request is the steadier
                # estimate of what one core does, so the ratio of those is given beside.
                by_cpu = peer["cpu_us_per_req"] / row["cpu_us_per_req"]
                detail = (f"{figure:.2f}x ({row['req_s']:,.0f} / {peer['req_s']:,.0f} req/s); by server CPU per "
                          f"request {by_cpu:.2f}x ({peer['cpu_us_per_req']:.1f} / {row['cpu_us_per_req']:.1f} µs)")
            else:
                detail = f"not measured: {_skip_reason(results, peer_job if row else 'rodata_row')}"
        elif kind == "auth":
            gated = _median(results, "rodata_row_token")
            if row and gated:
                figure = gated["cpu_us_per_req"] - row["cpu_us_per_req"]
                detail = (f"{figure:.1f} µs ({gated['cpu_us_per_req']:.1f} with a bearer token, "
                          f"{row['cpu_us_per_req']:.1f} open)")
            else:
                detail = f"not measured: {_skip_reason(results, 'rodata_row_token')}"
        elif kind == "cpu":
            if row:
                figure = row["cpu_us_per_req"]
                detail = f"{figure:.1f} µs"
        else:
            got = _median(results, name)
            if got:
                figure = got["keys_s"]
                per_cpu = got["keys_s"] / got["req_s"] / got["cpu_us_per_req"]  # keys per server CPU-µs = M/s
                detail = f"{figure / 1e6:.3f} M keys/s ({per_cpu:.3f} M per second of server CPU)"
            else:
                detail = _skip_reason(results, name)
        met = figure is not None and not math.isnan(figure) and (figure >= bound if sense == "min" else figure <= bound)
        out.append({"target": name, "text": text, "figure": figure, "bound": bound, "measured": detail,
                    "met": met})
    return out


def _ms(value: float) -> str:
    if math.isnan(value):
        return ""
    return f"{value * 1000:.0f} µs" if value < 1 else f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms"


def jobs_table(results: dict[str, Any], group: str) -> str:
    """The markdown table of one group of jobs ("single": the peers, "rodata": rodata's other routes)."""
    single = group == "single"
    head = ("| server | req/s | p50 | p99 | server CPU µs / request | server core busy |\n"
            "|---|---:|---:|---:|---:|---:|" if single else
            "| route | req/s | keys/s or MB/s | p50 | p99 | server CPU µs / request |\n|---|---:|---:|---:|---:|---:|")
    lines = [head]
    for name, entry in results["jobs"].items():
        if entry["group"] != group:
            continue
        label = entry["label"]
        if entry.get("skipped"):
            lines.append(f"| {label} | {entry['skipped']} |" + " |" * 4)
            continue
        m = entry["median"]
        cells = [f"{m['req_s']:,.0f}"]
        if not single:
            rate = (f"{m['keys_s'] / 1e6:.3f} M keys/s" if "keys_s" in m else
                    f"{m['mb_s']:,.0f} MB/s" if "mb_s" in m else "")
            cells.append(rate)
        cells += [_ms(m["p50_ms"]), _ms(m["p99_ms"]), f"{m['cpu_us_per_req']:.1f}"]
        if single:
            # req/s x CPU per request: how much of its core the server used; under 100 % the load
            # generator or other work on the machine, not the server, set the pace.
            cells.append(f"{m['req_s'] * m['cpu_us_per_req'] / 1e4:.0f} %")
        if name.startswith("rodata_row"):
            label = f"**{label}**"
            cells = [f"**{c}**" if c else c for c in cells]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets_table(results: dict[str, Any]) -> str:
    lines = ["| target | measured | |", "|---|---|---|"]
    for t in results["targets"]:
        lines.append(f"| {t['text']} | {t['measured']} | {'met' if t['met'] else 'not met'} |")
    return "\n".join(lines)


def scaling_table(results: dict[str, Any]) -> str:
    lines = ["| processes (one core each) | aggregate req/s | req/s per process | scaling per core | "
             "server CPU µs / request |", "|---:|---:|---:|---:|---:|"]
    for step in results["scaling"]:
        lines.append(f"| {step['processes']} | {step['req_s']:,.0f} | {step['req_s_per_process']:,.0f} | "
                     f"{step['scaling_per_core']:.2f} | {step['cpu_us_per_req']:.1f} |")
    return "\n".join(lines)
