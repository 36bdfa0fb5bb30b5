"""Helpers for the server tests: a real ``rodata serve`` process on loopback, an HTTP client, and
the datasets served."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tests.waiting import wait_until

#: How long a test waits for the server to come up (a bound on waiting, not a speed check).
STARTUP_WAIT = 60.0


class Response:
    """One HTTP answer."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str:
        doc = self.json()
        assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}, doc
        return str(doc["error"]["code"])


class Client:
    """A keep-alive HTTP/1.1 client for one server (reconnects when the server closes)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | str | None = None,
                headers: dict[str, str] | None = None) -> Response:
        if isinstance(body, str):
            body = body.encode()
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                answer = self.conn.getresponse()
                data = answer.read()
                return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, body: Any, raw: bool = False) -> Response:
        data = body if raw else json.dumps(body)
        return self.request("POST", path, data, {"content-type": "application/json"})

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Server:
    """A ``rodata serve`` subprocess; its JSON log lines go to a file."""

    def __init__(self, data_root: Path, log_path: Path, *args: str, env: dict[str, str] | None = None,
                 command: list[str] | None = None) -> None:
        self.data_root = data_root
        self.log_path = log_path
        full_env = {**os.environ, **(env or {})}
        full_env.setdefault("RODATA_POLL_INTERVAL", "0.1")
        self.log_file = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        cmd = command or [sys.executable, "-m", "rodata", "serve", "--data-root", str(data_root), "--port", "0",
                          *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log_file, env=full_env)
        self.port = self._wait_for_port()
        self.client = Client(self.port)

    def _wait_for_port(self) -> int:
        def listening() -> int | None:
            for line in self.logs():
                if line.get("event") == "listening":
                    return int(line["port"])
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}: {self.log_path.read_text()}")
            return None

        return wait_until(listening, "the server to listen", STARTUP_WAIT)

    def logs(self) -> list[dict[str, Any]]:
        out = []
        for raw in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append({"unparsed": raw})
        return out

    def wait_until(self, predicate: Any, what: str, timeout: float = STARTUP_WAIT) -> Any:
        """Poll `predicate()` until it returns something true (a bound on waiting, not a speed check)."""
        return wait_until(predicate, what, timeout, ignore=(OSError,),
                          detail=lambda: f"log: {self.log_path.read_text()[-4000:]}")

    def wait_ready(self) -> None:
        self.wait_until(lambda: self.client.get("/healthz").status == 200, "/healthz 200")

    def get(self, path: str) -> Response:
        return self.client.get(path)

    def post(self, path: str, body: Any, raw: bool = False) -> Response:
        return self.client.post(path, body, raw)

    def rss_anon_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
        raise AssertionError("no RssAnon in /proc status")

    def mapped_paths(self) -> set[str]:
        paths = set()
        for line in Path(f"/proc/{self.proc.pid}/maps").read_text().splitlines():
            parts = line.split(None, 5)
            if len(parts) == 6:
                paths.add(parts[5])
        return paths

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        return self.proc.returncode


# -- datasets ---------------------------------------------------------------------------------

ITEMS_ROWS = 5000


def items_columns(rows: int = ITEMS_ROWS, seed: int = 3) -> dict[str, Any]:
    """A table with every column type, nulls, and int64 keys (multiples of 3, shuffled)."""
    rng = np.random.default_rng(seed)
    keys = rng.permutation(np.arange(rows, dtype=np.int64) * 3 - 600)
    price: list[float | None] = [float(x) for x in np.round(rng.random(rows) * 100, 3)]
    for i in range(0, rows, 17):
        price[i] = None
    blob: list[bytes | None] = [bytes([i % 256, (i * 7) % 256]) if i % 5 else None for i in range(rows)]
    return {
        "id": keys,
        "name": [f"item-{k}" for k in keys.tolist()],
        "price": np.array(price, dtype=object),
        "qty": rng.integers(-1000, 1000, rows).astype(np.int32),
        "flag": rng.random(rows) < 0.5,
        "ts": (np.datetime64("2024-01-01T00:00:00", "ns")
               + rng.integers(0, 10**15, rows).astype("timedelta64[ns]")),
        "day": np.datetime64("2020-01-01") + rng.integers(0, 2000, rows).astype("timedelta64[D]"),
        "emb": rng.random((rows, 4), dtype=np.float32),
        "blob": blob,
    }


WORDS = ["a", "apple", "apricot", "b/c", "banana", "é", "zebra", "100%", "x?y", "sp ace", "ünï"]


