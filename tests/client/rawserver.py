"""A tiny HTTP/1.1 server on a raw socket for the client tests: it answers every request with one
fixed answer (a 503, a proxy's HTML page, a dataset list) and records each request it read."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass


@dataclass
class Seen:
    """One request as it arrived."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class RawServer:
    """Listens on 127.0.0.1 (a free port) in a thread; keep-alive, Content-Length bodies only."""

    def __init__(self, status: int, body: bytes, content_type: str = "application/json",
                 extra_headers: dict[str, str] | None = None) -> None:
        reason = {200: "OK", 502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Status")
        head = [f"HTTP/1.1 {status} {reason}", f"content-type: {content_type}", f"content-length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (extra_headers or {}).items()]
        self.answer = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                size = int(headers.get("content-length", "0"))
                while len(buffer) < size:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                body, buffer = buffer[:size], buffer[size:]
                with self._lock:
                    self.seen.append(Seen(method, target, headers, body))
                conn.sendall(self.answer)

    def close(self) -> None:
        self._sock.close()


def dead_url() -> str:
    """The URL of a loopback port that nothing listens on (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
