"""Driving the ASGI application in-process, the way uvicorn does, for tests that send many requests.

An exception that escapes the application is what makes uvicorn close the connection after the
answer (without ``Connection: close``): :func:`call` reports it as a failure instead of hiding it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rodata.catalog import Catalog
from rodata.server.app import RodataAPI, create_app
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
    if headers is None:
        headers = [(b"host", b"test")]
        if method == "POST":
            headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if extra:
        headers = [*headers, *extra]
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


class Apps:
    """The same catalog behind two applications: with the fast path (``fast``) and without (``slow``)."""

    def __init__(self, root: Path, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.catalog = Catalog(root)
        self.catalog.load()
        self.fast: RodataAPI = create_app(root, settings=replace(settings, fast_path=True), catalog=self.catalog)
        self.slow: RodataAPI = create_app(root, settings=replace(settings, fast_path=False), catalog=self.catalog)
        self.loop = asyncio.new_event_loop()

    def call(self, app: Any, method: str, path: str | bytes, body: bytes = b"",
             headers: list[tuple[bytes, bytes]] | None = None,
             extra: list[tuple[bytes, bytes]] | None = None) -> Answer:
        raw = path.encode() if isinstance(path, str) else path
        raw_path, _, query = raw.partition(b"?")
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
