"""HTTP answers and the one error shape: ``{"error": {"code": "...", "message": "..."}}``."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from rodata.errors import KeyTypeError, SchemaError, UnknownColumnError
from rodata.sizes import AnswerTooLarge

__all__ = ["HTTPError", "Reply", "body_too_large", "error_reply", "reply_for_exception"]

JSON = b"application/json"


class Reply:
    """One complete HTTP answer: status, raw ASGI headers and the body as chunks (bytes or
    memoryviews of the mapping, sent in order; their lengths add up to the content-length).

    `etag`, when given, says that the answer is immutable (see :mod:`rodata.server.conditional`):
    `headers` hold it as ``etag``, and a request's ``If-None-Match`` may turn the answer into a 304."""

    __slots__ = ("chunks", "etag", "headers", "status")

    def __init__(self, status: int, chunks: Sequence[bytes | memoryview], headers: list[tuple[bytes, bytes]],
                 etag: bytes | None = None) -> None:
        self.status = status
        self.chunks = chunks
        self.headers = headers
        self.etag = etag

    @classmethod
    def json(cls, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None,
             etag: bytes | None = None) -> Reply:
        """A JSON answer."""
        headers = [(b"content-type", JSON), (b"content-length", b"%d" % len(body))]
        if extra:
            headers.extend(extra)
        if etag is not None:
            headers.append((b"etag", etag))
        return cls(status, (body,), headers, etag)

    @property
    def nbytes(self) -> int:
        """The body's length in bytes (a memoryview's ``len`` counts items, not bytes)."""
        return sum(c.nbytes if isinstance(c, memoryview) else len(c) for c in self.chunks)

    @property
    def body(self) -> bytes:
        """The whole body as one bytes object (copies; for tests and small answers)."""
        return b"".join(bytes(c) for c in self.chunks)

    def header(self, name: bytes) -> bytes | None:
        """The value of header `name` (lower case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


class HTTPError(Exception):
    """An answer other than success, raised anywhere below a route and turned into the error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def reply(self) -> Reply:
        """This error as an HTTP answer."""
        return error_reply(self.status, self.code, self.message)


def body_too_large(limit: int) -> HTTPError:
    """The 413 of a request body over `limit` bytes (whichever path reads the body)."""
    return HTTPError(413, "body_too_large", f"the request body is larger than {limit} bytes")


def error_reply(status: int, code: str, message: str) -> Reply:
    """``{"error": {"code", "message"}}`` with `status`."""
    return Reply.json(status, orjson.dumps({"error": {"code": code, "message": message}}))


def reply_for_exception(exc: Exception) -> Reply | None:
    """The 4xx answer for an error caused by the request, or None when `exc` is not one."""
    if isinstance(exc, HTTPError):
        return exc.reply()
    if isinstance(exc, AnswerTooLarge):
        return error_reply(413, exc.code, str(exc))
    if isinstance(exc, UnknownColumnError):
        return error_reply(422, "unknown_column", str(exc))
    if isinstance(exc, KeyTypeError):
        return error_reply(422, "bad_key", str(exc))
    if isinstance(exc, SchemaError):
        return error_reply(422, "unsupported_column", str(exc))
    return None
