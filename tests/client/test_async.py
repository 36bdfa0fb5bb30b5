"""``rodata.AsyncClient``: the same answers as ``rodata.Client``, under 100 concurrent calls."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

import rodata
from tests.client.conftest import Served
from tests.client.oracle import assert_same_batch, assert_same_row, assert_same_value
from tests.client.rawserver import dead_url


def _keys(ds: rodata.Dataset) -> list[Any]:
    return [row[ds.key] for b in ds.scan(columns=[ds.key]) for row in b.to_pylist() if row is not None]


async def _scan(client: rodata.AsyncClient, name: str, page: int) -> list[Any]:
    return [b async for b in client.scan(name, page=page)]


def test_100_concurrent_calls_equal_the_sync_answers(served: Served) -> None:
    int_keys, str_keys = _keys(served.every), _keys(served.words)
    calls: list[tuple[str, tuple[Any, ...]]] = []
    for i in range(100):
        kind = i % 5
        if kind == 0:
            calls.append(("get", ("every", int_keys[i])))
        elif kind == 1:
            calls.append(("get", ("words", str_keys[i] if i % 2 else "missing")))
        elif kind == 2:
            calls.append(("get_many", ("every", np.array([*int_keys[i:i + 30], 10 ** 12], dtype=np.int64))))
        elif kind == 3:
            calls.append(("get_many", ("words", str_keys[i : i + 20], ["string", "float64?"])))
        else:
            calls.append(("column", ("every", served.every.schema.names[i % 33], i, 50)))

    async def main() -> list[Any]:
        async with rodata.AsyncClient([dead_url(), served.url], backoff=0.001) as client:
            answers = await asyncio.gather(*(getattr(client, method)(*args) for method, args in calls),
                                           _scan(client, "every", 90), _scan(client, "words", 40))
            assert "AsyncClient" in repr(client)
            return answers

    answers = asyncio.run(main())
    with rodata.Client(served.url) as client:
        for (method, args), got in zip(calls, answers, strict=False):
            want = getattr(client, method)(*args)
            where = f"{method}{args[:1]}"
            if method == "get":
                assert_same_row(got, want, where)
            elif method == "get_many":
                assert_same_batch(got, want, where)
            else:
                assert_same_value(got, want, where)
        for got_pages, name, page in ((answers[-2], "every", 90), (answers[-1], "words", 40)):
            want_pages = list(client.scan(name, page=page))
            assert len(got_pages) == len(want_pages) > 1
            for g, w in zip(got_pages, want_pages, strict=True):
                assert_same_batch(g, w, name)


def test_async_errors_and_datasets(served: Served) -> None:
    async def main() -> None:
        async with rodata.AsyncClient(served.url) as client:
            assert {d["name"] for d in await client.datasets()} == {"every", "words"}
            assert (await client.describe("words"))["key"] == "id"
            with pytest.raises(rodata.ClientError) as caught:
                await client.get("missing", 1)
            assert (caught.value.status, caught.value.code) == (404, "dataset_not_found")
        async with rodata.AsyncClient(dead_url(), retries=1, backoff=0.001) as client:
            with pytest.raises(rodata.ClientError) as caught:
                await client.get("every", 1)
            assert (caught.value.status, caught.value.code) == (None, "unavailable")

    asyncio.run(main())
