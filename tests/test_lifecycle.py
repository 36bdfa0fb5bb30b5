"""The data lifecycle on a shared data root, with real processes: stale staging directories are
found by a lock held for the writer's life (never by its pid: PID 1 of a container, other pid
namespaces), one build of a dataset at a time, and pruning that never removes a version live in
recent HISTORY."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rodata
from rodata import store
from rodata._process import pid_alive
from tests import paused_build
from tests.paused_build import big_csv, build_args


def _pid_namespace_prefix() -> list[str] | None:
    """``unshare`` arguments that run a command as PID 1 of a new pid namespace, where permitted."""
    if shutil.which("unshare") is None:
        return None
    base = ["unshare", "--fork", "--pid", "--mount-proc"]
    for prefix in (base, [*base, "--user", "--map-root-user"]):
        try:
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return prefix
    return None


UNSHARE = _pid_namespace_prefix()
needs_pid_namespaces = pytest.mark.skipif(UNSHARE is None, reason="unshare --pid is not permitted here (the "
                                          "injected-pid variants below test the same rule)")


def _staging(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.name.startswith(".staging-") and p.is_dir())


def _hidden(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith("."))


def _old_version(tmp_path: Path, root: Path) -> str:
    (tmp_path / "old.csv").write_text("id,v\n1,old\n")
    return rodata.build(tmp_path / "old.csv", dataset="d", key="id", data_root=root).version


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _kill_paused(proc: subprocess.Popen[str], pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=60)


def _the_next_build_cleans_up(tmp_path: Path, root: Path, csv: Path) -> None:
    report = rodata.build(csv, dataset="d", key="id", data_root=root)
    assert report.rows_out == 40000
    assert _hidden(root / "d") == [".lock"]  # no staging, no lock file of the dead build, no build lock


@needs_pid_namespaces
def test_a_build_killed_as_pid_1_of_a_pid_namespace_is_cleaned_by_the_next_build(tmp_path: Path,
                                                                                   data_root: Path) -> None:
    assert UNSHARE is not None
    live = _old_version(tmp_path, data_root)
    csv = big_csv(tmp_path)
    proc = paused_build.start(tmp_path, build_args(csv, data_root), prefix=UNSHARE)
    [build_pid] = _children(proc.pid)  # the build: PID 1 inside its namespace
    d = data_root / "d"
    [staging] = _staging(d)
    assert staging.name.startswith(".staging-1-")  # it named itself by its pid: 1
    assert any(staging.rglob("run-*"))  # mid-build: spilled runs on disk
    _kill_paused(proc, build_pid)
    assert store.current_version(d) == live
    assert pid_alive(1)  # what a pid check would ask: always true, so it never cleaned anything
    _the_next_build_cleans_up(tmp_path, data_root, csv)


def test_a_killed_build_whose_staging_names_pid_1_is_cleaned_by_the_next_build(tmp_path: Path,
                                                                                data_root: Path) -> None:
    """The same without a pid namespace: the dead build's leftovers renamed as PID 1 had named them."""
    _old_version(tmp_path, data_root)
    csv = big_csv(tmp_path)
    proc = paused_build.start(tmp_path, build_args(csv, data_root))
    d = data_root / "d"
    [staging] = _staging(d)
    _kill_paused(proc, proc.pid)
    suffix = staging.name.split("-", 2)[2]
    staging.rename(d / f".staging-1-{suffix}")
    lock = d / f".staging.lock-{proc.pid}-{suffix}"
    if lock.exists():
        lock.rename(d / f".staging.lock-1-{suffix}")
    assert [p.name for p in _staging(d)] == [f".staging-1-{suffix}"]
    _the_next_build_cleans_up(tmp_path, data_root, csv)


def _clean_in_another_pid_namespace(root: Path) -> str:
    """Another writer's cleanup and write attempt, run as PID 1 of its own pid namespace (where the
    live build's pid is no process at all)."""
    assert UNSHARE is not None
    code = ("import sys; from pathlib import Path; import rodata; from rodata import store\n"
            "print('removed', store.clean_stale_staging(Path(sys.argv[1]) / 'd'))\n"
            "try:\n    rodata.write(sys.argv[1], 'd', {'id': [1]}, key='id')\n"
            "except store.BuildInProgressError as exc:\n    print('refused', exc)\n")
    out = subprocess.run([*UNSHARE, sys.executable, "-c", code, str(root)], capture_output=True, text=True,
                         timeout=120, env=paused_build.env())
    assert out.returncode == 0, out.stderr
    return out.stdout


