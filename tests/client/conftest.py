"""Fixtures: one real ``rodata serve`` on loopback for the client tests, and the library's view of
the same data root (the oracle every answer is held to)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import rodata
from tests.server import gentables
from tests.server.httpkit import Server

INT_ROWS, STR_ROWS = 400, 250


@dataclass
class Served:
    """A server and the library's datasets of the data root it serves."""

    server: Server
    root: Path
    url: str
    every: rodata.Dataset  # int64 keys, every type with and without nulls, three parts
    words: rodata.Dataset  # string keys, every type, one part


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("client-data")
    columns, schema = gentables.table(INT_ROWS, 11)
    rodata.write(root, "every", columns, key="id", schema=schema, rows_per_part=150)
    columns, schema = gentables.table(STR_ROWS, 12, string_key=True)
    rodata.write(root, "words", columns, key="id", schema=schema)
    server = Server(root, tmp_path_factory.mktemp("client-log") / "server.log")
    server.wait_ready()
    every, words = rodata.open(root / "every"), rodata.open(root / "words")
    yield Served(server, root, f"http://127.0.0.1:{server.port}", every, words)
    every.close()
    words.close()
    server.stop()


@pytest.fixture
def client(served: Served) -> Iterator[rodata.Client]:
    with rodata.Client(served.url) as c:
        yield c
