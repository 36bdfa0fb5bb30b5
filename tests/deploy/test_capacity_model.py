"""The capacity model of docs/deploy.md adds up: its worked examples are recomputed from the figures the
text states (so a changed figure that is not carried through fails), and the figures it takes from the
manifests (the memory limit, prod-large's share and kept versions, the startup read rate) are those the
overlays render."""

from __future__ import annotations

import math
import re

import pytest

from tests.deploy.manifests import REPO, Rendered, env_of, parse_quantity

DOCS = REPO / "docs" / "deploy.md"
BENCHMARKS = REPO / "docs" / "benchmarks.md"
#: Each route of the worked table, and what names its row in docs/benchmarks.md (the single-key GET with
#: a bearer token, as the prod overlays serve it).
BENCHMARK_ROWS = {
    "single-key GET": "the same GET with `--tokens`",
    "lookup, 1,000 keys, JSON, all columns": "| lookup, 1,000 keys, JSON, all 20 columns |",
    "lookup, 20,000 binary keys, npz": "| lookup, 20,000 binary keys",
    "column slice, 2.4 MB": "| column slice, 300,000 int64 values (2.4 MB)",
}
_SCALE = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}
MiB = 2**20


@pytest.fixture(scope="module")
def section() -> str:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"^## Capacity model\n(.*?)(?=^## )", text, re.DOTALL | re.MULTILINE)
    assert match, "docs/deploy.md has no 'Capacity model' section"
    return match.group(1)


def flat(section: str) -> str:
    """The section's prose with every run of white space (line breaks included) as one space, and its
    multiplication signs as `*`."""
    return re.sub(r"\s+", " ", section).replace("\N{MULTIPLICATION SIGN}", "*")


def agrees(value: float, stated: str) -> bool:
    """Whether `stated` is `value` rounded to the digits it shows."""
    digits = len(stated.partition(".")[2])
    return abs(value - number(stated)) <= 0.5 * 10**-digits + 1e-9


def number(text: str) -> float:
    return float(text.replace(",", ""))


def rate(text: str) -> float:
    """'98,250 req/s', '1.05 M keys/s', '2.5 GB/s' as units per second."""
    match = re.fullmatch(r"([0-9][0-9,.]*) ?([kMG]?) ?[A-Za-z/]+", text.strip())
    assert match, f"not a rate: {text!r}"
    return number(match.group(1)) * _SCALE[match.group(2)]


def routes(section: str) -> tuple[list[tuple[str, float, float, str]], str]:
    """(route, per-core figure, load, stated cores) of the worked table, and its stated total."""
    found: list[tuple[str, float, float, str]] = []
    total: str | None = None
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in lines]
    for name, figure, load, cores in (c for c in cells if len(c) == 4 and c[0] != "route"):
        if name == "all routes":
            total = cores
            continue
        found.append((name, rate(figure), rate(load.split("=")[-1]), cores))
    assert found and total is not None, "the worked table of the capacity model is missing"
    return found, total


def test_each_route_costs_its_load_over_the_per_core_figure(section: str) -> None:
    rows, total = routes(section)
    assert {r[0] for r in rows} >= {"single-key GET", "lookup, 1,000 keys, JSON, all columns"}
    for name, figure, load, cores in rows:
        assert agrees(load / figure, cores), name
    assert agrees(sum(load / figure for _, figure, load, _ in rows), total)


def test_per_core_figures_are_those_of_the_benchmarks(section: str) -> None:
    # A new benchmark run that changes a figure must be carried into the capacity model.
    lines = BENCHMARKS.read_text(encoding="utf-8").splitlines()
    rows, _ = routes(section)
    assert {name for name, *_ in rows} == set(BENCHMARK_ROWS)
    table = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in section.splitlines()
             if line.startswith("| ")}
    for name, key in BENCHMARK_ROWS.items():
        row = next((line for line in lines if line.startswith("| ") and key in line), None)
        assert row is not None, f"docs/benchmarks.md has no row {key!r}"
        figure = table[name].split()[0]
        assert re.search(rf"(?<![0-9.,]){re.escape(figure)}(?![0-9])", row), (name, figure, row)


