"""The fleet mode through a real ``rodata serve`` process: ``--verify recorded`` serves on the
recorded verdicts (a version without one waits, a failed one is never served),
``--require-all-datasets`` readiness, version skew in ``/metrics``, and the new flags' checks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import rodata
from rodata.store import CURRENT
from tests.server.httpkit import Server
from tests.test_verdicts import corrupt_bytes, malform, record_with_cli


def publish(root: Path, name: str, rows: int = 100, gen: int = 0) -> rodata.Version:
    keys = np.arange(rows, dtype=np.int64)
    return rodata.write(root, name, {"k": keys, "v": keys * 10 + gen}, key="k")


def unverified_version(root: Path, name: str, gen: int) -> str:
    """A new version of `name` made live with no verdict beside it (a writer that records none):
    built under a scratch root with the next version number, moved in, CURRENT renamed to it."""
    scratch = root.parent / f"scratch-{name}-{gen}"
    for _ in range(len([p for p in (root / name).iterdir() if p.name.startswith("v")]) + 1):
        v = publish(scratch, name, gen=gen)
    shutil.rmtree(v.path / "verdicts")
    shutil.move(str(v.path), str(root / name / v.name))
    tmp = root / name / ".CURRENT.tmp"
    tmp.write_text(v.name + "\n")
    os.replace(tmp, root / name / CURRENT)
    return v.name


def dataset_doc(srv: Server, name: str) -> dict[str, object]:
    return next(d for d in srv.get("/healthz").json()["datasets"] if d["name"] == name)


def test_serve_verify_recorded_serves_on_verdicts_and_waits_for_them(tmp_path: Path) -> None:
    root = tmp_path / "data"
    trusted = publish(root, "trusted")
    corrupt_bytes(trusted)  # bad bytes, a pass recorded: served (the documented trade-off)
    publish(root, "refused")
    bad = publish(root, "refused", gen=1)
    malform(bad)
    assert record_with_cli(root, "refused").returncode == 1  # a failed verdict: never served
    srv = Server(root, tmp_path / "server.log", "--verify", "recorded")
    try:
        srv.wait_ready()
        health = srv.get("/healthz").json()
        assert health["verify"] == "recorded"
        assert srv.get("/v1/datasets/trusted/rows/7").json()["v"] != 70
        refused = dataset_doc(srv, "refused")
        assert refused["state"] == "unavailable" and refused["current"] == bad.name
        assert "failed verification" in refused["refused"][0]["reason"]  # type: ignore[index]
        assert srv.get("/v1/datasets/refused/rows/1").status == 404
        waiting = unverified_version(root, "trusted", gen=2)
        srv.wait_until(lambda: dataset_doc(srv, "trusted")["waiting"], "the new version to wait")
        assert dataset_doc(srv, "trusted")["version"] == trusted.name
        metrics = srv.get("/metrics").body.decode()
        assert 'rodata_dataset_version_skew{dataset="trusted"} 1.0' in metrics
        assert f'rodata_dataset_current_info{{dataset="trusted",version="{waiting}"}} 1.0' in metrics
        assert record_with_cli(root, "trusted").returncode == 0
        srv.wait_until(lambda: dataset_doc(srv, "trusted")["version"] == waiting, "the recorded version served")
        assert srv.get("/v1/datasets/trusted/rows/7").json()["v"] == 72
        metrics = srv.get("/metrics").body.decode()
        assert 'rodata_dataset_version_skew{dataset="trusted"} 0.0' in metrics
    finally:
        srv.stop()


def test_require_all_datasets_is_503_until_every_dataset_serves(tmp_path: Path) -> None:
    root = tmp_path / "data"
    publish(root, "a")
    bad = publish(root, "b")
    corrupt_bytes(bad)  # refused by full verification: "b" serves nothing
    strict = Server(root, tmp_path / "strict.log", "--require-all-datasets")
    lenient = Server(root, tmp_path / "lenient.log")
    try:
        lenient.wait_ready()
        strict.wait_until(lambda: strict.get("/healthz").json()["ready"], "the first load")
        r = strict.get("/healthz")
        assert r.status == 503 and r.json()["status"] == "incomplete" and r.json()["missing"] == ["b"]
        assert strict.get("/v1/datasets/a/rows/1").status == 200  # what serves is still served
        publish(root, "b", gen=1)
        strict.wait_ready()
        assert strict.get("/healthz").json()["missing"] == []
    finally:
        strict.stop()
        lenient.stop()


def test_the_env_settings_and_flag_values_are_checked(tmp_path: Path) -> None:
    publish(tmp_path, "a")

    def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rodata", "serve", "--data-root", str(tmp_path), "--port", "0",
                               *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})

    done = serve("--max-concurrency", "-3")
    assert done.returncode == 2 and "max_concurrency" in done.stderr
    done = serve("--verify", "sometimes")
    assert done.returncode == 2 and "--verify" in done.stderr
    done = serve(env={"RODATA_VERIFY": "sometimes"})
    assert done.returncode == 2 and "verification mode" in done.stderr
    srv = Server(tmp_path, tmp_path / "env.log", env={"RODATA_VERIFY": "false", "RODATA_MAX_CONCURRENCY": "8",
                                                       "RODATA_REQUIRE_ALL_DATASETS": "1"})
    try:
        srv.wait_ready()
        doc = srv.get("/healthz").json()
        assert doc["verify"] == "off" and doc["missing"] == []  # false keeps its meaning: no checksum pass
    finally:
        srv.stop()
