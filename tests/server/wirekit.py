"""HTTP/1.1 on a raw socket, for the tests on the wire: requests written byte for byte, answers read
with a real parser (content-length, chunked with trailers, bodyless HEAD, 1xx, 204 and 304 answers,
read-until-close), every read bounded by a timeout."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: How long one read waits for bytes (a bound on waiting, never a speed check).
READ_TIMEOUT = 30.0


def request(method: str, target: str, body: bytes = b"", headers: Iterable[tuple[str, str]] = (),
            *, version: str = "HTTP/1.1", length: bool | None = None) -> bytes:
    """The bytes of one request: a ``host`` header, then `headers`, then a ``content-length`` when
    there is a body (or when `length` is true; never when `length` is false)."""
    lines = [f"{method} {target} {version}", "host: test"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length or (length is None and body):
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def post_json(target: str, doc: Any, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """A POST of the JSON document `doc` (a str is sent as it is)."""
    body = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
    return request("POST", target, body, [("content-type", "application/json"), *headers], length=True)


def chunked(body: bytes, sizes: Iterable[int], trailers: Iterable[tuple[str, str]] = ()) -> bytes:
    """`body` in the chunked transfer coding, cut into chunks of `sizes` (cycled), then trailers."""
    sizes = list(sizes)
    out = bytearray()
    at, i = 0, 0
    while at < len(body):
        size = max(1, sizes[i % len(sizes)])
        piece = body[at : at + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        at += len(piece)
        i += 1
    out += b"0\r\n"
    for name, value in trailers:
        out += f"{name}: {value}\r\n".encode("latin-1")
    return bytes(out + b"\r\n")


@dataclass
class Answer:
    """One answer as it came on the wire (header names lower-cased, in order)."""

    status: int
    reason: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    trailers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        assert len(values) <= 1, f"header {name!r} sent {len(values)} times: {self.headers}"
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str:
        """The code of an error answer, checked to be in the one error shape."""
        assert (self.header("content-type") or "").startswith("application/json"), self.headers
        doc = self.json()
        assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}, doc
        assert isinstance(doc["error"]["message"], str) and doc["error"]["message"], doc
        return str(doc["error"]["code"])

    def key(self, ignore: frozenset[str] = frozenset({"date"})) -> tuple[int, list[tuple[str, str]], bytes]:
        """What must be equal between two answers to the same request: the status, every header
        but those in `ignore` (as a sorted list: order carries no meaning, repeats do), the body."""
        return self.status, sorted((k, v) for k, v in self.headers if k not in ignore), self.body


class Closed(AssertionError):
    """The server closed the connection before a complete answer."""


class Wire:
    """One raw connection to the server on loopback."""

    def __init__(self, port: int, *, rcvbuf: int | None = None, timeout: float = READ_TIMEOUT) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:  # before connect, so the window is small from the start
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def widen(self, rcvbuf: int = 4 << 20) -> None:
        """Let the receive buffer grow again (after a test held it small to stall the server)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_in_pieces(self, data: bytes, step: int = 1, pause: float = 0.0) -> None:
        """Send `data` `step` bytes per send (with `pause` seconds between, so the pieces arrive
        as separate reads)."""
        for at in range(0, len(data), step):
            self.sock.sendall(data[at : at + step])
            if pause:
                time.sleep(pause)

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(1 << 20)
        except ConnectionResetError:  # closed with unread data on its side: closed all the same
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            if not self._fill():
                raise Closed(f"connection closed inside a line: {bytes(self.buf[:200])!r}")
        line = bytes(self.buf[:end])
        del self.buf[: end + 2]
        return line

    def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise Closed(f"connection closed inside a body: {len(self.buf)} of {n} bytes")
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def _fields(self) -> list[tuple[str, str]]:
        out = []
        while line := self._line():
            name, sep, value = line.decode("latin-1").partition(":")
            assert sep and name == name.strip() and name, f"bad header line {line!r}"
            out.append((name.lower(), value.strip(" \t")))
        return out

    def answer(self, head: bool = False) -> Answer | None:
        """The next answer (a 1xx included), or None when the server closed the connection cleanly
        before sending a byte of it.  `head`: the request was a HEAD (no body follows)."""
        if not self.buf and not self._fill():
            return None
        status_line = self._line().decode("latin-1")
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        assert version in ("HTTP/1.1", "HTTP/1.0") and code.isdigit() and len(code) == 3, status_line
        got = Answer(int(code), reason, version, self._fields())
        if head or got.status < 200 or got.status in (204, 304):
            return got
        coding = got.header("transfer-encoding")
        length = got.header("content-length")
        if coding is not None:
            assert coding.lower() == "chunked" and length is None, got.headers
            got.body, got.trailers = self._chunked()
        elif length is not None:
            assert length.isdigit(), got.headers
            got.body = self._exactly(int(length))
        else:  # delimited by the close
            while self._fill():
                pass
            got.body, self.buf = bytes(self.buf), bytearray()
        return got

    def _chunked(self) -> tuple[bytes, list[tuple[str, str]]]:
        body = bytearray()
        while True:
            size_line = self._line().split(b";", 1)[0].strip()
            size = int(size_line, 16)
            if size == 0:
                return bytes(body), self._fields()
            body += self._exactly(size)
            assert self._line() == b"", "a chunk not followed by CRLF"

    def final(self, head: bool = False) -> Answer:
        """The next final (non-1xx) answer, which must come."""
        while True:
            got = self.answer(head)
            if got is None:
                raise Closed("the connection closed before the answer")
            if got.status >= 200:
                return got

    def answers(self, heads: Iterable[bool]) -> list[Answer]:
        """One final answer per request sent, `heads` telling which were HEAD requests."""
        return [self.final(h) for h in heads]

    def closed(self, timeout: float = READ_TIMEOUT) -> bool:
        """True when the server closes the connection with nothing more sent, within `timeout`
        seconds (False when bytes arrive or the time runs out)."""
        if self.buf:
            return False
        self.sock.settimeout(timeout)
        try:
            return not self._fill()
        except TimeoutError:
            return False
        finally:
            self.sock.settimeout(READ_TIMEOUT)

    def close(self) -> None:
        self.sock.close()


def exchange(port: int, data: bytes, heads: Iterable[bool] | None = None) -> list[Answer]:
    """Send `data` on a fresh connection and read the answers to it: as many as `heads` says, or
    (without `heads`, when no request is a HEAD) every answer until the server closes."""
    with Wire(port) as wire:
        wire.send(data)
        if heads is not None:
            return wire.answers(heads)
        out = []
        while (got := wire.answer()) is not None:
            out.append(got)
        return out


def alone(port: int, data: bytes, head: bool = False) -> Answer:
    """The answer to one request sent alone on a fresh connection."""
    with Wire(port) as wire:
        wire.send(data)
        return wire.final(head)
