"""Verify once, serve many: every writer records its verdict beside the version it publishes,
``rodata verify --deep --record`` records its own, and the catalog's ``recorded`` mode serves on
the verdicts (headers and manifest checked, not every byte): a version without one is waited for,
one with a failed verdict is never served.  Also: require-all readiness, version skew in the
metrics, and a version whose part becomes unreadable while served retried, not refused for good."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
import rodata.parts as parts
from rodata._version import __version__
from rodata.catalog import Catalog, CatalogEvent
from rodata.store import CURRENT
from tests.core.segfile import SEC, directory, reseal


def publish(root: Path, name: str, rows: int = 200, gen: int = 0) -> rodata.Version:
    keys = np.arange(rows, dtype=np.int64)
    return rodata.write(root, name, {"k": keys, "v": keys * 10 + gen}, key="k")


def cli(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rodata", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def verdicts(version: Path) -> dict[str, dict[str, Any]]:
    folder = version / "verdicts"
    return {p.name: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def values_section(part: Path) -> Any:
    _, entries = directory(part.read_bytes())
    return next(e for e in entries if e.kind == SEC["data"] and e.column == 1)


def corrupt_bytes(version: rodata.Version) -> None:
    """One value of column v changed, checksums left as they were: only reading every byte tells."""
    part = version.path / "part-00000.seg"
    entry = values_section(part)
    buf = bytearray(part.read_bytes())
    buf[entry.offset + 8 * 7] ^= 0x01  # row 7's value
    part.write_bytes(bytes(buf))


def malform(version: rodata.Version) -> None:
    """Keys of rows 10 and 11 swapped and every checksum re-sealed: only deep validation tells."""
    part = version.path / "part-00000.seg"
    buf = bytearray(part.read_bytes())
    _, entries = directory(buf)
    keys = next(e for e in entries if e.kind == SEC["data"] and e.column == 0)
    at = keys.offset + 8 * 10
    buf[at : at + 16] = buf[at + 8 : at + 16] + buf[at : at + 8]
    part.write_bytes(bytes(reseal(buf)))
    doc = json.loads((version.path / "manifest.json").read_text())
    from rodata._core import Segment
    doc["parts"][0]["fingerprint"] = f"{Segment(str(part)).fingerprint:016x}"
    (version.path / "manifest.json").write_text(json.dumps(doc))


def record_with_cli(root: Path, dataset: str) -> subprocess.CompletedProcess[str]:
    return cli("verify", "--deep", "--record", dataset, "--data-root", root)


def recorded_catalog(root: Path) -> tuple[Catalog, list[CatalogEvent]]:
    events: list[CatalogEvent] = []
    catalog = Catalog(root, verify="recorded", on_event=events.append)
    catalog.load()
    return catalog, events


# -- writers -------------------------------------------------------------------------------


def _check_writer_verdict(version: Path, by: str) -> None:
    found = verdicts(version)
    assert list(found) == ["writer.json"]
    doc = found["writer.json"]
    assert doc["verdict"] == "pass" and doc["by"] == by and doc["rodata"] == __version__
    assert doc["manifest_sha256"] == sha256(version / "manifest.json")
    assert "deep" in doc["checked"] and doc["at"].endswith("Z") and doc["fault"] is None


def test_rodata_write_records_its_verdict(tmp_path: Path) -> None:
    v = publish(tmp_path, "d")
    _check_writer_verdict(v.path, "rodata.write")


def test_rodata_build_records_its_verdict(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(50)))
    done = cli("build", src, "--dataset", "d", "--key", "id", "--data-root", tmp_path / "data")
    assert done.returncode == 0, done.stderr
    live = (tmp_path / "data" / "d" / CURRENT).read_text().strip()
    _check_writer_verdict(tmp_path / "data" / "d" / live, "rodata.build")


def test_parts_commit_records_its_verdict(tmp_path: Path) -> None:
    staging = parts.begin(tmp_path, "d", key="id", schema={"id": "int64", "x": "float64"})
    parts.write_part(staging, 0, {"id": np.arange(10), "x": np.arange(10) / 2})
    parts.write_part(staging, 1, {"id": np.arange(10, 20), "x": np.arange(10) / 2})
    version = parts.commit(staging)
    _check_writer_verdict(version.path, "rodata.parts")


def test_the_writers_verdict_is_in_place_before_current_names_the_version(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import rodata.store as store

    seen: list[bool] = []
    swap = store.swap_current

    def checked_swap(dataset_dir: Path, name: str) -> None:
        seen.append((dataset_dir / name / "verdicts" / "writer.json").is_file())
        swap(dataset_dir, name)

    monkeypatch.setattr(store, "swap_current", checked_swap)
    publish(tmp_path, "d")
    staging = parts.begin(tmp_path, "d", key="k", schema={"k": "int64", "v": "int64"})
    parts.write_part(staging, 0, {"k": np.arange(300), "v": np.arange(300) * 10})
    parts.commit(staging)
    assert seen == [True, True]


def test_a_commit_during_another_build_is_refused_and_can_be_retried(tmp_path: Path) -> None:
    publish(tmp_path, "d")
    staging = parts.begin(tmp_path, "d", key="k", schema={"k": "int64", "v": "int64"})
    parts.write_part(staging, 0, {"k": np.arange(300), "v": np.arange(300) * 10})
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from rodata.store import build_lock\n"
         "with build_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)", str(tmp_path / "d")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(rodata.BuildInProgressError):
            parts.commit(staging)
    finally:
        holder.kill()
        holder.wait()
    assert parts.commit(staging).rows == 300  # the staging was left as it was


# -- rodata verify --deep --record ----------------------------------------------------------


def test_verify_record_records_a_pass_beside_the_live_version(tmp_path: Path) -> None:
    v = publish(tmp_path, "d")
    done = record_with_cli(tmp_path, "d")
    assert done.returncode == 0, done.stderr
    mine = {name: doc for name, doc in verdicts(v.path).items() if name.startswith("verify-")}
    assert len(mine) == 1
    doc = next(iter(mine.values()))
    assert doc["verdict"] == "pass" and doc["by"] == "rodata verify" and doc["rows"] == 200
    assert doc["manifest_sha256"] == sha256(v.path / "manifest.json")
    assert "recorded in" in done.stdout


def test_verify_record_records_a_fail_with_the_fault(tmp_path: Path) -> None:
    publish(tmp_path, "d")
    bad = publish(tmp_path, "d", gen=1)
    malform(bad)
    done = cli("verify", "--deep", "--record", bad.path)
    assert done.returncode == 1
    doc = next(d for name, d in verdicts(bad.path).items() if name.startswith("verify-"))
    assert doc["verdict"] == "fail"
    assert "part-00000.seg" in doc["fault"] and "keys of column 'k'" in doc["fault"]


def test_verify_record_needs_deep_and_a_version(tmp_path: Path) -> None:
    v = publish(tmp_path, "d")
    done = cli("verify", "--record", v.path)
    assert done.returncode == 2 and "--record needs --deep" in done.stderr
    done = cli("verify", "--deep", "--record", v.path / "part-00000.seg")
    assert done.returncode == 2 and "not a .seg file" in done.stderr
    assert [n for n in verdicts(v.path) if n.startswith("verify-")] == []


# -- the recorded mode ---------------------------------------------------------------------


def test_recorded_mode_serves_on_the_verdict_without_reading_every_byte(tmp_path: Path) -> None:
    # The documented trade-off: a part whose bytes went bad after its verdict was recorded is
    # served in the recorded mode, refused in the full one.
    v = publish(tmp_path, "d")
    corrupt_bytes(v)
    full: list[CatalogEvent] = []
    Catalog(tmp_path, verify="full", on_event=full.append).load()
    assert [e.kind for e in full] == ["refused"]
    catalog, events = recorded_catalog(tmp_path)
    assert [(e.kind, e.version) for e in events] == [("loaded", v.name)]
    ds = catalog.get("d")
    assert ds is not None and ds.get(7)["v"] != 70  # type: ignore[index]
    assert catalog.health()["verify"] == "recorded"


def test_a_failed_verdict_is_never_served(tmp_path: Path) -> None:
    good = publish(tmp_path, "d")
    catalog, _ = recorded_catalog(tmp_path)
    bad = publish(tmp_path, "d", gen=1)
    malform(bad)  # the writer's verdict still says pass: one failed verdict is enough
    assert cli("verify", "--deep", "--record", bad.path).returncode == 1
    events = catalog.refresh()
    assert [(e.kind, e.version) for e in events] == [("refused", bad.name)]
    assert "failed verification by rodata verify" in (events[0].reason or "")
    assert catalog.get("d").version == good.name  # type: ignore[union-attr]
    assert catalog.refresh() == []  # refused for good, not tried again
    assert Catalog(tmp_path, verify="recorded").load()[0].kind == "refused"  # nor by a fresh server


def test_a_version_without_a_verdict_is_waited_for_then_served(tmp_path: Path) -> None:
    old = publish(tmp_path, "d")
    catalog, _ = recorded_catalog(tmp_path)
    new = publish(tmp_path, "d", gen=1)
    shutil.rmtree(new.path / "verdicts")  # published by a writer that recorded nothing
    events = catalog.refresh()
    assert [(e.kind, e.version) for e in events] == [("waiting", new.name)]
    assert catalog.get("d").version == old.name  # type: ignore[union-attr]
    doc = catalog.health()["datasets"][0]
    assert doc["state"] == "serving" and doc["current"] == new.name and "no verdict" in doc["waiting"]
    assert catalog.refresh() == []  # still waiting, said once
    done = record_with_cli(tmp_path, "d")
    assert done.returncode == 0, done.stderr
    assert [(e.kind, e.version) for e in catalog.refresh()] == [("swapped", new.name)]
    assert catalog.health()["datasets"][0]["waiting"] is None


def test_a_dataset_with_no_verdict_at_all_shows_waiting(tmp_path: Path) -> None:
    v = publish(tmp_path, "d")
    shutil.rmtree(v.path / "verdicts")
    catalog, _ = recorded_catalog(tmp_path)
    assert catalog.get("d") is None
    assert catalog.health()["datasets"][0]["state"] == "waiting"


def test_a_verdict_of_another_manifest_is_refused(tmp_path: Path) -> None:
    v = publish(tmp_path, "d")
    doc = json.loads((v.path / "manifest.json").read_text())
    doc["build"]["note"] = "edited after the verdict"
    (v.path / "manifest.json").write_text(json.dumps(doc))
    _, events = recorded_catalog(tmp_path)
    assert [e.kind for e in events] == ["refused"]
    assert "recorded for another manifest" in (events[0].reason or "")


def test_a_file_that_is_not_a_verdict_is_refused(tmp_path: Path) -> None:
    v = publish(tmp_path, "d")
    (v.path / "verdicts" / "junk.json").write_text('{"verdict": "pass"}')
    _, events = recorded_catalog(tmp_path)
    assert [e.kind for e in events] == ["refused"] and "not a verdict" in (events[0].reason or "")


def test_settings_keep_the_boolean_values_of_verify() -> None:
    from rodata.server.settings import Settings

    assert Settings.from_env({}).verify == "full"
    assert Settings.from_env({"RODATA_VERIFY": "true"}).verify == "full"
    assert Settings.from_env({"RODATA_VERIFY": "0"}).verify == "off"
    assert Settings.from_env({"RODATA_VERIFY": "recorded"}).verify == "recorded"
    assert Settings(verify=False).verify == "off"
    env = {"RODATA_REQUIRE_ALL_DATASETS": "1", "RODATA_MAX_CONCURRENCY": "64"}
    s = Settings.from_env(env)
    assert s.require_all_datasets is True and s.max_concurrency == 64
    assert Settings.from_env({"RODATA_MAX_CONCURRENCY": "0"}).max_concurrency is None
    assert Settings().max_concurrency is None and Settings().require_all_datasets is False
    for bad in ({"RODATA_VERIFY": "sometimes"}, {"RODATA_MAX_CONCURRENCY": "-1"}, {"RODATA_MAX_CONCURRENCY": "x"}):
        with pytest.raises(rodata.UsageError):
            Settings.from_env(bad)


# -- readiness, skew, I/O faults -----------------------------------------------------------


def test_require_all_is_incomplete_while_a_dataset_serves_nothing(tmp_path: Path) -> None:
    publish(tmp_path, "a")
    bad = publish(tmp_path, "b")
    corrupt_bytes(bad)
    catalog = Catalog(tmp_path)
    catalog.load()
    assert catalog.health()["status"] == "ok"  # without the option: one dataset serving is enough
    doc = catalog.health(require_all=True)
    assert doc["status"] == "incomplete" and doc["missing"] == ["b"]
    publish(tmp_path, "b", gen=1)
    catalog.refresh()
    assert catalog.health(require_all=True)["status"] == "ok"
    first = catalog.get("a").version  # type: ignore[union-attr]
    corrupt_bytes(publish(tmp_path, "a", gen=1))
    catalog.refresh()  # "a" refuses its new version and serves the old one: that counts as serving
    doc = catalog.health(require_all=True)
    assert doc["status"] == "ok" and doc["missing"] == []
    assert catalog.get("a").version == first  # type: ignore[union-attr]


def test_version_skew_shows_in_the_metrics(tmp_path: Path) -> None:
    from rodata.server.metrics import Metrics

    old = publish(tmp_path, "d")
    publish(tmp_path, "e")
    catalog, _ = recorded_catalog(tmp_path)
    new = publish(tmp_path, "d", gen=1)
    shutil.rmtree(new.path / "verdicts")
    catalog.refresh()
    text = Metrics(catalog).render().decode()
    assert f'rodata_dataset_info{{dataset="d",version="{old.name}"}} 1.0' in text
    assert f'rodata_dataset_current_info{{dataset="d",version="{new.name}"}} 1.0' in text
    assert 'rodata_dataset_version_skew{dataset="d"} 1.0' in text
    assert 'rodata_dataset_version_skew{dataset="e"} 0.0' in text
    assert 'rodata_dataset_waiting{dataset="d"} 1.0' in text


def test_a_part_unreadable_while_served_is_retried_not_refused(tmp_path: Path) -> None:
    now = [0.0]
    v = publish(tmp_path, "d")
    catalog = Catalog(tmp_path, clock=lambda: now[0])
    catalog.load()
    part = v.path / "part-00000.seg"
    away = tmp_path / "away.seg"
    os.rename(part, away)  # what a filer that loses a file for a while (ESTALE, EIO) looks like to stat
    events = catalog.refresh()
    assert [e.kind for e in events] == ["error"] and "unreadable while served" in (events[0].reason or "")
    assert catalog.get("d") is None and catalog.states()[0].refused == {}
    os.rename(away, part)
    assert catalog.refresh() == []  # within the backoff
    now[0] += 0.6
    assert [(e.kind, e.version) for e in catalog.refresh()] == [("swapped", v.name)]
    assert catalog.get("d").get(3)["v"] == 30  # type: ignore[union-attr,index]


def test_verify_record_all_records_every_kept_version(tmp_path: Path) -> None:
    versions = [publish(tmp_path, "d", gen=g) for g in range(2)]
    done = cli("verify", "--deep", "--record", "--all", "d", "--data-root", tmp_path)
    assert done.returncode == 0, done.stderr
    for v in versions:
        assert [doc["verdict"] for name, doc in verdicts(v.path).items() if name.startswith("verify-")] == ["pass"]


def test_a_fail_recorded_for_the_served_version_stops_serving_it(tmp_path: Path) -> None:
    from rodata.validation import record

    v = publish(tmp_path, "d")
    catalog, _ = recorded_catalog(tmp_path)
    assert catalog.refresh() == [] and catalog.get("d") is not None
    # a verifying job on another host found a fault in the live version (its bytes went bad there)
    record(v.path, "verify-other-host", by="rodata verify", passed=False, fault="part-00000.seg: checksum mismatch")
    events = catalog.refresh()
    assert [(e.kind, e.version) for e in events] == [("refused", v.name)]
    assert "checksum mismatch" in (events[0].reason or "")
    assert catalog.get("d") is None
    assert catalog.refresh() == []