def test_loads_in_lookups_are_keys_times_lookups(section: str) -> None:
    rows = re.findall(r"\| lookup, ([0-9,]+) [^|]*\| [^|]*\| ([0-9,]+) lookups/s = ([0-9.]+) M keys/s \|", section)
    assert len(rows) >= 2
    for keys, lookups, total in rows:
        assert number(keys) * number(lookups) == pytest.approx(float(total) * 1e6)


def test_pods_from_the_cores_at_the_target_utilisation(section: str) -> None:
    text = flat(section)
    _, total = routes(section)
    match = re.search(r"at ([0-9]+) % target utilisation, ([0-9.]+) / ([0-9.]+) = ([0-9.]+) → ([0-9]+) pods",
                      text)
    assert match
    target, cores, share, ratio, pods = match.groups()
    assert cores == total and float(share) == int(target) / 100
    assert agrees(number(cores) / float(share), ratio)
    assert math.ceil(number(cores) / float(share)) == int(pods)
    zones = re.search(r"over ([0-9]+) zones, ([0-9]+) \* ([0-9]+) / ([0-9]+) = ([0-9.]+) → ([0-9]+) pods keep "
                      r"([0-9]+)", text)
    assert zones
    n_zones, base, z, z_less, product, with_zone, kept = map(float, zones.groups())
    assert base == int(pods) == kept and z == n_zones and z_less == n_zones - 1
    assert base * z / z_less == product and math.ceil(product) == with_zone
    # What is left when one zone's share of the pods is gone still carries the load.
    assert with_zone - math.ceil(with_zone / n_zones) >= base


def test_requests_per_pod_at_the_target(section: str) -> None:
    text = flat(section)
    rows, total = routes(section)
    match = re.search(r"this mix is ([0-9,]+) req/s \(([0-9,+ ]+)\) on ([0-9.]+) cores, so a pod at ([0-9]+) % "
                      r"answers ([0-9,]+) / ([0-9.]+) \* ([0-9.]+) = ([0-9,]+) req/s", text)
    assert match
    mix, parts, cores, target, mix2, cores2, share, per_pod = match.groups()
    # One request per lookup or slice: the loads of the table in requests.
    loads = [line.split("|")[3] for line in section.splitlines() if line.startswith("| ")]
    requests = [number(m) for m in re.findall(r"([0-9,]+) (?:req|lookups|slices)/s", " ".join(loads))]
    assert sorted(number(p) for p in parts.split("+")) == sorted(requests) and len(requests) == len(rows)
    assert number(mix) == number(mix2) == sum(requests)
    assert cores == cores2 == total and float(share) == int(target) / 100
    assert round(number(mix) / float(cores) * float(share)) == number(per_pod)


def test_the_small_case(section: str) -> None:
    text = flat(section)
    rows, _ = routes(section)
    per_core = next(figure for name, figure, _, _ in rows if name == "single-key GET")
    match = re.search(r"([0-9,]+) req/s of single-key GETs is ([0-9,]+) / ([0-9,]+) = ([0-9.]+) cores "
                      r"\(by CPU: ([0-9,]+) \* ([0-9.]+) µs = ([0-9.]+) cores\); at ([0-9]+) %: "
                      r"([0-9.]+) / ([0-9.]+) = ([0-9.]+) → ([0-9]+) pod", text)
    assert match
    load, load2, figure, cores, load3, micros, cpu_cores, target, cores2, share, ratio, pods = match.groups()
    assert number(load) == number(load2) == number(load3) and number(figure) == per_core
    assert agrees(number(load) / per_core, cores) and cores == cores2
    assert agrees(number(load) * float(micros) * 1e-6, cpu_cores)
    # The CPU per request and the throughput of one core say the same within the machine's noise.
    assert float(micros) * 1e-6 * per_core == pytest.approx(1, abs=0.05)
    assert float(share) == int(target) / 100 and agrees(float(cores) / float(share), ratio)
    assert math.ceil(float(ratio)) == int(pods)


