"""Fixtures: a real ``rodata serve`` process on loopback, and the datasets it serves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import rodata
from tests.server.httpkit import WORDS, Server, items_columns


@pytest.fixture(scope="session")
def served_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root with ``items`` (int64 keys, three parts, every type) and ``words`` (string keys)."""
    root = tmp_path_factory.mktemp("served")
    rodata.write(root, "items", items_columns(), key="id", rows_per_part=2000)
    rodata.write(root, "words", {"word": WORDS, "n": list(range(len(WORDS)))}, key="word")
    return root


@pytest.fixture(scope="session")
def server(served_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the read-only route tests."""
    srv = Server(served_root, tmp_path_factory.mktemp("log") / "server.log")
    srv.wait_ready()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def framework_server(served_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The same data served with the fast path off: every request through FastAPI."""
    srv = Server(served_root, tmp_path_factory.mktemp("log") / "server.log", env={"RODATA_FAST_PATH": "0"})
    srv.wait_ready()
    yield srv
    srv.stop()


@pytest.fixture
def library(served_root: Path) -> Iterator[dict[str, rodata.Dataset]]:
    """The same datasets opened with the library, for comparisons."""
    opened = {name: rodata.open(served_root / name) for name in ("items", "words")}
    yield opened
    for ds in opened.values():
        ds.close()
