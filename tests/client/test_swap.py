"""A new version swapped in under a client: answers are decoded with the schema of the version that
gave them (``x-rodata-version``), learnt once per version."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import rodata
from tests.server.httpkit import Server


def test_a_new_schema_is_learnt_from_the_answering_version(tmp_path: Path) -> None:
    root = tmp_path / "data"
    first = rodata.write(root, "swap", {"id": np.arange(10, dtype=np.int64), "x": np.arange(10, dtype=np.int32)},
                         key="id")
    server = Server(root, tmp_path / "server.log")
    try:
        server.wait_ready()
        with rodata.Client(f"http://127.0.0.1:{server.port}") as client:
            assert client.get("swap", 3) == {"id": 3, "x": 3}
            batch = client.get_many("swap", [3, 4])
            assert batch["x"].dtype == np.int32 and batch.version == first.name
            second = rodata.write(root, "swap", {"id": np.arange(10, dtype=np.int64),
                                                 "x": [f"s{i}" for i in range(10)],
                                                 "t": np.arange(10).astype("M8[D]")},
                                  key="id", allow_schema_change=True)
            server.wait_until(lambda: server.get("/v1/datasets/swap").json()["version"] == second.name,
                              "the new version to serve")
            # the client still holds the first version's schema: the answers say which version spoke
            assert client.get("swap", 3) == {"id": 3, "x": "s3", "t": rodata.open(root / "swap").get(3)["t"]}
            batch = client.get_many("swap", np.array([3, 4, 99]))
            assert batch.version == second.name
            assert batch["x"] == ["s3", "s4", None] and batch["t"].dtype == np.dtype("M8[D]")
            assert batch.to_pylist() == rodata.open(root / "swap").get_many([3, 4, 99]).to_pylist()
    finally:
        server.stop()
