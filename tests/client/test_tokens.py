"""The client against a ``rodata serve --tokens``: the bearer token opens what its scope holds, and
the server's refusals arrive as ``ClientError`` with its status and code."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import rodata
from tests.server.httpkit import Server

TOKEN, OTHER = "client-test-token-a", "client-test-token-b"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_a_token_reads_its_scope_and_is_refused_elsewhere(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for name in ("open-a", "closed"):
        rodata.write(root, name, {"id": np.arange(5, dtype=np.int64), "x": np.arange(5.0)}, key="id")
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"tokens": [{"name": "a", "sha256": _digest(TOKEN), "datasets": ["open-*"]},
                                             {"name": "b", "sha256": _digest(OTHER), "datasets": ["closed"]}]}))
    server = Server(root, tmp_path / "server.log", "--tokens", str(tokens))
    url = f"http://127.0.0.1:{server.port}"
    try:
        with rodata.Client(url, token=TOKEN) as client:
            assert [d["name"] for d in client.datasets()] == ["open-a"]
            assert client.get("open-a", 2) == {"id": 2, "x": 2.0}
            assert client.get_many("open-a", np.array([1, 9])).found.tolist() == [True, False]
            assert len(list(client.scan("open-a", page=2))) == 3
            # (a lookup's first request is the dataset's description, refused here)
            for call in (lambda: client.describe("closed"), lambda: client.get_many("closed", [1]),
                         lambda: list(client.scan("closed")), lambda: client.describe("nothing-here")):
                with pytest.raises(rodata.ClientError) as caught:
                    call()
                assert (caught.value.status, caught.value.code) == (403, "forbidden")
        for token in (None, "wrong"):
            with rodata.Client(url, token=token) as client, pytest.raises(rodata.ClientError) as caught:
                client.get_many("open-a", [1])
            assert (caught.value.status, caught.value.code) == (401, "unauthorized")
        log = (tmp_path / "server.log").read_text()
        assert TOKEN not in log and OTHER not in log
    finally:
        server.stop()
