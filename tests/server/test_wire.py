"""HTTP/1.1 on the wire, with raw sockets against a real ``rodata serve`` (the fast path and
``--no-fast-path`` alike): pipelining, requests split across reads, chunked bodies,
``Expect: 100-continue``, HTTP/1.0, HEAD, malformed requests, the request head limit, the idle
keep-alive timeout, the SIGTERM drain, and a slow reader's backpressure."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import time
from pathlib import Path

import numpy as np
import pytest

import rodata
from tests.server.httpkit import Server
from tests.server.wirekit import Answer, Wire, alone, chunked, post_json, request

FAST_OR_NOT = pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "asgi"])


@pytest.fixture(params=["fast", "asgi"])
def either(request: pytest.FixtureRequest) -> Server:
    """The server with the fast path, then the one with every route through ASGI."""
    srv: Server = request.getfixturevalue("server" if request.param == "fast" else "framework_server")
    return srv


def serve(root: Path, log: Path, fast_path: bool, *args: str) -> Server:
    srv = Server(root, log, *args, *([] if fast_path else ["--no-fast-path"]))
    srv.wait_ready()
    return srv


def lookup_body(keys: list[object], **extra: object) -> bytes:
    return json.dumps({"keys": keys, **extra}).encode()


#: Requests of every kind (method, bytes), the hot routes and the others, hits, misses and errors;
#: none of them closes the connection.
MIXED: list[tuple[str, bytes]] = [
    ("GET", request("GET", "/v1/datasets/items/rows/-597")),
    ("GET", request("GET", "/v1/datasets/items/rows/-597?columns=emb,ts,day,blob")),
    ("GET", request("GET", "/v1/datasets/items/rows/1")),  # 404 key_not_found
    ("GET", request("GET", "/v1/datasets/items/rows/x")),  # 422
    ("GET", request("GET", "/v1/datasets/words/rows/b%2Fc")),
    ("GET", request("GET", "/v1/datasets/items/columns/qty?offset=10&limit=20")),
    ("GET", request("GET", "/v1/datasets/items/columns/emb?limit=3&format=npy")),
    ("GET", request("GET", "/v1/datasets/items/columns/name?limit=4")),
    ("GET", request("GET", "/v1/datasets/items/columns/qty?offset=999999")),  # 422
    ("POST", post_json("/v1/datasets/items/lookup", {"keys": [-597, 1, 3000]})),
    ("POST", post_json("/v1/datasets/items/lookup", {"keys": [-597, 1], "format": "npz", "columns": ["emb"]})),
    ("POST", post_json("/v1/datasets/items/lookup", "{bad")),  # 400
    ("POST", post_json("/v1/datasets/words/lookup", {"keys": ["a", "é"]})),
    ("GET", request("GET", "/healthz")),
    ("GET", request("GET", "/livez")),
    ("GET", request("GET", "/v1/datasets")),
    ("GET", request("GET", "/v1/datasets/items")),
    ("GET", request("GET", "/nowhere")),  # 404 not_found
    ("GET", request("GET", "/v1/datasets/nope/rows/1")),  # 404 dataset_not_found
    ("GET", request("GET", "/v1/datasets/items/scan?limit=5&columns=name,price")),
    ("GET", request("GET", "/v1/datasets/words/scan?prefix=ap")),
    ("HEAD", request("HEAD", "/v1/datasets/items/rows/-594")),
    ("HEAD", request("HEAD", "/v1/datasets/items/columns/qty?limit=9")),
    ("HEAD", request("HEAD", "/v1/datasets/items/scan?limit=2")),
    ("DELETE", request("DELETE", "/v1/datasets/items/rows/-597")),  # 405
    ("POST", request("POST", "/v1/datasets/items/lookup", headers=[("content-type", "application/json"),
                                                                 ("transfer-encoding", "chunked")])
     + chunked(b'{"keys": [-597, 1, -594], "columns": ["name"]}', [5])),
]


def check_alike(got: Answer, want: Answer, what: object) -> None:
    assert got.key() == want.key(), (what, got.status, want.status, got.body[:200], want.body[:200])


# -- pipelining and reads split anywhere -------------------------------------------------------------


def test_pipelined_answers_come_in_request_order_each_as_if_sent_alone(either: Server) -> None:
    sent = [MIXED[(i * 7) % len(MIXED)] for i in range(50)]  # every kind, in a mixed order
    expected = {data: alone(either.port, data, method == "HEAD") for method, data in MIXED}
    with Wire(either.port) as wire:
        wire.send(b"".join(data for _, data in sent))
        got = wire.answers(method == "HEAD" for method, _ in sent)
        # And the connection stays open for more.
        wire.send(MIXED[0][1])
        check_alike(wire.final(), expected[MIXED[0][1]], "after the pipeline")
    for i, (answer, (_, data)) in enumerate(zip(got, sent, strict=True)):
        check_alike(answer, expected[data], (i, data[:80]))


def test_quick_answers_wait_for_a_slow_one_before_them(either: Server) -> None:
    # A scan of every row (answered by the web framework, slowly) then hot requests answered at
    # once: their answers must still come after the scan's.
    slow = request("GET", "/v1/datasets/items/scan?limit=5000")
    quick = [request("GET", "/v1/datasets/items/rows/-597"), request("GET", "/v1/datasets/items/columns/qty?limit=3"),
             post_json("/v1/datasets/items/lookup", {"keys": [-597]}), request("GET", "/livez")]
    expected = [alone(either.port, data) for data in [slow, *quick]]
    with Wire(either.port) as wire:
        wire.send(slow + b"".join(quick) + slow + b"".join(quick))
        got = wire.answers([False] * (2 * len(expected)))
    for i, answer in enumerate(got):
        check_alike(answer, expected[i % len(expected)], i)


def test_a_request_arriving_one_byte_at_a_time_is_answered_as_if_whole(either: Server) -> None:
    cases = [("GET", request("GET", "/v1/datasets/items/rows/-597?columns=name,ts")),
             ("POST", post_json("/v1/datasets/items/lookup", {"keys": [-597, 1, 3], "columns": ["qty", "blob"]})),
             ("GET", request("GET", "/v1/datasets/items/scan?limit=3")),
             ("HEAD", request("HEAD", "/v1/datasets/items/columns/qty?limit=9")),
             ("POST", MIXED[-1][1])]  # a chunked body
    with Wire(either.port) as wire:
        for method, data in cases:
            wire.send_in_pieces(data, 1, pause=0.001)
            check_alike(wire.final(method == "HEAD"), alone(either.port, data, method == "HEAD"), data[:60])


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_request_split_at_every_position_is_answered_as_if_whole(either: Server, method: str) -> None:
    data = (request("GET", "/v1/datasets/items/rows/-597") if method == "GET"
            else post_json("/v1/datasets/items/lookup", {"keys": [-597, 1]}))
    want = alone(either.port, data)
    with Wire(either.port) as wire:  # one connection for every split: keep-alive all along
        for at in range(1, len(data)):
            wire.send(data[:at])
            time.sleep(0.002)  # so the two pieces come in separate reads
            wire.send(data[at:])
            check_alike(wire.final(), want, at)
        # Two requests in one send, split inside the second.
        wire.send(data + data[:7])
        time.sleep(0.002)
        wire.send(data[7:])
        check_alike(wire.final(), want, "first of two")
        check_alike(wire.final(), want, "second of two")


# -- request bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [[1], [3, 1, 7], [64], [4096], [100000]], ids=str)
@pytest.mark.parametrize("trailers", [[], [("x-checksum", "abc"), ("x-more", "1")]], ids=["plain", "trailers"])
def test_a_chunked_lookup_body_is_answered_as_its_content_length_form(either: Server, sizes: list[int],
                                                                      trailers: list[tuple[str, str]]) -> None:
    bodies = [lookup_body([-597, 1, 3000, -594]),
              lookup_body([-597, 1], format="npz", columns=["emb", "qty", "price"]),
              lookup_body(list(range(-600, 3000, 3)), columns=["id", "qty"]),  # 1,200 keys, ~7 KiB
              b"{bad"]
    head = [("content-type", "application/json"), ("transfer-encoding", "chunked")]
    with Wire(either.port) as wire:
        for body in bodies:
            want = alone(either.port, request("POST", "/v1/datasets/items/lookup", body,
                                              [("content-type", "application/json")], length=True))
            assert want.status in (200, 400)
            wire.send(request("POST", "/v1/datasets/items/lookup", headers=head, length=False)
                      + chunked(body, sizes, trailers))
            check_alike(wire.final(), want, body[:60])


def test_a_chunked_body_over_the_limit_is_413(tmp_path: Path, served_root: Path) -> None:
    for fast_path in (True, False):
        srv = serve(served_root, tmp_path / f"{fast_path}.log", fast_path, "--max-body-bytes", "300")
        try:
            with Wire(srv.port) as wire:
                body = lookup_body(list(range(200)))
                wire.send(request("POST", "/v1/datasets/items/lookup",
                                  headers=[("content-type", "application/json"), ("transfer-encoding", "chunked")],
                                  length=False) + chunked(body, [50]))
                got = wire.final()
                assert (got.status, got.error_code) == (413, "body_too_large"), fast_path
            assert srv.get("/v1/datasets/items/rows/-597").status == 200
        finally:
            assert srv.stop() == 0


def test_expect_100_continue_is_answered_before_the_body_is_sent(either: Server) -> None:
    body = lookup_body([-597, 1, 3000])
    want = alone(either.port, post_json("/v1/datasets/items/lookup", body.decode()))
    with Wire(either.port) as wire:
        for _ in range(2):  # and again on the same connection
            wire.send(request("POST", "/v1/datasets/items/lookup",
                              headers=[("content-type", "application/json"), ("expect", "100-continue"),
                                       ("content-length", str(len(body)))]))
            interim = wire.answer()
            assert interim is not None and (interim.version, interim.status) == ("HTTP/1.1", 100), interim
            assert interim.headers == [] or all(k != "content-length" for k, _ in interim.headers)
            wire.send(body)
            check_alike(wire.final(), want, "after 100")


def test_expect_100_continue_with_a_body_too_large_gets_413_and_no_100(either: Server) -> None:
    with Wire(either.port) as wire:
        wire.send(request("POST", "/v1/datasets/items/lookup",
                          headers=[("content-type", "application/json"), ("expect", "100-continue"),
                                   ("content-length", str(10**9))]))
        got = wire.answer()
        assert got is not None and got.status == 413, got  # the first answer is the final one, no 100
        assert got.error_code == "body_too_large"
    assert either.get("/v1/datasets/items/rows/-597").status == 200


# -- HTTP/1.0 and Connection: close -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/datasets/items/rows/-597", "/v1/datasets/items/columns/qty?limit=5",
                                  "/v1/datasets/items/scan?limit=2", "/healthz", "/nowhere"])
def test_http_1_0_is_answered_then_closed(either: Server, path: str) -> None:
    want = alone(either.port, request("GET", path))
    with Wire(either.port) as wire:
        wire.send(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        got = wire.final()
        assert (got.status, got.body) == (want.status, want.body)
        assert [(k, v) for k, v in got.key()[1] if k != "connection"] == want.key()[1]
        assert wire.closed(), "the connection stays open after an HTTP/1.0 answer"


def test_connection_close_ends_the_pipeline_after_its_answer(either: Server) -> None:
    row = request("GET", "/v1/datasets/items/rows/-597")
    closing = request("GET", "/v1/datasets/items/columns/qty?limit=3", headers=[("connection", "close")])
    with Wire(either.port) as wire:
        wire.send(row + closing + row)
        first, second = wire.answers([False, False])
        assert first.status == 200 and second.status == 200
        assert second.header("connection") == "close"
        assert wire.closed(), "an answer after the one to Connection: close"


# -- HEAD ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/datasets/items/rows/-597", "/v1/datasets/items/rows/-597?columns=ts",
                                  "/v1/datasets/items/rows/1", "/v1/datasets/items/columns/emb?limit=9",
                                  "/v1/datasets/items/columns/ts?limit=9&format=npy",
                                  "/v1/datasets/items/columns/name?limit=9",
                                  "/v1/datasets/items/scan?limit=3", "/v1/datasets/items/scan?limit=100000",
                                  "/v1/datasets/items", "/healthz", "/nowhere", "/docs/static/swagger-ui.css"])
def test_head_has_the_headers_of_get_and_no_body_and_the_next_answer_is_intact(either: Server, path: str) -> None:
    with Wire(either.port) as wire:
        wire.send(request("HEAD", path) + request("GET", path) + request("GET", "/livez"))
        head, get, livez = wire.answers([True, False, False])
    assert head.key()[:2] == get.key()[:2]
    assert int(head.header("content-length") or -1) == len(get.body)
    assert (livez.status, livez.body) == (200, b'{"status":"ok"}')


# -- malformed requests ---------------------------------------------------------------------------------

MALFORMED = {
    "bad method characters": b"G@T /v1/datasets/items/rows/-597 HTTP/1.1\r\nhost: t\r\n\r\n",
    "missing version": b"GET /v1/datasets/items/rows/-597\r\nhost: t\r\n\r\n",
    "bad version": b"GET /v1/datasets/items/rows/-597 HTTP/x.y\r\nhost: t\r\n\r\n",
    "bad header line": b"GET /v1/datasets/items/rows/-597 HTTP/1.1\r\nbad header line\r\n\r\n",
    "space before the colon": b"GET /v1/datasets/items/rows/-597 HTTP/1.1\r\nhost : t\r\n\r\n",
    "NUL in a header": b"GET /v1/datasets/items/rows/-597 HTTP/1.1\r\nhost: t\r\nx-a: a\x00b\r\n\r\n",
    "NUL in the path": b"GET /v1/datasets/items/rows/-5\x0097 HTTP/1.1\r\nhost: t\r\n\r\n",
    "bad chunk size": (b"POST /v1/datasets/items/lookup HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
                       b"transfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
    "bad content-length": (b"POST /v1/datasets/items/lookup HTTP/1.1\r\nhost: t\r\ncontent-type: application/json"
                           b"\r\ncontent-length: 1x\r\n\r\n{}"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_request_is_a_4xx_json_error_and_the_server_keeps_serving(either: Server, name: str) -> None:
    row = request("GET", "/v1/datasets/items/rows/-597")
    want = alone(either.port, row)
    with Wire(either.port) as other, Wire(either.port) as bad:
        other.send(row)
        check_alike(other.final(), want, "before")
        bad.send(MALFORMED[name])
        got = bad.final()
        assert 400 <= got.status < 500, (got.status, got.body)
        assert got.error_code == "malformed_request"
        assert got.header("connection") == "close"
        assert bad.closed()
        other.send(row)  # a connection open all along
        check_alike(other.final(), want, "after, the same connection")
    check_alike(alone(either.port, row), want, "after, a new connection")


def test_a_malformed_request_in_a_pipeline_is_answered_after_the_ones_before_it(either: Server) -> None:
    good = [request("GET", "/v1/datasets/items/scan?limit=2000"), request("GET", "/v1/datasets/items/rows/-597"),
            post_json("/v1/datasets/items/lookup", {"keys": [-597]})]
    expected = [alone(either.port, data) for data in good]
    with Wire(either.port) as wire:
        wire.send(b"".join(good) + MALFORMED["bad header line"] + good[1])
        for i, want in enumerate(expected):
            check_alike(wire.final(), want, i)
        got = wire.final()
        assert (got.status, got.error_code, got.header("connection")) == (400, "malformed_request", "close")
        assert wire.closed(), "an answer after the one to the malformed request"


def test_bytes_after_a_body_shorter_than_sent_are_the_next_request_answered_after_it(either: Server) -> None:
    body = lookup_body([-597, 1])
    with Wire(either.port) as wire:
        wire.send(request("POST", "/v1/datasets/items/lookup", body,
                          [("content-type", "application/json"), ("content-length", "3")], length=False))
        first = wire.final()  # the lookup of the 3 bytes it was told of
        assert (first.status, first.error_code) == (400, "malformed_json")
        assert first.header("connection") is None
        second = wire.final()  # the rest of the bytes as a request line
        assert (second.status, second.error_code, second.header("connection")) == (400, "malformed_request", "close")
        assert wire.closed()


def _send_regardless(wire: Wire, data: bytes) -> None:
    """Send `data`; the server may stop reading (and close) once it has answered."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        wire.send(data)


