"""Driving the server in-process, for tests that send many requests: the ASGI application the way
uvicorn does (:func:`call_app`), and the compiled protocol fed the request's bytes through a
transport that keeps what it is given (:func:`call_wire`), which answers the hot routes itself
and hands the rest to the same application.

An exception that escapes the application is what makes uvicorn close the connection after the
answer (without ``Connection: close``): :func:`call_app` reports it as a failure instead of hiding it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from rodata.catalog import Catalog
from rodata.server.app import RodataAPI, create_app
from rodata.server.runner import wire_for
from rodata.server.settings import Settings


@dataclass
class Answer:
    """One complete answer: status, headers (lower-case names, in order) and body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name.encode():
                return value.decode("latin-1")
        return None

    def key(self) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        return self.status, self.headers, self.body


class EscapedError(AssertionError):
    """The application raised after (or instead of) answering: a real server would drop the connection."""


async def call_app(app: Any, method: str, raw_path: bytes, query: bytes = b"", body: bytes = b"",
                   headers: list[tuple[bytes, bytes]] | None = None,
                   extra: list[tuple[bytes, bytes]] | None = None) -> Answer:
    """One request to `app` (``raw_path`` without the query string) and its complete answer;
    `headers` replace the usual ones, `extra` are added to them."""
    headers = request_headers(method, body, headers, extra)
    from urllib.parse import unquote_to_bytes

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"),
             "raw_path": raw_path, "query_string": query, "root_path": "", "headers": headers,
             "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 50000)}
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(dict(message))

    try:
        await app(scope, receive, send)
    except Exception as exc:
        raise EscapedError(f"{method} {raw_path!r}?{query!r}: the application raised {exc!r}") from exc
    if not messages or messages[0]["type"] != "http.response.start":
        raise EscapedError(f"{method} {raw_path!r}: no answer started")
    start = messages[0]
    chunks = [bytes(m.get("body", b"")) for m in messages[1:]]
    if messages[-1].get("more_body", False):
        raise EscapedError(f"{method} {raw_path!r}: the answer was never completed")
    return Answer(start["status"], [(bytes(k), bytes(v)) for k, v in start.get("headers", [])], b"".join(chunks))


class _Transport:
    """What the protocol writes to, kept; a client that never stops reading."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False

    def write(self, data: Any) -> None:
        self.out += data

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.out += chunk

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def request_headers(method: str, body: bytes, headers: list[tuple[bytes, bytes]] | None,
                    extra: list[tuple[bytes, bytes]] | None) -> list[tuple[bytes, bytes]]:
    """`headers`, or the usual ones (host; a JSON body's type and length for a POST), and `extra`."""
    if headers is None:
        headers = [(b"host", b"test")]
        if method == "POST":
            headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    return [*headers, *extra] if extra else headers


def connect(wire: Any, state: ServerState | None = None) -> tuple[Any, _Transport, ServerState]:
    """A new connection of the compiled protocol `wire`: its protocol, the transport that keeps
    what it writes, and the server state it shares with the other connections of `state`."""
    config = uvicorn.Config(wire.app, http=wire.protocol, lifespan="off", proxy_headers=False)
    config.load()
    state = state or ServerState()
    protocol = wire.protocol(config=config, server_state=state, app_state={})
    transport = _Transport()
    protocol.connection_made(transport)
    return protocol, transport, state


def request_bytes(method: str, raw_path: bytes, query: bytes, body: bytes,
                  headers: list[tuple[bytes, bytes]]) -> bytes:
    """The request as a client sends it (the query string after a ``?`` when not empty)."""
    target = raw_path + (b"?" + query if query else b"")
    head = [method.encode() + b" " + target + b" HTTP/1.1"] + [name + b": " + value for name, value in headers]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def parse_answer(data: bytes, method: str) -> tuple[Answer, int] | None:
    """The first complete answer in `data` and its length, or None while it is incomplete."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = [(name.lower(), value) for name, _, value in (line.partition(b": ") for line in lines[1:])]
    length = next((int(v) for k, v in headers if k == b"content-length"), 0)
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        length = 0
    if len(data) < end + 4 + length:
        return None
    return Answer(status, headers, bytes(data[end + 4:end + 4 + length])), end + 4 + length


async def call_wire(wire: Any, method: str, raw_path: bytes, query: bytes = b"", body: bytes = b"",
                    headers: list[tuple[bytes, bytes]] | None = None,
                    extra: list[tuple[bytes, bytes]] | None = None) -> Answer:
    """One request to the compiled protocol on a new connection, and its complete answer (the
    headers the ASGI path would not send itself, ``connection`` among them, are left out)."""
    headers = request_headers(method, body, headers, extra)
    protocol, transport, state = connect(wire)
    protocol.data_received(request_bytes(method, raw_path, query, body, headers))
    for turn in range(100_000):  # a bound on waiting for an answer (the application's, or a thread's)
        parsed = parse_answer(bytes(transport.out), method)
        if parsed is not None and not state.tasks and not wire.queued:
            break
        await asyncio.sleep(0 if turn < 1000 else 0.001)
    else:
        sent = bytes(transport.out)[:300]
        raise EscapedError(f"{method} {raw_path!r}: no complete answer from the protocol: {sent!r}")
    protocol.connection_lost(None)
    answer, _ = parsed
    answer.headers = [(k, v) for k, v in answer.headers if k != b"connection"]
    return answer


class Apps:
    """The same catalog behind two applications: ``fast``, answered through the compiled protocol
    (the hot routes on the connection, the rest by the application), and ``slow``, the ASGI
    application alone (FastAPI for every route)."""

    def __init__(self, root: Path, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.catalog = Catalog(root)
        self.catalog.load()
        self.fast: RodataAPI = create_app(root, settings=replace(settings, fast_path=True), catalog=self.catalog)
        self.slow: RodataAPI = create_app(root, settings=replace(settings, fast_path=False), catalog=self.catalog)
        self.wire = wire_for(self.fast)
        self.loop = asyncio.new_event_loop()

    def call(self, app: Any, method: str, path: str | bytes, body: bytes = b"",
             headers: list[tuple[bytes, bytes]] | None = None,
             extra: list[tuple[bytes, bytes]] | None = None) -> Answer:
        raw = path.encode() if isinstance(path, str) else path
        raw_path, _, query = raw.partition(b"?")
        if app is self.fast:
            return self.loop.run_until_complete(call_wire(self.wire, method, raw_path, query, body, headers, extra))
        return self.loop.run_until_complete(call_app(app, method, raw_path, query, body, headers, extra))

    def both(self, method: str, path: str | bytes, body: bytes = b"",
             extra: list[tuple[bytes, bytes]] | None = None) -> Answer:
        """The answer of the fast path, checked to be byte for byte the FastAPI path's (`extra`:
        request headers added to the usual ones)."""
        fast = self.call(self.fast, method, path, body, extra=extra)
        slow = self.call(self.slow, method, path, body, extra=extra)
        assert fast.key() == slow.key(), (method, path, body[:200], fast.key()[:2], slow.key()[:2])
        return fast

    def close(self) -> None:
        self.loop.close()
        self.catalog.stop()
        for ds in self.catalog.datasets.values():
            ds.close()


@contextmanager
def apps(root: Path, settings: Settings | None = None) -> Iterator[Apps]:
    pair = Apps(root, settings)
    try:
        yield pair
    finally:
        pair.close()
