"""``rodata.catalog.Catalog``: load, swap, refuse, add and remove datasets, release old mappings."""

from __future__ import annotations

import gc
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import rodata
from rodata.catalog import Catalog, CatalogEvent
from rodata.store import CURRENT


def write_gen(root: Path, name: str, gen: int, rows: int = 100) -> str:
    keys = np.arange(rows, dtype=np.int64)
    return rodata.write(root, name, {"k": keys, "gen": np.full(rows, gen), "v": keys * 10 + gen}, key="k").name


def corrupt_copy(root: Path, name: str, gen: int, tmp: Path) -> str:
    """Publish, out of band, a version whose data section fails its checksum: built in a scratch
    root, copied next to the live versions with a byte flipped, then named by CURRENT."""
    scratch = tmp / f"scratch-{gen}"
    for g in range(gen):
        version = write_gen(scratch, name, g)
    target = root / name / version
    shutil.copytree(scratch / name / version, target)
    seg = target / "part-00000.seg"
    data = bytearray(seg.read_bytes())
    data[4096 if len(data) > 8192 else len(data) // 2] ^= 0xFF  # inside a data section, not the header
    seg.write_bytes(bytes(data))
    tmp_current = root / name / ".CURRENT.test"
    tmp_current.write_text(version + "\n")
    os.replace(tmp_current, root / name / CURRENT)
    return version


def mapped(path: Path) -> bool:
    text = Path("/proc/self/maps").read_text()
    return str(path) in text


def test_first_load_serves_every_dataset(tmp_path: Path) -> None:
    v1 = write_gen(tmp_path, "a", 1)
    write_gen(tmp_path, "b", 1)
    (tmp_path / "not-a-dataset").mkdir()
    (tmp_path / ".hidden").mkdir()
    events: list[CatalogEvent] = []
    catalog = Catalog(tmp_path, on_event=events.append)
    assert not catalog.ready and catalog.health()["status"] == "loading"
    catalog.load()
    assert catalog.ready
    assert sorted(catalog.datasets) == ["a", "b"]
    ds = catalog.get("a")
    assert ds is not None and ds.version == v1 and ds.get(3) == {"k": 3, "gen": 1, "v": 31}
    assert {(e.kind, e.dataset) for e in events} == {("loaded", "a"), ("loaded", "b")}
    assert catalog.health()["status"] == "ok"


def test_a_new_version_is_swapped_in_and_old_objects_keep_working(tmp_path: Path) -> None:
    write_gen(tmp_path, "a", 1)
    catalog = Catalog(tmp_path)
    catalog.load()
    old = catalog.get("a")
    assert old is not None
    old_column = old.column("v")
    v2 = write_gen(tmp_path, "a", 2)
    events = catalog.refresh()
    assert [(e.kind, e.version) for e in events] == [("swapped", v2)]
    new = catalog.get("a")
    assert new is not None and new.version == v2 and new.get(5)["gen"] == 2
    # A request that started on the old version finishes on it.
    assert old.get(5) == {"k": 5, "gen": 1, "v": 51}
    assert old_column[7] == 71
    assert catalog.states()[0].swaps == 1
    assert catalog.refresh() == []  # nothing changed


def test_the_old_mapping_goes_when_its_last_user_does(tmp_path: Path) -> None:
    v1 = write_gen(tmp_path, "a", 1)
    catalog = Catalog(tmp_path)
    catalog.load()
    view = catalog.get("a").column("v")  # type: ignore[union-attr]
    part = tmp_path / "a" / v1 / "part-00000.seg"
    write_gen(tmp_path, "a", 2)
    catalog.refresh()
    gc.collect()
    assert mapped(part)  # the view still uses it
    assert view[2] == 21
    del view
    gc.collect()
    assert not mapped(part)


def test_a_corrupt_version_is_refused_and_the_old_one_keeps_serving(tmp_path: Path) -> None:
    v1 = write_gen(tmp_path, "a", 1, rows=2000)
    catalog = Catalog(tmp_path)
    catalog.load()
    bad = corrupt_copy(tmp_path, "a", 3, tmp_path / "scratch")
    events = catalog.refresh()
    assert [(e.kind, e.version) for e in events] == [("refused", bad)]
    assert "checksum mismatch" in (events[0].reason or "")
    assert catalog.get("a").version == v1  # type: ignore[union-attr]
    state = catalog.states()[0]
    assert state.refused_total == 1 and bad in state.refused
    health = catalog.health()
    assert health["status"] == "ok"
    assert health["datasets"][0]["refused"][0]["version"] == bad
    assert catalog.refresh() == []  # refused once, not retried every poll
    v4 = write_gen(tmp_path, "a", 4)  # the next good version is served
    assert [(e.kind, e.version) for e in catalog.refresh()] == [("swapped", v4)]


def test_a_corrupt_dataset_at_start_is_not_served(tmp_path: Path) -> None:
    write_gen(tmp_path, "good", 1)
    (tmp_path / "bad").mkdir()
    bad = corrupt_copy(tmp_path, "bad", 1, tmp_path / "scratch")
    catalog = Catalog(tmp_path)
    catalog.load()
    assert sorted(catalog.datasets) == ["good"]
    states = {s["name"]: s for s in catalog.health()["datasets"]}
    assert states["bad"]["state"] == "unavailable"
    assert states["bad"]["refused"][0]["version"] == bad
    shutil.rmtree(tmp_path / "good")
    catalog.refresh()
    assert catalog.health()["status"] == "unavailable"


def test_datasets_appear_and_disappear(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    catalog.load()
    assert catalog.datasets == {} and catalog.health()["status"] == "unavailable"
    write_gen(tmp_path, "late", 1)
    assert [e.kind for e in catalog.refresh()] == ["loaded"]
    assert catalog.get("late") is not None
    shutil.rmtree(tmp_path / "late")
    assert [e.kind for e in catalog.refresh()] == ["removed"]
    assert catalog.get("late") is None and catalog.states() == []


def test_an_unreadable_current_keeps_the_served_version(tmp_path: Path) -> None:
    v1 = write_gen(tmp_path, "a", 1)
    catalog = Catalog(tmp_path)
    catalog.load()
    (tmp_path / "a" / CURRENT).write_text("garbage\n")
    events = catalog.refresh()
    assert [e.kind for e in events] == ["error"]
    assert catalog.get("a").version == v1  # type: ignore[union-attr]
    assert catalog.health()["datasets"][0]["error"]


def test_the_watcher_thread_swaps_by_itself(tmp_path: Path) -> None:
    write_gen(tmp_path, "a", 1)
    catalog = Catalog(tmp_path)
    catalog.start(0.02)
    try:
        assert catalog.wait_ready(30)
        v2 = write_gen(tmp_path, "a", 2)
        for _ in range(3000):  # bounded wait for the next poll
            ds = catalog.get("a")
            if ds is not None and ds.version == v2:
                break
            time.sleep(0.01)
        assert catalog.get("a").version == v2  # type: ignore[union-attr]
    finally:
        catalog.stop()
    with pytest.raises(ValueError, match="positive"):
        catalog.start(0)
