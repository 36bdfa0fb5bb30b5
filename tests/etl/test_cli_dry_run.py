"""``rodata build --dry-run``: everything but the publish, the guard included; the disk as it was."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .conftest import rodata_cli, write


def _snapshot(root: Path) -> dict[str, tuple[bytes, int] | None]:
    """Every path under `root`, each file's content and mtime (a directory's mtime moves with the
    temporary staging directory a dry run creates and removes)."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) if p.is_file() else None
            for p in root.rglob("*")}


def _build(root: Path, path: Path, *extra: str):
    return rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", root, *extra)


def test_dry_run_of_a_new_dataset_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "nosuch-root"
    proc = _build(root, write(tmp_path, "in.csv", "id,v\n2,b\n1,a\n"), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "schema: id int64 (key), v string"
    assert proc.stdout.splitlines()[1].startswith("dry run: would publish d: 2 rows in 1 part")
    assert "nothing was published" in proc.stdout
    assert not root.exists()


def test_dry_run_over_a_live_version_reports_and_changes_nothing(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id,v\n" + "".join(f"{i},{i}\n" for i in range(100)))
    assert _build(root, path).returncode == 0
    before = _snapshot(root)
    more = write(tmp_path, "more.csv", "id,v\n" + "".join(f"{i},{i}\n" for i in range(150)))
    proc = _build(root, more, "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["dry_run"] is True and report["published"] is False and report["guard"] == "passed"
    assert report["rows_out"] == 150 and report["version"] == ""
    assert [c["type"] for c in report["schema"]] == ["int64", "int64"]
    assert _snapshot(root) == before


def test_dry_run_exits_as_the_guard_would(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id,v\n" + "".join(f"{i},{i}\n" for i in range(100)))
    assert _build(root, path).returncode == 0
    before = _snapshot(root)
    fewer = write(tmp_path, "few.csv", "id,v\n1,1\n")
    proc = _build(root, fewer, "--dry-run")
    assert proc.returncode == 3 and "fewer than half" in proc.stderr
    assert _build(root, fewer, "--dry-run", "--allow-shrink").returncode == 0
    changed = write(tmp_path, "changed.csv", "id,v\n" + "".join(f"{i},x{i}\n" for i in range(100)))
    proc = _build(root, changed, "--dry-run")
    assert proc.returncode == 3 and "changed type" in proc.stderr
    assert _snapshot(root) == before


def test_dry_run_finds_bad_input_and_writes_no_rejects(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id,v\n1,a\n1,b\n")
    proc = _build(root, path, "--dry-run")
    assert proc.returncode == 3 and "duplicate key 1" in proc.stderr
    rejects = tmp_path / "rejects.jsonl"
    bad = write(tmp_path, "bad.csv", 'id,v\n1,a\n2,"b\n3,c"x\n')
    proc = _build(root, bad, "--dry-run", "--max-bad-rows", "5", "--rejects", rejects)
    assert proc.returncode == 0, proc.stderr
    assert not rejects.exists() and os.listdir(root) == []


def test_dry_run_from_stdin_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "r"
    proc = rodata_cli("build", "-", "--dataset", "d", "--key", "id", "--data-root", root, "--dry-run",
                      input="id,v\n1,a\n")
    assert proc.returncode == 0, proc.stderr
    assert not root.exists()
