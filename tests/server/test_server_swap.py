"""Hot swaps under load: no failed request, each answer wholly from one version, corrupt versions
refused while the old one keeps serving, datasets appearing and disappearing, old mappings released."""

from __future__ import annotations

import io
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np

import rodata
from rodata.catalog import Catalog, CatalogEvent
from rodata.store import CURRENT
from tests.server.httpkit import Client, Server

ROWS = 3000
SWAPS = 4


def publish(root: Path, gen: int) -> str:
    """Version `gen` of dataset ``swap``: every row says which generation it belongs to."""
    keys = np.arange(ROWS, dtype=np.int64)
    return rodata.write(root, "swap", {"k": keys, "gen": np.full(ROWS, gen, dtype=np.int64),
                                       "val": keys * 1000 + gen, "tag": [f"g{gen}"] * ROWS},
                        key="k", rows_per_part=1000, keep_versions=2).name


def check_answer(kind: str, got: Any, seen: dict[str, int]) -> int:
    """The generation an answer comes from; fails unless all of it comes from that one generation,
    the one its version header names."""
    assert got.status == 200, (kind, got.status, got.body[:300])
    if kind == "row":
        row = got.json()
        gen = row["gen"]
        assert row["val"] == row["k"] * 1000 + gen and row["tag"] == f"g{gen}"
    elif kind == "lookup":
        rows = got.json()["rows"]
        gen = rows[0]["gen"]
        assert all(r["gen"] == gen and r["val"] == r["k"] * 1000 + gen for r in rows)
    elif kind == "npz":
        arrays = np.load(io.BytesIO(got.body))
        gen = int(arrays["values/gen"][0])
        assert arrays["found"].all() and (arrays["values/gen"] == gen).all()
    elif kind == "column":
        values = np.frombuffer(got.body, "<i8")
        gen = int(values[0])
        assert len(values) == 2000 and (values == gen).all()
    else:  # a scan page
        rows = got.json()["rows"]
        gen = rows[0]["gen"]
        assert all(r["gen"] == gen for r in rows) and len(rows) == 500
    assert seen.setdefault(got.headers["x-rodata-version"], gen) == gen
    return int(gen)


def load_loop(port: int, seen: dict[str, int], stop: threading.Event, out: dict[str, Any]) -> None:
    """Requests of every hot kind, round robin, until told to stop (bounded by the publisher)."""
    client = Client(port)
    keys = list(range(0, ROWS, 37))
    requests = [
        ("row", lambda i: client.get(f"/v1/datasets/swap/rows/{(i * 7) % ROWS}")),
        ("lookup", lambda i: client.post("/v1/datasets/swap/lookup", {"keys": keys})),
        ("npz", lambda i: client.post("/v1/datasets/swap/lookup", {"keys": keys, "format": "npz",
                                                                    "columns": ["gen"]})),
        ("column", lambda i: client.get("/v1/datasets/swap/columns/gen?offset=500&limit=2000")),
        ("scan", lambda i: client.get("/v1/datasets/swap/scan?start=900&limit=500")),
    ]
    done, gens = 0, set()
    try:
        while not stop.is_set() and done < 200_000:
            kind, call = requests[done % len(requests)]
            gens.add(check_answer(kind, call(done), seen))
            done += 1
    except BaseException as exc:  # reported to the test thread
        out["error"] = exc
    finally:
        client.close()
        out["done"], out["gens"] = done, gens


def test_hot_swap_under_load_loses_no_request(tmp_path: Path) -> None:
    root = tmp_path / "root"
    versions = {publish(root, 1): 1}
    server = Server(root, tmp_path / "server.log")
    try:
        server.wait_ready()
        stop, out, seen = threading.Event(), {}, {}
        loader = threading.Thread(target=load_loop, args=(server.port, seen, stop, out))
        loader.start()
        try:
            for gen in range(2, 2 + SWAPS):
                version = publish(root, gen)
                versions[version] = gen
                server.wait_until(lambda v=version: server.get("/v1/datasets/swap").json()["version"] == v,
                                  f"version {version} served")
                if "error" in out:
                    break
        finally:
            stop.set()
            loader.join(120)
        if "error" in out:
            raise out["error"]
        assert out["done"] > 0 and len(out["gens"]) >= 2
        assert all(versions[v] == gen for v, gen in seen.items())  # each header named its own data
        health = server.get("/healthz").json()["datasets"][0]
        assert health["swaps"] == SWAPS and health["refused"] == []
        # The old versions' mappings go away once no request uses them.
        live = server.get("/v1/datasets/swap").json()["version"]
        server.wait_until(lambda: not any(f"/swap/{v}/" in p for p in server.mapped_paths()
                                          for v in versions if v != live), "old mappings released")
        assert any(f"/swap/{live}/" in p for p in server.mapped_paths())
    finally:
        assert server.stop() == 0