HEADS = {
    "one 70 KiB header": [("x-big", "a" * (70 << 10))],
    "one 1 MiB header": [("x-big", "a" * (1 << 20))],
    "2,000 headers": [(f"x-h{i}", "v" * 30) for i in range(2000)],
    "a 70 KiB cookie in pieces": [("cookie", "c" * 1000)] * 70,
}


@pytest.mark.parametrize("name", list(HEADS))
@pytest.mark.parametrize("path", ["/v1/datasets/items/rows/-597", "/healthz"])
def test_a_request_head_over_64_kib_is_431_and_the_server_keeps_serving(either: Server, name: str, path: str) -> None:
    with Wire(either.port) as wire:
        _send_regardless(wire, request("GET", path, headers=HEADS[name]))
        got = wire.final()
        assert got.status == 431, (got.status, got.body[:200])
        assert got.error_code == "headers_too_large"
    assert either.get(path).status == 200


def test_a_request_head_under_64_kib_is_served(either: Server) -> None:
    row = request("GET", "/v1/datasets/items/rows/-597")
    want = alone(either.port, row)
    with Wire(either.port) as wire:
        for headers in ([("x-big", "a" * (60 << 10))], [(f"x-h{i}", "v" * 30) for i in range(1500)]):
            wire.send(request("GET", "/v1/datasets/items/rows/-597", headers=headers))
            check_alike(wire.final(), want, len(headers))


