"""``rodata.AsyncClient``: the calls of :mod:`rodata.client.core` over a pooled ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from rodata.client.batch import RemoteBatch
from rodata.client.core import Core, Op
from rodata.client.sync import failure, limits
from rodata.client.wire import Request, Response

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """``rodata.Client`` for asyncio: the same calls, settings, retries and answers, awaited
    (``scan`` is an async iterator).  Use it as ``async with rodata.AsyncClient(url) as client``."""

    def __init__(self, urls: str | Sequence[str], *, token: str | None = None, timeout: float = 5.0,
                 retries: int = 2, backoff: float = 0.05, max_backoff: float = 2.0,
                 max_connections: int = 100) -> None:
        self._core = Core(urls, token=token, retries=retries, backoff=backoff, max_backoff=max_backoff)
        self._http = httpx.AsyncClient(headers=self._core.headers, timeout=timeout,
                                       limits=limits(max_connections), http1=True, http2=False,
                                       follow_redirects=False)

    # -- transport -----------------------------------------------------------------------

    async def _send(self, request: Request) -> Response:
        trial = self._core.fleet.trial()
        headers = {"content-type": request.content_type} if request.content_type else None
        for url, wait in trial:
            if wait:
                await asyncio.sleep(wait)
            try:
                answer = await self._http.request(request.method, url + request.target, content=request.body,
                                                  headers=headers)
            except httpx.TransportError as exc:
                trial.failed(url, failure(exc))
                continue
            reply = Response(answer.status_code, answer.headers, answer.content, url)
            if trial.accept(reply):
                return reply
        raise trial.unavailable()

    async def _run(self, op: Op[T]) -> T:
        try:
            request = next(op)
            while True:
                request = op.send(await self._send(request))
        except StopIteration as stop:
            result: T = stop.value
            return result
        finally:
            op.close()

    # -- calls ---------------------------------------------------------------------------

    async def datasets(self) -> list[dict[str, Any]]:
        """Every dataset served: ``{"name", "version", "rows", "key", "columns"}`` each."""
        return await self._run(self._core.datasets())

    async def describe(self, name: str) -> dict[str, Any]:
        """Dataset `name`'s description (``GET /v1/datasets/{name}``), its schema remembered."""
        return (await self._run(self._core.describe(name))).description

    async def get(self, name: str, key: Any, columns: Sequence[str] | None = None) -> dict[str, Any] | None:
        """The row with `key` (``Client.get``)."""
        return await self._run(self._core.get(name, key, columns))

    async def get_many(self, name: str, keys: Any, columns: Sequence[str] | None = None) -> RemoteBatch:
        """Many keys at once (``Client.get_many``)."""
        return await self._run(self._core.get_many(name, keys, columns))

    async def scan(self, name: str, start: Any = None, end: Any = None, prefix: str | None = None,
                   columns: Sequence[str] | None = None, page: int | None = None) -> AsyncIterator[RemoteBatch]:
        """Batches of rows in key order, one per page (``Client.scan``), as an async iterator."""
        scan = self._core.scan(name, start=start, end=end, prefix=prefix, columns=columns, page=page)
        while not scan.done:
            batch = await self._run(scan.page())
            if batch is not None:
                yield batch

    async def column(self, name: str, column: str, offset: int = 0, limit: int | None = None) -> Any:
        """Rows [offset, offset + limit) of `column` (``Client.column``)."""
        return await self._run(self._core.column(name, column, offset, limit))

    # -- lifetime ------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    aclose = close

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<rodata.AsyncClient {self._core.fleet.describe()} retries={self._core.fleet.retries}>"