def corrupt_version(root: Path, scratch: Path, gen: int) -> str:
    """Put a version with a flipped data byte next to the live ones and make CURRENT name it."""
    for g in range(1, gen + 1):
        version = rodata.write(scratch, "swap", {"k": np.arange(ROWS), "gen": np.full(ROWS, g)}, key="k").name
    target = root / "swap" / version
    shutil.copytree(scratch / "swap" / version, target)
    seg = target / "part-00000.seg"
    data = bytearray(seg.read_bytes())
    data[len(data) // 3] ^= 0x55
    seg.write_bytes(bytes(data))
    tmp = root / "swap" / ".CURRENT.test"
    tmp.write_text(version + "\n")
    os.replace(tmp, root / "swap" / CURRENT)
    return version


def test_a_corrupt_version_is_refused_and_the_old_one_keeps_serving(tmp_path: Path) -> None:
    root = tmp_path / "root"
    good = publish(root, 1)
    server = Server(root, tmp_path / "server.log")
    try:
        server.wait_ready()
        bad = corrupt_version(root, tmp_path / "scratch", 9)

        def refused() -> Any:
            doc = server.get("/healthz").json()
            return doc["datasets"][0]["refused"]

        entries = server.wait_until(refused, "the corrupt version refused")
        assert entries[0]["version"] == bad and "checksum mismatch" in entries[0]["reason"]
        health = server.get("/healthz")
        assert health.status == 200 and health.json()["datasets"][0]["version"] == good
        row = server.get("/v1/datasets/swap/rows/5")
        assert row.status == 200 and row.json()["gen"] == 1 and row.headers["x-rodata-version"] == good
        metrics = server.get("/metrics").body.decode()
        assert 'rodata_dataset_refused_versions_total{dataset="swap"} 1.0' in metrics
        assert f'rodata_dataset_refused_version_info{{dataset="swap",version="{bad}"}} 1.0' in metrics
        assert any(line.get("event") == "dataset_refused" and line.get("version") == bad
                   for line in server.logs())
    finally:
        assert server.stop() == 0


def test_datasets_appear_and_disappear_while_serving(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    server = Server(root, tmp_path / "server.log")
    try:
        server.wait_until(lambda: server.get("/healthz").json()["ready"], "first load")
        health = server.get("/healthz")
        assert health.status == 503 and health.json()["status"] == "unavailable"
        assert server.get("/v1/datasets").json() == {"datasets": []}
        publish(root, 1)
        server.wait_ready()
        assert server.get("/v1/datasets/swap/rows/1").json()["gen"] == 1
        shutil.rmtree(root / "swap")
        server.wait_until(lambda: server.get("/v1/datasets/swap/rows/1").status == 404, "dataset removed")
        assert server.get("/v1/datasets/swap/rows/1").error_code == "dataset_not_found"
        assert server.get("/healthz").status == 503
    finally:
        assert server.stop() == 0


def test_a_swap_event_names_the_version_it_replaced(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = publish(root, 1)
    events: list[CatalogEvent] = []
    catalog = Catalog(root, on_event=events.append)
    try:
        catalog.load()
        second = publish(root, 2)
        catalog.refresh()
        third = publish(root, 3)
        catalog.refresh()
    finally:
        for ds in catalog.datasets.values():
            ds.close()
    assert [(e.kind, e.version, e.previous) for e in events] == [
        ("loaded", first, None), ("swapped", second, first), ("swapped", third, second)]


def test_the_swap_log_line_names_both_versions(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = publish(root, 1)
    server = Server(root, tmp_path / "server.log")
    try:
        server.wait_ready()
        second = publish(root, 2)
        line = server.wait_until(lambda: [d for d in server.logs() if d.get("event") == "dataset_swapped"],
                                 "swap")[0]
    finally:
        assert server.stop() == 0
    assert (line["previous"], line["version"]) == (first, second)