# -- the idle keep-alive timeout ------------------------------------------------------------------------


@FAST_OR_NOT
def test_an_idle_keep_alive_connection_is_closed_after_the_timeout(served_root: Path, tmp_path: Path,
                                                                   fast_path: bool) -> None:
    srv = serve(served_root, tmp_path / "server.log", fast_path, "--keep-alive-timeout", "1")
    try:
        row = request("GET", "/v1/datasets/items/rows/-597")
        with Wire(srv.port) as used, Wire(srv.port) as unused:
            used.send(row)
            assert used.final().status == 200
            used.send(row)  # the connection is kept alive between requests
            assert used.final().status == 200
            assert used.closed(timeout=30), "the idle connection was not closed"
            assert unused.closed(timeout=30), "a connection that never sent a request was not closed"
        assert alone(srv.port, row).status == 200
    finally:
        assert srv.stop() == 0


# -- SIGTERM drain and backpressure ---------------------------------------------------------------------

BIG_ROWS = 2_000_000  # a 16 MB float64 column
SLICE_ROWS = 500_000  # 4 MB answers


@pytest.fixture(scope="module")
def big_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("big")
    values = np.arange(BIG_ROWS, dtype=np.float64) * 0.5
    rodata.write(root, "big", {"k": np.arange(BIG_ROWS, dtype=np.int64), "x": values}, key="k")
    rodata.write(root, "floats", {"k": np.arange(FLOAT_ROWS, dtype=np.int64), "y": float_values()}, key="k")
    return root


