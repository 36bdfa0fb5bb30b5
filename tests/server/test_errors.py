"""Errors never cost the connection: an internal error answers 500 with the error shape and the
connection stays usable; the only answers after which the server closes it say ``Connection: close``."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata.server import render, rowtargets
from tests.core.segfile import reseal
from tests.server.asgikit import apps
from tests.server.httpkit import Server

ROUTES = [("GET", "/v1/datasets/d/rows/1", b""), ("GET", "/v1/datasets/d/rows/1?columns=s", b""),
          ("POST", "/v1/datasets/d/lookup", b'{"keys": [1, 2]}'),
          ("POST", "/v1/datasets/d/lookup", b'{"keys": [1], "format": "npz", "columns": ["x"]}'),
          ("GET", "/v1/datasets/d/scan", b""), ("GET", "/v1/datasets/d/columns/s", b""),
          ("GET", "/v1/datasets/d/columns/x?format=json", b""), ("GET", "/v1/datasets/d", b""),
          ("GET", "/v1/datasets", b"")]


def test_an_internal_error_is_a_500_answer_and_nothing_escapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    rodata.write(tmp_path, "d", {"id": np.arange(5), "s": list("abcde"), "x": np.arange(5) / 2}, key="id")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("planted fault")

    for name in ("row_json", "lookup_json", "lookup_npz", "scan_page", "column_slice", "describe"):
        monkeypatch.setattr(render, name, broken)
    monkeypatch.setattr(rowtargets, "row_target", broken)  # the compiled protocol's own row answers
    with apps(tmp_path) as both:
        for method, path, body in ROUTES:
            for app in (both.fast, both.slow):
                got = both.call(app, method, path, body)  # an exception escaping the app fails here
                assert got.status == 500, (path, got.body)
                assert json.loads(got.body) == {"error": {"code": "internal", "message": "internal error"}}
                assert got.header("connection") is None
                if method == "GET":  # HEAD: the same 500, without its body
                    head = both.call(app, "HEAD", path)
                    assert (head.status, head.headers, head.body) == (500, got.headers, b""), path
    logged = [r for r in caplog.records if r.getMessage() == "internal error: planted fault"]
    heads = sum(method == "GET" for method, _, _ in ROUTES)
    assert len(logged) == 2 * (len(ROUTES) + heads)  # each logged once, with its traceback
    assert all(r.exc_info for r in logged)


# -- a real server, one raw keep-alive connection -------------------------------------------------------


class Raw:
    """One HTTP/1.1 connection driven by hand: requests out, answers parsed by content-length."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:  # closed with unread data on its side: closed all the same
            chunk = b""
        self.buf += chunk
        return bool(chunk)

    def answer(self) -> tuple[int, dict[str, str], bytes] | None:
        """The next answer, or None when the server closed the connection first."""
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                assert not self.buf, f"connection closed inside an answer: {self.buf[:200]!r}"
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        size = int(headers["content-length"])
        while len(self.buf) < size:
            assert self._fill(), "connection closed inside a body"
        body, self.buf = self.buf[:size], self.buf[size:]
        return int(lines[0].split()[1]), headers, body

    def closed(self) -> bool:
        return not self.buf and not self._fill()

    def close(self) -> None:
        self.sock.close()


def plant_bad_utf8(root: Path, dataset: str, marker: bytes) -> None:
    """Make the bytes `marker` of a string value invalid UTF-8 with every checksum and the manifest's
    fingerprint still right: a fault only reading the value can find."""
    version = (root / dataset / "CURRENT").read_text().strip()
    part = root / dataset / version / "part-00000.seg"
    buf = bytearray(part.read_bytes())
    at = buf.index(marker)
    buf[at] = 0xFF
    buf = reseal(buf)
    part.write_bytes(bytes(buf))
    manifest_path = root / dataset / version / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    trailer = len(buf) - 64
    manifest["parts"][0]["fingerprint"] = f"{int.from_bytes(buf[trailer + 16 : trailer + 24], 'little'):016x}"
    manifest_path.write_text(json.dumps(manifest))


def request(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nhost: test\r\ncontent-length: {len(body)}\r\n"
    return head.encode() + (b"content-type: application/json\r\n" if body else b"") + b"\r\n" + body


def test_keep_alive_connections_survive_every_error_answer(tmp_path: Path) -> None:
    rodata.write(tmp_path, "good", {"id": np.arange(100), "x": np.arange(100) * 1.5}, key="id")
    rodata.write(tmp_path, "bad", {"id": np.arange(3), "s": ["ok", "PLANTED-VALUE", "fine"]}, key="id")
    plant_bad_utf8(tmp_path, "bad", b"PLANTED-VALUE")
    # Verification off (RODATA_VERIFY=0) serves the version, so reading the planted value fails at
    # access time: the one way left to an internal error on a real server.
    srv = Server(tmp_path, tmp_path / "server.log", "--max-column-bytes", "1000", "--max-body-bytes", "100",
                 env={"RODATA_VERIFY": "0"})
    try:
        srv.wait_ready()
        conn = Raw(srv.port)
        exchanges = [
            (request("GET", "/v1/datasets/bad/scan"), {500}),  # the scan goes through FastAPI
            (request("GET", "/v1/datasets/bad/rows/1"), {500}),
            (request("GET", "/v1/datasets/bad/columns/s"), {500}),
            (request("POST", "/v1/datasets/bad/lookup", b'{"keys": [1]}'), {500}),
            (request("GET", "/v1/datasets/good/rows/7"), {200}),
            (request("GET", "/v1/datasets/good/rows/nope"), {422}),
            (request("POST", "/v1/datasets/good/lookup", b"{not json"), {400}),
            (request("POST", "/v1/datasets/good/lookup", b'{"keys": [' + b"1," * 60 + b"1]}"), {413}),
            (request("GET", "/v1/datasets/good/columns/x?format=json"), {413}),
            (request("DELETE", "/v1/datasets/good/rows/7"), {405}),
            (request("GET", "/nowhere"), {404}),
            (request("GET", "/v1/datasets/good/rows/8"), {200}),
        ]
        for i, (data, statuses) in enumerate(exchanges):
            conn.sock.sendall(data)
            got = conn.answer()
            assert got is not None, f"closed without Connection: close after {exchanges[i - 1][0][:60]!r}"
            status, headers, body = got
            assert status in statuses, (data[:60], status, body)
            if status >= 400:
                doc = json.loads(body)
                assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}
                assert (doc["error"]["code"] == "internal") == (status == 500)
            assert headers.get("connection") != "close", (data[:60], headers)
        # A request the HTTP parser cannot read: a 400 with the error shape, and the connection is
        # closed, as the answer says.
        conn.sock.sendall(b"GET /v1/datasets HTTP/1.1\r\nbad header line\r\n\r\n")
        got = conn.answer()
        assert got is not None
        status, headers, body = got
        assert (status, headers["connection"]) == (400, "close")
        assert json.loads(body)["error"]["code"] == "malformed_request"
        assert conn.closed()
        conn.close()
    finally:
        assert srv.stop() == 0
