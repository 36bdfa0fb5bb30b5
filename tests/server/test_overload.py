"""``--max-concurrency``: with that many requests in progress (answers the application is making,
requests waiting their turn), a new request is answered 503 ``overloaded`` at once, whichever path
would answer it; the probes never are; once the load is gone requests are answered again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from uvicorn.server import ServerState

import rodata
from rodata.server.app import create_app
from rodata.server.runner import wire_for
from rodata.server.settings import Settings
from tests.server.asgikit import connect, parse_answer


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("overload")
    rodata.write(root, "d", {"id": np.arange(10), "x": np.arange(10) * 1.5}, key="id")
    return root


class Conn:
    """One in-process connection of a wire (its server state shared with the others)."""

    def __init__(self, wire: Any, config: Any, state: ServerState) -> None:
        self.protocol, self.transport, _ = connect(wire, state)

    def send(self, data: bytes) -> None:
        self.protocol.data_received(data)

    def answer(self, method: str = "GET") -> Any:
        parsed = parse_answer(bytes(self.transport.out), method)
        return None if parsed is None else parsed[0]


@pytest.fixture(params=[True, False], ids=["fast", "asgi"])
def server(root: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    settings = replace(Settings(), max_concurrency=2, fast_path=request.param)
    app = create_app(root, settings=settings)
    app.catalog.load()
    wire = wire_for(app)
    config = uvicorn.Config(app, http=wire.protocol, lifespan="off", proxy_headers=False)
    config.load()
    loop = asyncio.new_event_loop()
    yield wire, config, ServerState(), loop
    loop.close()
    app.catalog.stop()


def settle(loop: asyncio.AbstractEventLoop, wire: Any, state: ServerState) -> None:
    """Run the loop until no answer is being made (by the application, or off the loop by a
    thread): a bound on waiting, 30 s, not a speed check."""
    async def quiet() -> None:
        for turn in range(30_000):
            if turn > 3 and not state.tasks and not wire.queued:
                return
            await asyncio.sleep(0 if turn < 100 else 0.001)

    loop.run_until_complete(quiet())


def test_requests_over_the_limit_are_503_and_probes_are_not(server: Any) -> None:
    wire, config, state, loop = server
    asyncio.set_event_loop(loop)
    busy = Conn(wire, config, state)
    # In progress: a scan the application is answering (a task, not yet run) and a row pipelined
    # behind it, waiting its turn.
    busy.send(b"GET /v1/datasets/d/scan?limit=3 HTTP/1.1\r\nhost: t\r\n\r\n"
              b"GET /v1/datasets/d/rows/1 HTTP/1.1\r\nhost: t\r\n\r\n")
    assert len(state.tasks) == 1
    other = Conn(wire, config, state)
    other.send(b"GET /v1/datasets/d/rows/3 HTTP/1.1\r\nhost: t\r\n\r\n")
    got = other.answer()
    assert got is not None and got.status == 503, bytes(other.transport.out)
    assert json.loads(got.body)["error"]["code"] == "overloaded"
    probe = Conn(wire, config, state)
    probe.send(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
    settle(loop, wire, state)
    assert probe.answer().status == 200
    settle(loop, wire, state)  # the load ends: both answered, in order
    out = bytes(busy.transport.out)
    first = parse_answer(out, "GET")
    assert first is not None and first[0].status == 200 and b'"rows"' in first[0].body
    second = parse_answer(out[first[1]:], "GET")
    assert second is not None and second[0].status == 200 and not state.tasks
    again = Conn(wire, config, state)
    again.send(b"GET /v1/datasets/d/rows/3 HTTP/1.1\r\nhost: t\r\n\r\n")
    settle(loop, wire, state)
    assert again.answer().status == 200


def test_without_a_limit_nothing_is_refused(root: Path) -> None:
    app = create_app(root, settings=Settings())
    app.catalog.load()
    wire = wire_for(app)
    config = uvicorn.Config(app, http=wire.protocol, lifespan="off", proxy_headers=False)
    config.load()
    state = ServerState()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        conns = [Conn(wire, config, state) for _ in range(5)]
        for conn in conns:
            conn.send(b"GET /v1/datasets/d/scan?limit=2 HTTP/1.1\r\nhost: t\r\n\r\n")
        settle(loop, wire, state)
        assert [conn.answer().status for conn in conns] == [200] * 5
    finally:
        loop.close()
        app.catalog.stop()
