"""Requests generated from the server's own OpenAPI description: whatever is sent, no 5xx."""

from __future__ import annotations

import zlib
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from rodata.server.app import create_app
from rodata.server.settings import Settings
from tests.server.httpkit import Server

#: Examples per operation: enough to reach every branch of the routes, small enough for CI.
EXAMPLES = 40


# The description a server with default settings publishes; test_the_served_description_is_this_one
# checks that the running server publishes exactly this one.
SPEC = create_app("/nonexistent", settings=Settings()).openapi()
schema = schemathesis.openapi.from_dict(SPEC)


def test_the_served_description_is_this_one(server: Server) -> None:
    assert server.get("/openapi.json").json() == SPEC


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: Any, server: Server) -> None:
    # Most generated dataset and column names match nothing; send two cases in three to the served
    # datasets and columns so that keys, slices and bodies are checked against real data too.
    params = case.path_parameters or {}
    if "name" in params:
        pick = zlib.crc32(repr(sorted(params.items())).encode()) % 3
        if pick < 2:
            params["name"] = ("items", "words")[pick]
            if "column" in params:
                params["column"] = ("qty", "emb", "name", "price", "n", "word")[pick + 2 * (len(str(params)) % 3)]
    response = case.call_and_validate(base_url=f"http://127.0.0.1:{server.port}", checks=[not_a_server_error],
                                      timeout=30)
    assert response.status_code < 500
    if response.status_code >= 400 and response.headers.get("content-type") == "application/json":
        doc = response.json()  # every error has the one shape
        assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}, doc

