"""Start-up, readiness, configuration and graceful shutdown of ``rodata serve``."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata.catalog import Catalog
from rodata.server.app import create_app
from rodata.server.settings import Settings
from rodata.server.threads import limit_native_threads, native_thread_counts
from tests.server.asgikit import call_app
from tests.server.httpkit import Server


def rodata_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rodata", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_livez_answers_before_the_first_load_and_healthz_waits_for_it(tmp_path: Path) -> None:
    rodata.write(tmp_path, "a", {"k": np.arange(10)}, key="k")
    catalog = Catalog(tmp_path)  # not loaded yet: the state of a server whose first load is running
    pair = [create_app(tmp_path, settings=Settings(fast_path=fast), catalog=catalog) for fast in (True, False)]
    loop = asyncio.new_event_loop()
    try:
        for app in pair:
            call = functools.partial(_call_app, loop, app)
            assert call("/livez")[0] == 200
            status, body = call("/healthz")
            assert status == 503 and body["status"] == "loading"
            assert call("/v1/datasets") == (503, {"error": {"code": "not_ready",
                                                            "message": "datasets are still being loaded"}})
            assert call("/v1/datasets/a/rows/1")[1]["error"]["code"] == "not_ready"
        catalog.load()
        for app in pair:
            assert _call_app(loop, app, "/healthz")[0] == 200
            assert _call_app(loop, app, "/v1/datasets/a/rows/1") == (200, {"k": 1})
    finally:
        loop.close()


def _call_app(loop: asyncio.AbstractEventLoop, app: Any, path: str) -> tuple[int, Any]:
    answer = loop.run_until_complete(call_app(app, "GET", path.encode()))
    return answer.status, json.loads(answer.body)


def test_a_pipe_in_a_parts_place_is_refused_without_blocking_the_others(tmp_path: Path) -> None:
    root = tmp_path / "root"
    rodata.write(root, "a", {"k": np.arange(10)}, key="k")
    version = rodata.write(root, "blocker", {"k": np.arange(10)}, key="k")
    part = root / "blocker" / version.name / "part-00000.seg"
    part.unlink()
    os.mkfifo(part)  # nobody writes to it: opening it for reading would wait forever
    server = Server(root, tmp_path / "server.log")
    try:
        server.wait_ready()
        states = {d["name"]: d for d in server.get("/healthz").json()["datasets"]}
        assert states["a"]["state"] == "serving" and states["blocker"]["state"] == "unavailable"
        assert "not a regular file" in states["blocker"]["refused"][0]["reason"]
        assert server.get("/v1/datasets/a/rows/1").json() == {"k": 1}
    finally:
        assert server.stop() == 0


def test_healthz_is_503_when_no_dataset_can_be_served(tmp_path: Path) -> None:
    root = tmp_path / "root"
    version = rodata.write(root, "broken", {"k": np.arange(5000), "x": np.arange(5000) * 2.0}, key="k")
    seg = root / "broken" / version.name / "part-00000.seg"
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 1
    seg.write_bytes(bytes(data))
    server = Server(root, tmp_path / "server.log")
    try:
        server.wait_until(lambda: server.get("/healthz").json()["ready"], "first load")
        health = server.get("/healthz")
        assert health.status == 503
        state = health.json()["datasets"][0]
        assert state["name"] == "broken" and state["state"] == "unavailable"
        assert "checksum mismatch" in state["refused"][0]["reason"]
        assert server.get("/v1/datasets/broken/rows/1").status == 404
    finally:
        assert server.stop() == 0


def test_sigterm_drains_requests_in_flight_and_exits_0(tmp_path: Path) -> None:
    root = tmp_path / "root"
    rows = 4_000_000  # a 32 MB column: far more than the socket buffers hold
    values = np.arange(rows, dtype=np.float64)
    rodata.write(root, "big", {"k": np.arange(rows, dtype=np.int64), "x": values}, key="k")
    server = Server(root, tmp_path / "server.log")
    server.wait_ready()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(b"GET /v1/datasets/big/columns/x HTTP/1.1\r\nhost: test\r\n\r\n")
    received = bytearray(sock.recv(65536))
    assert received.startswith(b"HTTP/1.1 200")
    server.proc.send_signal(signal.SIGTERM)
    # New connections are refused once the drain has begun.
    server.wait_until(lambda: _refused(server.port), "the listening socket closed")
    assert server.proc.poll() is None  # still sending the answer in flight
    while chunk := sock.recv(1 << 20):
        received.extend(chunk)
    sock.close()
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert b"content-length: 32000000" in head.lower()
    assert len(body) == values.nbytes and np.array_equal(np.frombuffer(body, "<f8"), values)
    assert server.proc.wait(60) == 0
    server.log_file.close()
    assert any(line.get("event") == "stopped" for line in server.logs())


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_logs_are_json_lines_on_stderr_and_there_is_no_access_log(tmp_path: Path) -> None:
    root = tmp_path / "root"
    rodata.write(root, "d", {"k": np.arange(3)}, key="k")
    server = Server(root, tmp_path / "server.log")
    try:
        server.wait_ready()
        for _ in range(5):
            server.get("/v1/datasets/d/rows/1")
    finally:
        assert server.stop() == 0
    lines = server.log_path.read_text().splitlines()
    docs = [json.loads(line) for line in lines]  # every line is JSON
    assert all({"ts", "level", "logger", "message"} <= set(d) for d in docs)
    assert any(d.get("event") == "dataset_loaded" and d.get("dataset") == "d" for d in docs)
    assert not any("/rows/1" in d["message"] for d in docs)


def test_access_log_can_be_turned_on(tmp_path: Path) -> None:
    root = tmp_path / "root"
    rodata.write(root, "d", {"k": np.arange(3)}, key="k")
    server = Server(root, tmp_path / "server.log", "--access-log")
    try:
        server.wait_ready()
        server.get("/v1/datasets/d/rows/2")
    finally:
        assert server.stop() == 0
    assert any("/v1/datasets/d/rows/2" in d.get("message", "") for d in server.logs())


@pytest.mark.parametrize(("args", "env"), [(["--workers", "4"], {}), ([], {"WEB_CONCURRENCY": "3"})])
def test_several_workers_are_refused(tmp_path: Path, args: list[str], env: dict[str, str]) -> None:
    done = rodata_cli("serve", "--data-root", str(tmp_path), "--port", "0", *args, env=env)
    assert done.returncode == 2
    assert "scale with replicas" in done.stderr


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    root = tmp_path / "root"
    rodata.write(root, "d", {"k": np.arange(30)}, key="k")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"RODATA_DATA_ROOT": str(root), "RODATA_HOST": "127.0.0.1", "RODATA_PORT": str(port),
           "RODATA_MAX_SCAN_ROWS": "4"}
    server = Server(root, tmp_path / "server.log", env=env, command=[sys.executable, "-m", "rodata", "serve"])
    try:
        assert server.port == port
        server.wait_ready()
        assert server.get("/v1/datasets/d/scan?limit=5").error_code == "limit_too_large"
        assert len(server.get("/v1/datasets/d/scan").json()["rows"]) == 4
    finally:
        assert server.stop() == 0


def test_usage_errors(tmp_path: Path) -> None:
    assert rodata_cli("serve", env={"RODATA_DATA_ROOT": ""}).returncode == 2
    assert rodata_cli("serve", "--data-root", str(tmp_path / "missing")).returncode == 2
    done = rodata_cli("serve", "--data-root", str(tmp_path), env={"RODATA_PORT": "http"})
    assert done.returncode == 2 and "port" in done.stderr
    done = rodata_cli("serve", "--data-root", str(tmp_path), env={"RODATA_MAX_SCAN_ROWS": "many"})
    assert done.returncode == 2 and "RODATA_MAX_SCAN_ROWS" in done.stderr


def test_blas_pools_are_set_to_one_thread() -> None:
    counts = limit_native_threads(1)
    assert counts, "numpy's BLAS library was not found among the loaded libraries"
    assert set(counts.values()) == {1}
    assert native_thread_counts() == counts
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1" and os.environ["OMP_NUM_THREADS"] == "1"


def test_create_app_is_embeddable(tmp_path: Path) -> None:
    from fastapi import FastAPI

    rodata.write(tmp_path, "d", {"k": np.arange(3)}, key="k")
    app = create_app(tmp_path, settings=Settings(poll_interval=5))
    assert isinstance(app, FastAPI)
    assert {"/v1/datasets/{name}/lookup", "/healthz"} <= set(app.openapi()["paths"])
    app.catalog.load()
    assert app.catalog.get("d") is not None