FLOAT_ROWS = 1_000_000
JSON_ROWS = 100_000  # the most rows a JSON column slice may have: ~1.9 MB of JSON each


def float_values() -> np.ndarray:
    return np.random.default_rng(5).standard_normal(FLOAT_ROWS) * 1000.0


def json_slice_request(i: int) -> bytes:
    offset = (i * 77_777) % (FLOAT_ROWS - JSON_ROWS)
    return request("GET", f"/v1/datasets/floats/columns/y?format=json&offset={offset}&limit={JSON_ROWS}")


def check_json_slice(got: Answer, i: int, values: np.ndarray) -> None:
    offset = (i * 77_777) % (FLOAT_ROWS - JSON_ROWS)
    assert got.status == 200, (i, got.status, got.body[:200])
    assert np.array_equal(np.array(got.json(), dtype=np.float64), values[offset : offset + JSON_ROWS]), i


def slice_request(i: int) -> bytes:
    offset = (i * 123_457) % (BIG_ROWS - SLICE_ROWS)
    return request("GET", f"/v1/datasets/big/columns/x?offset={offset}&limit={SLICE_ROWS}")


def check_slice(got: Answer, i: int) -> None:
    offset = (i * 123_457) % (BIG_ROWS - SLICE_ROWS)
    assert got.status == 200, (i, got.status, got.body[:200])
    assert got.header("x-rodata-offset") == str(offset), i
    want = np.arange(offset, offset + SLICE_ROWS, dtype=np.float64) * 0.5
    assert np.array_equal(np.frombuffer(got.body, "<f8"), want), i


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


