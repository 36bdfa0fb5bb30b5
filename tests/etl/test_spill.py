"""``rodata build --spill-dir DIR`` (``RODATA_SPILL_DIR``): the sorted runs go to a local directory
(a pod's emptyDir) instead of the staging directory on the data root, in a private directory owned
by a lock held while the build runs, gone when it ends; one left by a killed build is removed by the
next build spilling there."""

from __future__ import annotations

from pathlib import Path

import rodata
from rodata.etl.progress import ProgressEvent
from tests import paused_build
from tests.paused_build import big_csv, build_args

from .conftest import all_rows, rodata_cli


def _entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_runs_spill_into_the_spill_dir_not_the_staging_directory(tmp_path: Path, root: Path) -> None:
    spill = tmp_path / "local"
    spill.mkdir()
    proc = paused_build.start(tmp_path, build_args(big_csv(tmp_path), root, "--spill-dir", str(spill)))
    [area] = [p for p in spill.iterdir() if p.is_dir()]
    assert area.name.startswith("rodata-spill-")
    assert any(area.glob("run-*"))  # the runs are here...
    [staging] = [p for p in (root / "d").iterdir() if p.name.startswith(".staging-") and p.is_dir()]
    assert not any(staging.rglob("run-*"))  # ...and not on the data root
    code, _, err = paused_build.resume(proc)
    assert code == 0, err
    assert _entries(spill) == []  # nothing left behind
    assert len(all_rows(root / "d")) == 40000


def test_without_a_spill_dir_runs_spill_into_the_staging_directory(tmp_path: Path, root: Path) -> None:
    proc = paused_build.start(tmp_path, build_args(big_csv(tmp_path), root))
    [staging] = [p for p in (root / "d").iterdir() if p.name.startswith(".staging-") and p.is_dir()]
    assert any((staging / "spill").glob("run-*"))
    code, _, err = paused_build.resume(proc)
    assert code == 0, err


def test_the_spill_dir_comes_from_rodata_spill_dir(tmp_path: Path, root: Path) -> None:
    spill = tmp_path / "from-env"
    spill.mkdir()
    proc = paused_build.start(tmp_path, build_args(big_csv(tmp_path), root),
                              extra_env={"RODATA_SPILL_DIR": str(spill)})
    assert any(spill.glob("rodata-spill-*/run-*"))
    code, _, err = paused_build.resume(proc)
    assert code == 0, err
    assert _entries(spill) == []


def test_a_killed_builds_spill_area_is_removed_by_the_next_build(tmp_path: Path, root: Path) -> None:
    spill = tmp_path / "local"
    spill.mkdir()
    csv = big_csv(tmp_path)
    proc = paused_build.start(tmp_path, build_args(csv, root, "--spill-dir", str(spill)))
    proc.kill()
    proc.communicate(timeout=60)
    [area] = [p for p in spill.iterdir() if p.is_dir()]
    assert any(area.glob("run-*"))
    (spill / "mine.txt").write_text("not a build's")  # anything else there is left alone
    out = rodata_cli("build", csv, "--dataset", "d", "--key", "id", "--data-root", root, "--spill-dir", spill)
    assert out.returncode == 0, out.stderr
    assert _entries(spill) == ["mine.txt"]
    assert sorted(p.name for p in (root / "d").iterdir() if p.name.startswith(".")) == [".lock"]


def test_a_spill_dir_that_is_not_a_directory_is_a_usage_error(tmp_path: Path, root: Path) -> None:
    csv = tmp_path / "in.csv"
    csv.write_text("id\n1\n")
    out = rodata_cli("build", csv, "--dataset", "d", "--key", "id", "--data-root", root,
                     "--spill-dir", tmp_path / "missing")
    assert out.returncode == 2
    assert out.stderr == f"rodata build: error: --spill-dir {tmp_path / 'missing'}: no such directory\n"
    assert list(root.iterdir()) == []


def test_the_library_and_a_dry_run_spill_there_too_and_leave_it_empty(tmp_path: Path, root: Path) -> None:
    spill = tmp_path / "local"
    spill.mkdir()
    csv = big_csv(tmp_path, 5000)
    seen: list[list[str]] = []

    def on_event(event: ProgressEvent) -> None:
        if event.phase == "read" and event.done and not seen:
            seen.append([p.name for p in spill.glob("rodata-spill-*/run-*")])

    report = rodata.build(csv, dataset="d", key="id", data_root=root, workers=2, chunk_bytes=20000,
                          spill_dir=spill, progress=on_event)
    assert report.rows_out == 5000 and seen and seen[0]
    assert _entries(spill) == []
    out = rodata_cli("build", csv, "--dataset", "d", "--key", "id", "--data-root", root, "--spill-dir", spill,
                     "--dry-run", "--workers", "2", "--chunk-size", "20K")
    assert out.returncode == 0, out.stderr
    assert _entries(spill) == []
