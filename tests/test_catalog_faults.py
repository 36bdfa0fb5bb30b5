"""The catalog under faults: one broken dataset never stops the others; files that are not what they
claim (FIFOs, symlinks out of the root, parts changed under a mapping) are refused, never served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rodata
from rodata.catalog import Catalog, CatalogEvent
from rodata.store import CURRENT


def publish(root: Path, name: str, rows: int = 50, gen: int = 0) -> rodata.Version:
    keys = np.arange(rows, dtype=np.int64)
    return rodata.write(root, name, {"k": keys, "v": keys * 10 + gen}, key="k")


def edit_manifest(version: rodata.Version, change: dict[str, object]) -> None:
    path = version.path / "manifest.json"
    doc = json.loads(path.read_text())
    doc.update(change)
    path.write_text(json.dumps(doc, allow_nan=True).replace("Infinity", "1e999"))


def load(root: Path) -> tuple[Catalog, list[CatalogEvent]]:
    events: list[CatalogEvent] = []
    catalog = Catalog(root, on_event=events.append)
    catalog.load()
    return catalog, events


def test_one_bad_manifest_does_not_stop_the_datasets_after_it(tmp_path: Path) -> None:
    publish(tmp_path, "a")
    bad = publish(tmp_path, "b")
    publish(tmp_path, "c")
    doc = json.loads((bad.path / "manifest.json").read_text())
    doc["schema"][1]["dim"] = float("inf")  # was an OverflowError outside the error contract
    (bad.path / "manifest.json").write_text(json.dumps(doc).replace("Infinity", "1e999"))
    catalog, _ = load(tmp_path)
    assert sorted(catalog.datasets) == ["a", "c"]
    health = catalog.health()
    assert health["status"] == "ok"
    state = {d["name"]: d for d in health["datasets"]}["b"]
    assert state["state"] == "unavailable" and "infinity" in state["refused"][0]["reason"]
    # A new version of a dataset sorted after the broken one still swaps in.
    v2 = publish(tmp_path, "c", gen=1)
    catalog.refresh()
    assert catalog.get("c") is not None and catalog.get("c").version == v2.name  # type: ignore[union-attr]


@pytest.mark.parametrize(("change", "reason"), [
    ({"version": 7}, "field 'version' is int"),
    ({"parts": []}, "lists no parts"),
])
def test_bad_manifest_fields_refuse_that_version(tmp_path: Path, change: dict[str, object], reason: str) -> None:
    good = publish(tmp_path, "d")
    catalog, _ = load(tmp_path)
    bad = publish(tmp_path, "d", gen=1)
    edit_manifest(bad, change)
    events = catalog.refresh()
    assert [(e.kind, e.version) for e in events] == [("refused", bad.name)]
    assert reason in (events[0].reason or "")
    assert catalog.get("d").version == good.name  # type: ignore[union-attr]
    assert catalog.refresh() == []  # refused once, not re-opened every poll


def test_a_version_named_unlike_its_directory_is_refused_once(tmp_path: Path) -> None:
    publish(tmp_path, "d")
    catalog, _ = load(tmp_path)
    bad = publish(tmp_path, "d", gen=1)
    edit_manifest(bad, {"version": "v000009-deadbeef"})
    events = catalog.refresh()
    assert [e.kind for e in events] == ["refused"] and "lies in directory" in (events[0].reason or "")
    assert catalog.refresh() == []


def test_parts_out_of_key_order_are_refused(tmp_path: Path) -> None:
    v = rodata.write(tmp_path, "d", {"k": np.arange(100), "v": np.arange(100)}, key="k", rows_per_part=30)
    doc = json.loads((v.path / "manifest.json").read_text())
    doc["parts"].reverse()
    (v.path / "manifest.json").write_text(json.dumps(doc))
    catalog, events = load(tmp_path)
    assert catalog.get("d") is None
    assert "ascending, disjoint key order" in (events[0].reason or "")


def test_a_fifo_in_place_of_a_part_is_refused_without_blocking(tmp_path: Path) -> None:
    v = publish(tmp_path, "d")
    part = v.path / "part-00000.seg"
    part.unlink()
    os.mkfifo(part)
    # In a child: a blocking open would hang it, and the timeout would fail the test.
    code = ("import rodata, sys\n"
            "try:\n    rodata.open(sys.argv[1])\nexcept rodata.FormatError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d")], capture_output=True, text=True,
                         timeout=60)
    assert "not a regular file" in out.stdout, out.stderr
    catalog, events = load(tmp_path)
    assert catalog.get("d") is None and "not a regular file" in (events[0].reason or "")


def test_a_fifo_current_does_not_block(tmp_path: Path) -> None:
    publish(tmp_path, "d")
    (tmp_path / "d" / CURRENT).unlink()
    os.mkfifo(tmp_path / "d" / CURRENT)
    code = ("import sys\nfrom rodata.catalog import Catalog\n"
            "c = Catalog(sys.argv[1]); c.load(); print(c.health()['datasets'][0]['error'])\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert "not a regular file" in out.stdout, out.stderr


def test_a_symlink_out_of_the_data_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    v = publish(root, "d")
    outside = publish(tmp_path / "elsewhere", "d", gen=1)
    part = v.path / "part-00000.seg"
    part.unlink()
    part.symlink_to(outside.path / "part-00000.seg")
    catalog, events = load(root)
    assert catalog.get("d") is None and "leads outside the data root" in (events[0].reason or "")
    # A symlink that stays inside the root is followed.
    (root / "shared").mkdir()
    inside = root / "shared" / "part.seg"
    inside.write_bytes((outside.path / "part-00000.seg").read_bytes())
    part.unlink()
    part.symlink_to(inside)
    with pytest.raises(rodata.FormatError, match="fingerprint"):  # followed, and then checked like any part
        rodata.open(root / "d")


def test_dataset_names_follow_one_rule(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bad dataset name"):
        publish(tmp_path, "abc\n")
    publish(tmp_path, "ok")
    v = publish(tmp_path, "ok2")
    os.rename(tmp_path / "ok2", tmp_path / "_x")  # a directory rodata.write would refuse to create
    assert v.rows == 50
    catalog, _ = load(tmp_path)
    assert sorted(catalog.datasets) == ["ok"]


@pytest.mark.parametrize("how", ["truncate", "replace"])
def test_a_part_changed_under_its_mapping_stops_that_version(tmp_path: Path, how: str) -> None:
    v = publish(tmp_path, "d", rows=5000)
    catalog, _ = load(tmp_path)
    assert catalog.get("d") is not None
    part = v.path / "part-00000.seg"
    data = part.read_bytes()
    if how == "truncate":  # what `cp` over a version directory does: same inode, shorter for a while
        with open(part, "r+b") as fh:
            fh.truncate(len(data) // 2)
    else:
        tmp = part.with_suffix(".new")
        tmp.write_bytes(data)
        os.replace(tmp, part)
    events = catalog.refresh()
    assert [(e.kind, e.version) for e in events] == [("refused", v.name)]
    assert "changed on disk while served" in (events[0].reason or "")
    assert catalog.get("d") is None
    v2 = publish(tmp_path, "d", rows=5000, gen=2)  # a new version is served again
    catalog.refresh()
    assert catalog.get("d").version == v2.name  # type: ignore[union-attr]


def test_a_missing_part_is_retried_with_backoff_never_refused(tmp_path: Path) -> None:
    now = [0.0]
    publish(tmp_path, "d")
    catalog = Catalog(tmp_path, clock=lambda: now[0])
    catalog.load()
    v2 = publish(tmp_path, "d", gen=1)
    part = v2.path / "part-00000.seg"
    hidden = tmp_path / "hidden.seg"
    os.rename(part, hidden)
    assert [e.kind for e in catalog.refresh()] == ["error"]
    assert catalog.refresh() == []  # within the backoff: not tried again
    now[0] += 0.6
    catalog.refresh()
    os.rename(hidden, part)
    now[0] += 0.6
    assert catalog.refresh() == []  # still within the doubled delay
    now[0] += 1.0
    assert [(e.kind, e.version) for e in catalog.refresh()] == [("swapped", v2.name)]


def test_checksum_valid_but_malformed_versions_are_refused(tmp_path: Path) -> None:
    from tests.core.segfile import directory, reseal

    good = publish(tmp_path, "d")
    other = publish(tmp_path, "e")
    catalog, _ = load(tmp_path)
    bad = rodata.write(tmp_path, "d", {"k": np.arange(50), "v": np.arange(50)}, key="k")
    part = bad.path / "part-00000.seg"
    buf = bytearray(part.read_bytes())
    _, entries = directory(buf)
    keys = next(e for e in entries if e.kind == 3 and e.column == 0)
    at = keys.offset + 8 * 10  # swap the keys of rows 10 and 11: the key range stays, the order breaks
    buf[at : at + 16] = buf[at + 8 : at + 16] + buf[at : at + 8]
    part.write_bytes(bytes(reseal(buf)))
    # The manifest's fingerprint follows the re-sealed directory: only deep validation can tell.
    doc = json.loads((bad.path / "manifest.json").read_text())
    from rodata._core import Segment
    doc["parts"][0]["fingerprint"] = f"{Segment(part).fingerprint:016x}"
    (bad.path / "manifest.json").write_text(json.dumps(doc))
    events = catalog.refresh()
    assert [(e.kind, e.version) for e in events] == [("refused", bad.name)]
    assert "keys of column 'k'" in (events[0].reason or "") and "part-00000.seg" in (events[0].reason or "")
    assert catalog.get("d").version == good.name  # type: ignore[union-attr]
    assert catalog.get("e").version == other.name  # type: ignore[union-attr]


def test_errors_and_refusals_show_in_the_metrics(tmp_path: Path) -> None:
    from rodata.server.metrics import Metrics

    publish(tmp_path, "ok")
    publish(tmp_path, "unreadable")
    (tmp_path / "unreadable" / CURRENT).write_text("not a version\n")
    broken = publish(tmp_path, "broken")
    edit_manifest(broken, {"parts": []})
    catalog, _ = load(tmp_path)
    text = Metrics(catalog).render().decode()
    assert 'rodata_dataset_error{dataset="unreadable"} 1.0' in text
    assert 'rodata_dataset_error{dataset="ok"} 0.0' in text
    assert 'rodata_dataset_serving{dataset="broken"} 0.0' in text
    assert 'rodata_dataset_refused_versions_total{dataset="broken"} 1.0' in text
    assert 'rodata_dataset_serving{dataset="ok"} 1.0' in text