@FAST_OR_NOT
def test_sigterm_answers_the_requests_received_then_closes_and_exits_0(big_root: Path, tmp_path: Path,
                                                                       fast_path: bool) -> None:
    srv = serve(big_root, tmp_path / "server.log", fast_path)
    n = 12
    mixed = [slice_request(i) if i % 3 else request("GET", f"/v1/datasets/big/rows/{i}") for i in range(n)]
    try:
        with Wire(srv.port) as idle, Wire(srv.port, rcvbuf=4096) as busy:
            idle.send(request("GET", "/v1/datasets/big/rows/5"))
            assert idle.final().status == 200
            busy.send(b"".join(mixed))
            first = busy.final()  # the server has read the requests and is answering
            assert first.status == 200 and first.json() == {"k": 0, "x": 0.0}
            srv.proc.send_signal(signal.SIGTERM)
            # The drain has begun (new connections are refused) while ~30 MB of answers wait.
            srv.wait_until(lambda: refused(srv.port), "the listening socket closed")
            assert idle.closed(), "the idle keep-alive connection was not closed by the drain"
            assert srv.proc.poll() is None, "the server exited with answers still to send"
            for i in range(1, n):
                got = busy.final()
                if i % 3:
                    check_slice(got, i)
                else:
                    assert got.status == 200 and got.json() == {"k": i, "x": i * 0.5}, i
            assert busy.closed(), "the connection stays open after the drain"
        assert srv.proc.wait(60) == 0
    finally:
        assert srv.stop() == 0


