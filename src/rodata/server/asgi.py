"""Answers sent and request bodies read through ASGI, the one way the application does both:
:func:`send_reply` sends a complete :class:`~rodata.server.errors.Reply` (bytes or memoryviews of
the mapping, as they are), :func:`read_body` reads a body up to a limit, :func:`internal_error`
is the 500 of a bug.  (The hot routes are answered below ASGI, by the compiled protocol of
:mod:`rodata.server.runner`.)"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from rodata.server.errors import Reply, body_too_large, error_reply

__all__ = ["ASGIApp", "Receive", "Scope", "Send", "internal_error", "read_body", "send_reply"]

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
                raise body_too_large(limit)
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
            raise body_too_large(limit)
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
