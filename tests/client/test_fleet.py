"""A fleet of base URLs: retries past a dead URL and a 503, the backoff plan, what is raised when no
URL answers, error answers as ``rodata.ClientError``, and the token on the wire (never in a repr)."""

from __future__ import annotations

import pickle
import random
import subprocess
import sys
from collections.abc import Iterator

import orjson
import pytest

import rodata
from rodata.client.wire import Fleet
from tests.client.conftest import Served
from tests.client.oracle import assert_same_row
from tests.client.rawserver import RawServer, dead_url

NOT_READY = orjson.dumps({"error": {"code": "not_ready", "message": "the first load is not done"}})


@pytest.fixture
def busy() -> Iterator[RawServer]:
    """A server that answers every request 503 not_ready."""
    server = RawServer(503, NOT_READY)
    yield server
    server.close()


def _first_key(served: Served) -> int:
    key = served.every.column("id")[0]
    return int(key)


def test_a_dead_url_first_is_passed_over(served: Served) -> None:
    key = _first_key(served)
    with rodata.Client([dead_url(), served.url], backoff=0.001) as client:
        assert_same_row(client.get("every", key), served.every.get(key), "get")
        assert client.get_many("every", [key]).found.tolist() == [True]
        assert len(client.column("every", "int8", 0, 10)) == 10


def test_a_503_is_retried_on_the_next_url_and_the_answering_url_is_kept(served: Served, busy: RawServer) -> None:
    key = _first_key(served)
    with rodata.Client([busy.url, served.url], backoff=0.001) as client:
        assert_same_row(client.get("every", key), served.every.get(key), "get")
        tried = len(busy.seen)
        assert tried == 1  # the row request, then on to the next URL (which also described the dataset)
        for _ in range(5):  # later calls start at the URL that answered
            assert client.get("every", key) is not None
        assert len(busy.seen) == tried


def test_every_round_is_retried_then_unavailable(busy: RawServer) -> None:
    dead = dead_url()
    with rodata.Client([busy.url, dead], retries=3, backoff=0.001) as client, \
            pytest.raises(rodata.ClientError) as caught:
        client.datasets()
    error = caught.value
    assert (error.status, error.code) == (None, "unavailable")
    assert len(busy.seen) == 4  # the first round and 3 retries
    assert busy.url in error.message and dead in error.message
    assert "not_ready" in error.message and "ConnectError" in error.message
    assert isinstance(error, rodata.RodataError)


def test_no_retries_means_one_attempt_per_url(busy: RawServer) -> None:
    with rodata.Client(busy.url, retries=0) as client, pytest.raises(rodata.ClientError):
        client.get("every", 1)
    assert [s.target for s in busy.seen] == ["/v1/datasets/every/rows/1"]


def test_the_backoff_plan() -> None:
    fleet = Fleet(("http://a", "http://b", "http://c"), retries=2, backoff=0.1, max_backoff=0.3,
                  rng=random.Random(1))
    fleet.answered("http://b")
    plan = list(fleet.trial())
    assert [url for url, _ in plan] == ["http://b", "http://c", "http://a"] * 3
    waits = [wait for _, wait in plan]
    assert waits[:3] == [0.0, 0.0, 0.0] and waits[4:6] == [0.0, 0.0] and waits[7:] == [0.0, 0.0]
    assert 0.05 <= waits[3] < 0.15  # 0.1 times a factor in [0.5, 1.5)
    assert 0.1 <= waits[6] < 0.3  # 0.2, under the 0.3 cap, jittered
    capped = Fleet(("http://a",), retries=6, backoff=0.1, max_backoff=0.3, rng=random.Random(2))
    assert max(w for _, w in capped.trial()) < 0.45


def test_error_answers_raise_client_error_with_the_servers_fields(client: rodata.Client) -> None:
    cases = [
        (lambda: client.get("missing", 1), 404, "dataset_not_found"),
        (lambda: client.get("every", 1, ["no such column"]), 422, "unknown_column"),
        (lambda: client.get_many("every", [1], ["no such column", "int8"]), 422, "unknown_column"),
        (lambda: client.column("every", "int8", offset=10**6), 422, "offset_out_of_range"),
        (lambda: list(client.scan("every", prefix="a")), 422, "bad_parameter"),
        (lambda: list(client.scan("every", start=10**9, columns=["int8", "no such column"])), 422,
         "unknown_column"),  # an empty scan still names the column
        (lambda: client.get("every", "not a number"), 422, "bad_key"),
    ]
    for call, status, code in cases:
        with pytest.raises(rodata.ClientError) as caught:
            call()
        error = caught.value
        assert (error.status, error.code) == (status, code), error
        assert error.message and error.message in str(error) and code in str(error)
        again = pickle.loads(pickle.dumps(error))
        assert (again.status, again.code, again.message, str(again)) == (status, code, error.message, str(error))


def test_an_error_body_of_another_shape(served: Served) -> None:
    proxy = RawServer(502, b"<html><body>Bad Gateway</body></html>", content_type="text/html")
    try:
        with rodata.Client(proxy.url) as client, pytest.raises(rodata.ClientError) as caught:
            client.datasets()
        assert (caught.value.status, caught.value.code) == (502, "http_502")
        assert "Bad Gateway" in caught.value.message
    finally:
        proxy.close()


def test_the_token_is_sent_as_a_bearer_and_shown_nowhere() -> None:
    token = "s3cret-token-value"
    recorder = RawServer(200, b'{"datasets": []}')
    try:
        with rodata.Client(recorder.url, token=token) as client:
            assert client.datasets() == []
            assert token not in repr(client)
        assert [s.headers.get("authorization") for s in recorder.seen] == [f"Bearer {token}"]
        busy = RawServer(503, NOT_READY)
        try:
            with rodata.Client([busy.url, dead_url()], token=token, retries=0) as client, \
                    pytest.raises(rodata.ClientError) as caught:
                client.datasets()
            assert token not in str(caught.value)
        finally:
            busy.close()
    finally:
        recorder.close()
    with pytest.raises(rodata.UsageError):
        rodata.Client(recorder.url, token="two\r\nlines")


def test_credentials_in_a_url_are_not_shown() -> None:
    client = rodata.Client("http://user:hunter2@127.0.0.1:9", retries=0)
    try:
        assert "hunter2" not in repr(client)
        with pytest.raises(rodata.ClientError) as caught:
            client.datasets()
        assert "hunter2" not in str(caught.value)
    finally:
        client.close()


def test_bad_settings_are_usage_errors() -> None:
    for bad in ([], "ftp://x", ["http://ok", "no-scheme"]):
        with pytest.raises(rodata.UsageError):
            rodata.Client(bad)
    with pytest.raises(rodata.UsageError):
        rodata.Client("http://x", retries=-1)


def test_import_rodata_does_not_load_httpx() -> None:
    code = ("import sys, rodata; assert 'httpx' not in sys.modules; rodata.ClientError; "
            "assert 'httpx' not in sys.modules; rodata.Client; assert 'httpx' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