@FAST_OR_NOT
def test_a_slow_reader_is_held_back_while_others_are_served_and_memory_stays_bounded(
        big_root: Path, tmp_path: Path, fast_path: bool) -> None:
    srv = serve(big_root, tmp_path / "server.log", fast_path)
    n = 40  # 160 MB of answers pipelined on one connection that does not read
    try:
        baseline = srv.rss_anon_kib()
        with Wire(srv.port, rcvbuf=4096) as slow, Wire(srv.port) as other:
            slow.send(b"".join(slice_request(i) for i in range(n)))
            for j in range(20):  # another connection is served while the slow one is stuck
                other.send(request("GET", f"/v1/datasets/big/rows/{j}"))
                assert other.final().json() == {"k": j, "x": j * 0.5}
                other.send(slice_request(1000 + j))
                check_slice(other.final(), 1000 + j)
                rss = srv.rss_anon_kib()
                assert rss < 150 * 1024, f"RssAnon {rss} KiB (at start {baseline} KiB)"
            # Reading resumes the writes: every answer arrives, complete and in order.
            slow.widen()
            for i in range(n):
                check_slice(slow.final(), i)
                if i % 8 == 0:
                    assert srv.rss_anon_kib() < 150 * 1024
            slow.send(request("GET", "/v1/datasets/big/rows/7"))
            assert slow.final().json() == {"k": 7, "x": 3.5}
    finally:
        assert srv.stop() == 0


@FAST_OR_NOT
def test_a_slow_reader_of_rendered_json_is_held_back_and_memory_stays_bounded(big_root: Path, tmp_path: Path,
                                                                              fast_path: bool) -> None:
    # Answers rendered per request (JSON, not views of the mapping): a server that rendered and
    # queued every pipelined answer would hold ~150 MB for the reader that does not read.
    srv = serve(big_root, tmp_path / "server.log", fast_path)
    values = float_values()
    n = 80  # ~150 MB of JSON if every answer were rendered and queued
    try:
        with Wire(srv.port, rcvbuf=4096) as slow, Wire(srv.port) as other:
            slow.send(b"".join(json_slice_request(i) for i in range(n)))
            for j in range(10):
                other.send(json_slice_request(500 + j))
                check_json_slice(other.final(), 500 + j, values)
                assert srv.rss_anon_kib() < 150 * 1024
            slow.widen()
            for i in range(n):
                check_json_slice(slow.final(), i, values)
                if i % 10 == 0:
                    assert srv.rss_anon_kib() < 150 * 1024
    finally:
        assert srv.stop() == 0