@needs_pid_namespaces
def test_a_live_builds_staging_survives_a_writer_in_another_pid_namespace(tmp_path: Path, data_root: Path) -> None:
    _old_version(tmp_path, data_root)
    proc = paused_build.start(tmp_path, build_args(big_csv(tmp_path), data_root, "--json"))
    d = data_root / "d"
    before = _staging(d)
    out = _clean_in_another_pid_namespace(data_root)
    assert out.startswith("removed []\nrefused d: another build of this dataset is running"), out
    assert _staging(d) == before
    code, stdout, err = paused_build.resume(proc)
    assert code == 0, err
    assert '"rows_out":40000' in stdout
    assert _hidden(d) == [".lock"]


def test_a_live_builds_staging_survives_a_cleanup_that_thinks_its_pid_dead(tmp_path: Path, data_root: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The same without a pid namespace: the cleanup told that no process has the build's pid."""
    _old_version(tmp_path, data_root)
    proc = paused_build.start(tmp_path, build_args(big_csv(tmp_path), data_root))
    d = data_root / "d"
    before = _staging(d)
    monkeypatch.setattr(store, "pid_alive", lambda pid: False)
    assert store.clean_stale_staging(d) == []
    assert _staging(d) == before and any(before[0].rglob("run-*"))
    code, _, err = paused_build.resume(proc)
    assert code == 0, err
    assert _hidden(d) == [".lock"]


def test_a_second_build_of_a_dataset_fails_at_once_naming_the_holder(tmp_path: Path, data_root: Path) -> None:
    live = _old_version(tmp_path, data_root)
    proc = paused_build.start(tmp_path, build_args(big_csv(tmp_path), data_root, "--json"))
    small = tmp_path / "small.csv"
    small.write_text("id,v\n1,x\n2,y\n")
    cli = [sys.executable, "-m", "rodata", "build", str(small), "--dataset", "d", "--key", "id", "--data-root",
           str(data_root)]
    second = subprocess.run(cli, capture_output=True, text=True, timeout=120, env=paused_build.env())
    assert second.returncode == 1, second.stderr
    lines = second.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("rodata: error: d: another build of this dataset is running "
                               f"(pid {proc.pid} on host {socket.gethostname()}, since ")
    assert "one build at a time per dataset" in lines[0]
    with pytest.raises(store.BuildInProgressError, match=f"pid {proc.pid} "):
        rodata.write(data_root, "d", {"id": [1], "v": ["z"]}, key="id")
    dry = subprocess.run([*cli, "--dry-run"], capture_output=True, text=True, timeout=120, env=paused_build.env())
    assert dry.returncode == 0, dry.stderr  # a dry run publishes nothing: it does not take the lock
    assert store.current_version(data_root / "d") == live
    code, stdout, err = paused_build.resume(proc)
    assert code == 0, err
    assert '"rows_out":40000' in stdout
    assert _hidden(data_root / "d") == [".lock"]  # the build lock went with its build
    rodata.write(data_root, "d", {"id": list(range(40000)), "v": ["z"] * 40000}, key="id")  # free again


def test_a_staging_dir_of_an_older_rodata_is_removed_once_untouched_for_a_day(data_root: Path) -> None:
    rodata.write(data_root, "d", {"k": [1]}, key="k")
    d = data_root / "d"
    legacy = d / ".staging-1-0a0b0c0d"  # no lock file beside it: written before there was one
    legacy.mkdir()
    (legacy / "part-00000.seg").write_bytes(b"half")
    assert store.clean_stale_staging(d) == [] and legacy.exists()  # PID 1 lives, and it was just written
    old = time.time() - store.LEGACY_STALE_AFTER - 60
    for p in (legacy / "part-00000.seg", legacy):
        os.utime(p, (old, old))
    assert store.clean_stale_staging(d) == [legacy.name]
    assert not legacy.exists()


def _write(root: Path, n: int) -> str:
    return rodata.write(root, "d", {"k": list(range(n))}, key="k", keep_versions=3).name


def test_pruning_never_removes_a_version_live_in_the_last_n_swaps(data_root: Path) -> None:
    d = data_root / "d"
    v1, v2, v3, v4 = (_write(data_root, 10 + i) for i in range(4))
    assert store.list_versions(d) == [v2, v3, v4]
    rodata.rollback(data_root, "d", v2)  # back to the oldest kept version: the fleet serves v2
    v5 = _write(data_root, 20)
    assert v2 in store.list_versions(d)
    v6 = _write(data_root, 21)  # HISTORY ends v2 v5 v6: v2 was live two swaps ago
    assert store.list_versions(d) == [v2, v4, v5, v6]
    v7 = _write(data_root, 22)  # v2 is out of the last three swaps now: pruned as usual
    assert store.list_versions(d) == [v5, v6, v7]
    assert store.history(d) == [v1, v2, v3, v4, v2, v5, v6, v7]