def test_memory_from_the_hot_set(section: str, rendered_overlays: dict[str, Rendered]) -> None:
    text = flat(section)
    limit = re.search(r"with the ([0-9]+)Mi limit, about ([0-9]+) MiB are left after the heap \(under ([0-9]+) "
                      r"MiB\)", text)
    assert limit
    limit_mib, left, heap = map(int, limit.groups())
    for name in ("prod", "prod-large"):
        container = rendered_overlays[name].server_container
        assert parse_quantity(container["resources"]["limits"]["memory"]) == limit_mib * MiB, name
    assert limit_mib - heap - 10 <= left <= limit_mib - heap
    match = re.search(r"memory ≥ ([0-9]+) MiB \+ ([0-9,]+) MiB \+ ([0-9]+) % \* ([0-9,]+) MiB = ([0-9,]+) MiB, "
                      r"over ([0-9]+)Mi: set requests and limits to ([0-9]+)Mi \(the next ([0-9]+) MiB step\)",
                      text)
    assert match
    heap2, index, share, columns, needed, over, chosen, step = (number(g) for g in match.groups())
    assert heap2 == heap and over == limit_mib
    assert heap + index + share / 100 * columns == needed > limit_mib
    assert chosen == math.ceil(needed / step) * step


def test_cold_starts_within_the_filer(section: str, rendered_overlays: dict[str, Rendered]) -> None:
    text = flat(section)
    match = re.search(r"r = ([0-9]+) MiB/s and a filer that sustains F = ([0-9,]+) MiB/s: "
                      r"C = ([0-9,]+) / ([0-9]+) = ([0-9]+) pods starting at once, the rollout's `maxSurge`", text)
    assert match
    r, f, f2, r2, c = (number(g) for g in match.groups())
    assert r == r2 and f == f2 and c == math.floor(f / r) and c * r <= f
    # The figures are prod-large's: the Deployment's annotations and its surge.
    large = rendered_overlays["prod-large"]
    annotations = large.server["metadata"]["annotations"]
    assert parse_quantity(annotations["rodata.io/cold-start-read-bytes-per-second"]) == r * MiB
    assert parse_quantity(annotations["rodata.io/filer-read-bytes-per-second"]) == f * MiB
    assert large.server["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == c
    full = re.search(r"prod-large's share, ([0-9]+) TiB for ([0-9]+) kept versions, holds about ([0-9.]+) GiB live: "
                     r"([0-9.]+) \* 1,024 / ([0-9]+) = ([0-9,]+) s, ([0-9]+) minutes per pod, and a rollout of "
                     r"([0-9]+) pods in waves of ([0-9]+) takes ([0-9]+) \* ([0-9]+) = ([0-9]+) minutes", text)
    assert full
    tib, kept, live, live2, r3, secs, minutes, fleet, wave, waves, minutes2, total = (number(g) for g in full.groups())
    claim = large.one("PersistentVolumeClaim", "rodata-data")["spec"]["resources"]["requests"]["storage"]
    assert parse_quantity(claim) == tib * 2**40
    etl = large.one("CronJob", "rodata-build-daily")
    env = env_of(etl["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0])
    assert int(env["BUILD_KEEP_VERSIONS"]) == kept
    assert live == live2 == tib * 1024 / kept and r3 == r and wave == c
    assert round(live * 1024 / r) == secs and int(secs / 60) == minutes == minutes2
    assert fleet == large.one("HorizontalPodAutoscaler")["spec"]["maxReplicas"]
    assert waves == math.ceil(fleet / wave) and total == waves * minutes
