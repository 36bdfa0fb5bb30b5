"""A build that dies mid-way — SIGKILL, Ctrl-C, SIGTERM — publishes nothing: the old version keeps
serving, the workers go with it, and the next build leaves no temporary files behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import rodata
from rodata._process import pid_alive
from tests.waiting import wait_until

from .conftest import ROOT, all_rows, write

# A build in its own process that stops itself (SIGKILL or SIGINT) from the progress callback once
# the first chunks are parsed: deterministic, no timing guesses.  It prints its workers' pids first.
SCRIPT = """
import os, signal, sys
import rodata
from rodata.etl import pool

sig = getattr(signal, sys.argv[4])
seen = []

def on_progress(event):
    if event.phase == "read" and event.done and not seen:
        seen.append(1)
        executor = pool_ref[-1]._executor
        print(" ".join(str(p) for p in executor._processes), flush=True)
        os.kill(os.getpid(), sig)

pool_ref = []
original = pool.WorkerPool.__init__
def remember(self, *args, **kwargs):
    original(self, *args, **kwargs)
    pool_ref.append(self)
pool.WorkerPool.__init__ = remember

rodata.build(sys.argv[1], dataset="d", key="id", data_root=sys.argv[2], workers=int(sys.argv[3]),
             chunk_bytes=20000, progress=on_progress)
"""


def big_csv(tmp_path: Path, n: int = 40000) -> Path:
    return write(tmp_path, "new.csv", "id,v\n" + "".join(f"{i},value-{i}\n" for i in range(n)))


def run_and_stop(tmp_path: Path, root: Path, signame: str) -> tuple[subprocess.CompletedProcess[str], list[int]]:
    script = write(tmp_path, "stop.py", SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(big_csv(tmp_path)), str(root), "2", signame],
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(ROOT / "src")})
    pids = [int(p) for p in proc.stdout.split()]
    return proc, pids


def gone(pid: int, timeout: float = 10) -> bool:
    try:
        return wait_until(lambda: not pid_alive(pid), f"process {pid} to exit", timeout)
    except AssertionError:
        return False


def old_version(tmp_path: Path, root: Path) -> str:
    report = rodata.build(write(tmp_path, "old.csv", "id,v\n1,old\n"), dataset="d", key="id", data_root=root)
    return report.version


def test_sigkill_mid_build_keeps_the_old_version_serving(tmp_path: Path, root: Path) -> None:
    live = old_version(tmp_path, root)
    proc, pids = run_and_stop(tmp_path, root, "SIGKILL")
    assert proc.returncode == -signal.SIGKILL
    assert len(pids) == 2
    assert all(gone(pid) for pid in pids), "workers die with their build"
    assert (root / "d" / "CURRENT").read_text().strip() == live
    assert all_rows(root / "d") == [{"id": 1, "v": "old"}]
    left = [p for p in (root / "d").iterdir() if p.name.startswith(".staging-")]
    assert len(left) == 1 and any(left[0].rglob("run-*"))  # it really died mid-way, spill files and all
    # The next build cleans up after the dead one.
    report = rodata.build(tmp_path / "new.csv", dataset="d", key="id", data_root=root)
    assert report.rows_out == 40000
    assert [p.name for p in (root / "d").iterdir() if p.name.startswith(".")] == [".lock"]


def test_ctrl_c_mid_build_cleans_up_at_once(tmp_path: Path, root: Path) -> None:
    live = old_version(tmp_path, root)
    proc, pids = run_and_stop(tmp_path, root, "SIGINT")
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in proc.stderr
    assert all(gone(pid) for pid in pids)
    assert (root / "d" / "CURRENT").read_text().strip() == live
    assert [p.name for p in (root / "d").iterdir() if p.name.startswith(".")] == [".lock"]


CLI_SCRIPT = """
import os, signal, sys
from rodata.etl import build, progress

def stop_on_first_chunk(progress_arg):
    sent = []
    def on_event(event):
        if event.phase == "read" and event.done and not sent:
            sent.append(1)
            os.kill(os.getpid(), signal.SIGTERM)
    return progress._Callback(on_event)

build.make_progress = stop_on_first_chunk
from rodata.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_stops_the_cli_cleanly(tmp_path: Path, root: Path) -> None:
    live = old_version(tmp_path, root)
    script = write(tmp_path, "term.py", CLI_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), "build", str(big_csv(tmp_path)), "--dataset", "d",
                           "--key", "id", "--data-root", str(root), "--workers", "2", "--chunk-size", "20K"],
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "rodata: interrupted\n"
    assert (root / "d" / "CURRENT").read_text().strip() == live
    assert [p.name for p in (root / "d").iterdir() if p.name.startswith(".")] == [".lock"]


# A signal at a chosen point of publishing: right after CURRENT names the new version, or inside
# publish before the version is moved into place (the first directory fsync of publish).
PUBLISH_SCRIPT = """
import os, signal, sys
from rodata import store

sig, where = getattr(signal, sys.argv[1]), sys.argv[2]
hooked = {"swap": "swap_current", "before-rename": "_fsync_dir"}[where]
original = getattr(store, hooked)
sent = []

def hook(*args, **kwargs):
    result = original(*args, **kwargs)
    if not sent and (where == "swap" or os.path.basename(str(args[0])).startswith(".staging-")):
        sent.append(1)
        os.kill(os.getpid(), sig)
    return result

setattr(store, hooked, hook)
from rodata.cli import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.parametrize(("signame", "where"), [("SIGTERM", "swap"), ("SIGINT", "swap"),
                                                ("SIGTERM", "before-rename")])
def test_a_signal_while_publishing_is_held_and_the_build_succeeds(tmp_path: Path, root: Path, signame: str,
                                                                   where: str) -> None:
    old_version(tmp_path, root)
    script = write(tmp_path, "publish.py", PUBLISH_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), signame, where, "build", str(big_csv(tmp_path, 2000)),
                           "--dataset", "d", "--key", "id", "--data-root", str(root), "--json"],
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (root / "d" / "CURRENT").read_text().strip() == report["version"]
    assert report["rows_out"] == 2000
    assert proc.stderr == (f"rodata build: {signame} arrived while the new version was being published; "
                           f"the build completed and {report['version']} is live\n")
    assert [p.name for p in (root / "d").iterdir() if p.name.startswith(".")] == [".lock"]
