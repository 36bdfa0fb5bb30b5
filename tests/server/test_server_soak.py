"""A bounded soak: resident anonymous memory stays flat while every kind of request is served."""

from __future__ import annotations

import json

from tests.server.httpkit import Client, Server

#: Requests per round; memory is sampled after a warm-up round and after the soak rounds.
ROUND = 600
ROUNDS = 4
#: Growth allowed over the soak (allocator noise), far below what a leak of the bodies would add.
SLACK_KIB = 6 * 1024


def one_round(client: Client) -> int:
    keys = json.dumps({"keys": list(range(-600, 4000, 3))})
    npz = json.dumps({"keys": list(range(-600, 4000, 3)), "format": "npz"})
    ok = 0
    for i in range(ROUND // 6):
        for method, path, body in (
            ("GET", f"/v1/datasets/items/rows/{(i * 3) % 3000}", None),
            ("POST", "/v1/datasets/items/lookup", keys),
            ("POST", "/v1/datasets/items/lookup", npz),
            ("GET", f"/v1/datasets/items/scan?after={i}&limit=200", None),
            ("GET", "/v1/datasets/items/columns/emb?offset=100&limit=4000", None),
            ("GET", "/v1/datasets/items/rows/nope", None),
        ):
            got = client.request(method, path, body)
            ok += got.status < 500
    return ok


def test_resident_memory_stays_flat(server: Server) -> None:
    client = Client(server.port)
    try:
        assert one_round(client) == ROUND  # warm-up: caches, allocator pools
        before = server.rss_anon_kib()
        for _ in range(ROUNDS):
            assert one_round(client) == ROUND
        after = server.rss_anon_kib()
    finally:
        client.close()
    assert after - before < SLACK_KIB, (before, after)
    assert after < 150 * 1024  # the target: < 150 MiB of anonymous memory
