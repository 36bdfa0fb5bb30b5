"""The raw-ASGI fast path: the hot routes of the route table answered without the web framework.

A FastAPI route costs tens of microseconds per request before any work; this
callable matches the routes marked hot in :mod:`rodata.server.routes` (row,
lookup, column) on the raw path with a :class:`~rodata.server.dispatch.Router`
(``HEAD`` as well as ``GET`` for the GET routes), calls their handlers the way
the FastAPI routes do (so the answers are identical, byte for byte, 304s and HEAD
answers included) and sends the body as it is: one JSON bytes object, or
memoryviews of the mapping with an explicit content-length.  Every other request
goes to the FastAPI app."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter
from typing import Any

from rodata.server import dispatch
from rodata.server.conditional import revalidated
from rodata.server.dispatch import Invoke
from rodata.server.errors import HTTPError, Reply, error_reply, reply_for_exception
from rodata.server.handlers import Context
from rodata.server.logs import log_access
from rodata.server.metrics import Metrics
from rodata.server.routes import HOT

__all__ = ["FastPath", "internal_error", "read_body", "send_reply"]

log = logging.getLogger("rodata.server")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_NO_BODY = {"type": "http.response.body", "body": b""}


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The request body, or HTTPError 413 as soon as it is known to be over `limit` bytes."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit() or int(value) > limit:
                raise HTTPError(413, "body_too_large", f"the request body is larger than {limit} bytes")
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, "body_too_large", f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_reply(send: Send, reply: Reply, head: bool = False) -> None:
    """Send a complete answer: the headers, then each body chunk as it is (no copy); only the
    headers for a `head` request (HEAD: the same headers as GET) and for a 304."""
    await send({"type": "http.response.start", "status": reply.status, "headers": reply.headers})
    if head or reply.status == 304:
        await send(dict(_NO_BODY))
        return
    chunks = reply.chunks
    if len(chunks) == 1:
        await send({"type": "http.response.body", "body": chunks[0]})
        return
    last = len(chunks) - 1
    for i, chunk in enumerate(chunks):
        await send({"type": "http.response.body", "body": chunk, "more_body": i < last})


def internal_error(exc: BaseException) -> Reply:
    """The 500 answer (a bug: bad input never gets here), logged with its traceback."""
    log.error("internal error: %s", exc, exc_info=exc, extra={"event": "internal_error"})
    return error_reply(500, "internal", "internal error")


class FastPath:
    """An ASGI app: the hot routes itself, everything else through `fallback`."""

    def __init__(self, ctx: Context, metrics: Metrics, fallback: ASGIApp) -> None:
        self.ctx = ctx
        self.metrics = metrics
        self.fallback = fallback
        self.access_log = ctx.settings.access_log
        self.router = dispatch.Router(HOT)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = None
        if scope["type"] == "http":
            raw: bytes | None = scope.get("raw_path")
            match = self.router.match(scope["path"].encode("utf-8") if raw is None else raw, scope["method"])
        if match is None:
            await self.fallback(scope, receive, send)
            return
        started = perf_counter()
        route, invoke, params = match
        if route.body:
            reply = await self.with_body(invoke, params, scope, receive)
        else:
            reply = self.answer(invoke, params, scope)
            if reply.etag is not None:
                for header, _ in scope["headers"]:  # inline: this runs for every row answered
                    if header == b"if-none-match":
                        reply = revalidated(reply, scope["headers"])
                        break
        head = scope["method"] == "HEAD"
        chunks = reply.chunks
        if len(chunks) == 1 and not head:  # the common answer, sent as send_reply sends it
            await send({"type": "http.response.start", "status": reply.status, "headers": reply.headers})
            await send({"type": "http.response.body", "body": chunks[0]})
        else:
            await send_reply(send, reply, head)
        duration = perf_counter() - started
        self.metrics.observe(route.name, reply.status, duration)
        if self.access_log:
            log_access(scope, reply.status, duration, 0 if head or reply.status == 304 else reply.nbytes)

    def answer(self, invoke: Invoke, params: tuple[bytes, ...], scope: Scope, body: bytes | None = None) -> Reply:
        """The reply to a matched request (never raises)."""
        try:
            return invoke(self.ctx, params, scope["query_string"], body)
        except Exception as exc:  # as handlers.guarded maps them; a bug must still answer (500)
            mapped = reply_for_exception(exc)
            return mapped if mapped is not None else internal_error(exc)

    async def with_body(self, invoke: Invoke, params: tuple[bytes, ...], scope: Scope, receive: Receive) -> Reply:
        """The reply to a matched request with a body, a lookup (never raises); the handler is
        given the request's content type (a lookup's body is JSON or binary keys)."""
        try:
            body = await read_body(scope, receive, self.ctx.settings.max_body_bytes)
        except HTTPError as exc:
            return exc.reply()
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
                break
        try:
            return invoke(self.ctx, params, scope["query_string"], body, content_type)
        except Exception as exc:  # as answer() maps them
            mapped = reply_for_exception(exc)
            return mapped if mapped is not None else internal_error(exc)
