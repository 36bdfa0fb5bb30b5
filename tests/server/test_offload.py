"""Answers made off the event loop (rodata.server.offload): a lookup, scan or column slice whose
answer takes longer than ``--request-timeout`` is 503 ``timeout`` on both paths, and while it is
being made the loop answers other connections."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata.server import render
from rodata.server.settings import Settings
from tests.server.asgikit import apps, connect, parse_answer


@pytest.fixture
def slow_slices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rodata.write(tmp_path, "d", {"id": np.arange(20), "x": np.arange(20) * 0.5}, key="id")
    slice_of = render.column_slice

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.6)  # a read from cold storage
        return slice_of(*args, **kwargs)

    monkeypatch.setattr(render, "column_slice", slow)
    return tmp_path


def test_an_answer_over_the_bound_is_503_timeout_on_both_paths(slow_slices: Path) -> None:
    with apps(slow_slices, Settings(request_timeout=0.1)) as pair:
        got = pair.both("GET", "/v1/datasets/d/columns/x?limit=3")
        assert got.status == 503
        assert json.loads(got.body)["error"]["code"] == "timeout"
        fine = pair.both("GET", "/v1/datasets/d/rows/3")  # a row is answered on the loop, as always
        assert fine.status == 200


def test_within_the_bound_the_answer_is_the_same_as_on_the_loop(slow_slices: Path) -> None:
    with apps(slow_slices, Settings(request_timeout=5.0)) as pair:
        got = pair.both("GET", "/v1/datasets/d/columns/x?limit=3")
        assert got.status == 200 and np.frombuffer(got.body, "<f8").tolist() == [0.0, 0.5, 1.0]


def test_the_loop_answers_other_connections_while_an_answer_is_made(slow_slices: Path) -> None:
    with apps(slow_slices, Settings(request_timeout=5.0)) as pair:
        loop, wire = pair.loop, pair.wire

        async def scenario() -> tuple[bool, bytes]:
            slow, slow_out, _ = connect(wire)  # on the running loop, as uvicorn makes them
            quick, quick_out, _ = connect(wire)
            slow.data_received(b"GET /v1/datasets/d/columns/x?limit=3 HTTP/1.1\r\nhost: t\r\n\r\n")
            started = time.monotonic()
            quick.data_received(b"GET /v1/datasets/d/rows/4 HTTP/1.1\r\nhost: t\r\n\r\n")
            for _ in range(1000):
                if parse_answer(bytes(quick_out.out), "GET") is not None:
                    break
                await asyncio.sleep(0.001)
            answered_meanwhile = parse_answer(bytes(slow_out.out), "GET") is None and wire.queued == 1
            while parse_answer(bytes(slow_out.out), "GET") is None and time.monotonic() - started < 30:
                await asyncio.sleep(0.01)  # the slice's answer: within its 5 s time bound
            return answered_meanwhile, bytes(slow_out.out)

        answered_meanwhile, out = loop.run_until_complete(scenario())
        assert answered_meanwhile  # the row came back while the slice was still being made
        slice_answer = parse_answer(out, "GET")
        assert slice_answer is not None and slice_answer[0].status == 200 and wire.queued == 0
