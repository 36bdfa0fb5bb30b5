"""``rodata demo``: generates a sample, builds it, serves it, and the curl examples it prints work."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.server.httpkit import Client


def run_examples(lines: list[str], port: int) -> list[int]:
    """Do what each printed ``curl`` command asks, with an HTTP client; returns the statuses."""
    client = Client(port)
    statuses = []
    try:
        for line in lines:
            words = shlex.split(line.split("|")[0])
            assert words[0] == "curl"
            url = next(w for w in words if w.startswith("http://"))
            path = url.split(f":{port}", 1)[1]
            method = words[words.index("-X") + 1] if "-X" in words else "GET"
            body = words[words.index("-d") + 1] if "-d" in words else None
            if body is not None:
                json.loads(body)  # the example body is valid JSON
            statuses.append(client.request(method, path, body, {"content-type": "application/json"}).status)
    finally:
        client.close()
    return statuses


def test_demo_builds_serves_and_its_examples_work(tmp_path: Path) -> None:
    env = {**os.environ, "RODATA_DEMO_DIR": str(tmp_path / "demo")}
    cmd = [sys.executable, "-m", "rodata", "demo", "--rows", "3000", "--port", "0", "--seconds", "60"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, f"demo exited early with {proc.poll()}: {lines}"
            lines.append(line.rstrip("\n"))
            if line.startswith("serving"):
                break
        curls = [x.strip() for x in lines if x.strip().startswith("curl ")]
        assert len(curls) >= 6
        port = int(curls[0].split("http://127.0.0.1:")[1].split("/")[0])
        assert (tmp_path / "demo" / "users.csv").stat().st_size > 100_000
        client = Client(port)
        for _ in range(1200):  # bounded wait for the first load
            if client.get("/healthz").status == 200:
                break
            time.sleep(0.05)
        client.close()
        assert run_examples(curls, port) == [200] * len(curls)
    finally:
        proc.terminate()
        assert proc.wait(60) == 0


def test_demo_without_serving_reuses_the_sample(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "rodata", "demo", "--dir", str(tmp_path), "--rows", "500", "--no-serve"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "generating a sample of 500 users" in first.stdout and "curl -s" in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0 and "generating" not in second.stdout
    assert "built users v000002-" in second.stdout and "rows in 1 part from" in second.stdout  # build's summary


@contextlib.contextmanager
def taken_port() -> Iterator[int]:
    """A loopback port another socket is listening on."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        yield taken.getsockname()[1]
    finally:
        taken.close()


def test_demo_refuses_a_taken_port_before_it_builds(tmp_path: Path) -> None:
    with taken_port() as port:
        cmd = [sys.executable, "-m", "rodata", "demo", "--dir", str(tmp_path / "d"), "--port", str(port)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "--port 0 for a free one" in proc.stderr
    assert not (tmp_path / "d").exists()  # nothing generated or built


def test_serve_on_a_taken_port_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with taken_port() as port:
        cmd = [sys.executable, "-m", "rodata", "serve", "--data-root", str(tmp_path / "data"), "--port", str(port)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (f"rodata: error: cannot listen on 127.0.0.1:{port}: Address already in use: pick another --port "
                    "(0 picks a free one) or --host")
    assert "Errno" not in proc.stderr and "Traceback" not in proc.stderr
