"""``rodata.Client``: the calls of :mod:`rodata.client.core` over a pooled ``httpx.Client``."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from rodata.client.batch import RemoteBatch
from rodata.client.core import Core, Op
from rodata.client.wire import Request, Response

__all__ = ["Client"]

T = TypeVar("T")


def limits(max_connections: int) -> httpx.Limits:
    """The connection pool: up to `max_connections`, all of them kept alive between calls."""
    return httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)


def failure(exc: httpx.TransportError) -> str:
    """A transport error in a few words (``ConnectError: [Errno 111] Connection refused``)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Client:
    """A client of one rodata server, or of a fleet of replicas (a list of base URLs).

    Every call is a read, so every call is retried on a connection error, a timeout or a 503:
    at once on the next base URL, then after a jittered exponential backoff for each of `retries`
    more rounds over the fleet (docs/client.md).  `token` is sent as ``Authorization: Bearer``.
    Error answers raise :class:`rodata.ClientError`.  HTTP/1.1 connections are pooled and kept
    alive; close the client (or use it as a context manager) to release them."""

    def __init__(self, urls: str | Sequence[str], *, token: str | None = None, timeout: float = 5.0,
                 retries: int = 2, backoff: float = 0.05, max_backoff: float = 2.0,
                 max_connections: int = 16) -> None:
        self._core = Core(urls, token=token, retries=retries, backoff=backoff, max_backoff=max_backoff)
        self._http = httpx.Client(headers=self._core.headers, timeout=timeout, limits=limits(max_connections),
                                  http1=True, http2=False, follow_redirects=False)

    # -- transport -----------------------------------------------------------------------

    def _send(self, request: Request) -> Response:
        trial = self._core.fleet.trial()
        headers = {"content-type": request.content_type} if request.content_type else None
        for url, wait in trial:
            if wait:
                time.sleep(wait)
            try:
                answer = self._http.request(request.method, url + request.target, content=request.body,
                                            headers=headers)
            except httpx.TransportError as exc:
                trial.failed(url, failure(exc))
                continue
            reply = Response(answer.status_code, answer.headers, answer.content, url)
            if trial.accept(reply):
                return reply
        raise trial.unavailable()

    def _run(self, op: Op[T]) -> T:
        try:
            request = next(op)
            while True:
                request = op.send(self._send(request))
        except StopIteration as stop:
            result: T = stop.value
            return result
        finally:
            op.close()

    # -- calls ---------------------------------------------------------------------------

    def datasets(self) -> list[dict[str, Any]]:
        """Every dataset served: ``{"name", "version", "rows", "key", "columns"}`` each."""
        return self._run(self._core.datasets())

    def describe(self, name: str) -> dict[str, Any]:
        """Dataset `name`'s description (``GET /v1/datasets/{name}``), its schema remembered."""
        return self._run(self._core.describe(name)).description

    def get(self, name: str, key: Any, columns: Sequence[str] | None = None) -> dict[str, Any] | None:
        """The row with `key` as a dict, values as ``rodata.open(...).get()`` gives them; None when
        there is none."""
        return self._run(self._core.get(name, key, columns))

    def get_many(self, name: str, keys: Any, columns: Sequence[str] | None = None) -> RemoteBatch:
        """Many keys at once (a numpy array or any sequence), as a batch aligned with them."""
        return self._run(self._core.get_many(name, keys, columns))

    def scan(self, name: str, start: Any = None, end: Any = None, prefix: str | None = None,
             columns: Sequence[str] | None = None, page: int | None = None) -> Iterator[RemoteBatch]:
        """Batches of rows in key order (``start <= key < end``, keys beginning with `prefix`), one
        per page of at most `page` rows (the server's default when None), following the cursors."""
        scan = self._core.scan(name, start=start, end=end, prefix=prefix, columns=columns, page=page)
        while not scan.done:
            batch = self._run(scan.page())
            if batch is not None:
                yield batch

    def column(self, name: str, column: str, offset: int = 0, limit: int | None = None) -> Any:
        """Rows [offset, offset + limit) of `column`: a read-only numpy array for fixed-width types
        (nulls read as 0), a list of str/bytes/None for strings and bytes."""
        return self._run(self._core.column(name, column, offset, limit))

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<rodata.Client {self._core.fleet.describe()} retries={self._core.fleet.retries}>"
