"""The fast path equals the ASGI path, on the wire: two real servers on one data root, one as
``rodata serve`` runs by default and one with ``--no-fast-path``, asked the same requests (every
route, every column type with and without nulls, projections, misses, bad keys, bad query
parameters, limits, HEAD, If-None-Match), by hand and generated.

Compared for each request: the status line (code and reason), every header but ``date`` (as a
sorted list of lower-cased names and values: order carries no meaning, a repeated header does),
and the body bytes.  The headers the answers may carry are the ones in :data:`KNOWN_HEADERS`; one
not listed fails the test, so that a new header is compared knowingly."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rodata
from tests.server.gentables import table
from tests.server.httpkit import Server
from tests.server.wirekit import Answer, Closed, Wire, chunked, request

#: Every header an answer may carry; all but ``date`` are compared.
KNOWN_HEADERS = frozenset({
    "date", "content-type", "content-length", "connection", "etag", "location", "allow", "www-authenticate",
    "x-rodata-version", "x-rodata-offset", "x-rodata-rows", "x-rodata-total-rows", "x-rodata-dtype",
    "x-rodata-shape", "x-rodata-nullable", "rodata-next",
})

#: (name, rows, seed, string key, rows per part): every type, nulls in the ``?`` columns.
DATASETS = [("ints", 240, 21, False, 90), ("strs", 120, 22, True, 50)]
ROWS = {name: n for name, n, *_ in DATASETS}

EXAMPLES = settings(max_examples=120, deadline=None, derandomize=True, database=None)


class Pair:
    """The two servers, each behind one keep-alive raw connection.  A connection is opened again
    only after an answer that says ``Connection: close`` (or after a pause long enough for the idle
    timeout): a server that closes one otherwise fails the test."""

    #: Seconds idle after which a connection is not reused (well under the 5 s keep-alive default).
    IDLE = 2.0

    def __init__(self, fast: Server, asgi: Server) -> None:
        self.servers = (fast, asgi)
        self.wires: list[Wire | None] = [None, None]
        self.last: list[tuple[float, bytes]] = [(0.0, b""), (0.0, b"")]

    def _ask(self, i: int, data: bytes, head: bool) -> Answer:
        wire = self.wires[i]
        at, previous = self.last[i]
        if wire is not None and time.monotonic() - at > self.IDLE:
            wire.close()
            wire = None
        if wire is None:
            wire = self.wires[i] = Wire(self.servers[i].port)
            previous = b""
        try:
            wire.send(data)
            got = wire.final(head)
        except (Closed, BrokenPipeError, ConnectionResetError) as exc:
            where = f"after {previous[:120]!r}" if previous else "on a new connection"
            raise AssertionError(f"{('fast', 'asgi')[i]}: connection closed without Connection: close {where}, "
                                 f"sending {data[:120]!r}") from exc
        self.last[i] = (time.monotonic(), data)
        if got.header("connection") == "close":
            wire.close()
            self.wires[i] = None
        return got

    def both(self, data: bytes, head: bool = False) -> Answer:
        """The fast server's answer to `data`, checked equal to the ASGI server's."""
        fast, asgi = (self._ask(i, data, head) for i in (0, 1))
        for got in (fast, asgi):
            unknown = {k for k, _ in got.headers} - KNOWN_HEADERS
            assert not unknown, f"headers not in KNOWN_HEADERS: {unknown} ({data[:120]!r})"
            if got.status >= 400 and not head:
                assert got.error_code, data[:120]  # the one error shape, both ways
            assert got.status < 500, (data[:120], got.body[:300])
        assert (fast.status, fast.reason) == (asgi.status, asgi.reason), (data[:120], fast.body[:200], asgi.body[:200])
        assert fast.key() == asgi.key(), (data[:160], fast.headers, asgi.headers, fast.body[:300], asgi.body[:300])
        return fast

    def get(self, target: str, method: str = "GET", headers: list[tuple[str, str]] | None = None) -> Answer:
        return self.both(request(method, target, headers=headers or []), method == "HEAD")

    def get_and_head(self, target: str) -> Answer:
        """GET and HEAD of `target`, and when it has an ETag, both again with it in If-None-Match."""
        got = self.get(target)
        head = self.get(target, "HEAD")
        assert head.key()[:2] == got.key()[:2] and head.body == b""
        tag = got.header("etag")
        if tag is not None:
            for value in (tag, f"W/{tag}", f'"v000000-00000000.x", {tag}', "*", '"v000000-00000000.x"'):
                for method in ("GET", "HEAD"):
                    again = self.get(target, method, [("if-none-match", value)])
                    assert again.status == (200 if value.endswith('.x"') else 304), (target, value)
        return got

    def post(self, target: str, body: bytes, content_type: str | None = "application/json",
             extra: list[tuple[str, str]] | None = None) -> Answer:
        headers = ([("content-type", content_type)] if content_type else []) + (extra or [])
        return self.both(request("POST", target, body, headers, length=True))

    def reset(self) -> None:
        """Close both connections (the next request opens new ones)."""
        for wire in self.wires:
            if wire is not None:
                wire.close()
        self.wires = [None, None]

    def close(self) -> None:
        self.reset()
        for srv in self.servers:
            assert srv.stop() == 0


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("differential")
    for name, n, seed, string_key, per_part in DATASETS:
        cols, schema = table(n, seed, string_key=string_key)
        rodata.write(root, name, cols, key="id", schema=schema, rows_per_part=per_part)
    return root


def start_pair(root: Path, logs: Path, *args: str) -> Pair:
    fast = Server(root, logs / "fast.log", *args)
    asgi = Server(root, logs / "asgi.log", *args, "--no-fast-path")
    for srv in (fast, asgi):
        srv.wait_ready()
    assert [d.get("fast_path") for d in fast.logs() + asgi.logs() if d.get("event") == "listening"] == [True, False]
    return Pair(fast, asgi)


@pytest.fixture(scope="module")
def pair(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    both = start_pair(root, tmp_path_factory.mktemp("logs"), "--access-log")
    yield both
    both.close()


@pytest.fixture(scope="module")
def limited(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    both = start_pair(root, tmp_path_factory.mktemp("logs"), "--max-lookup-keys", "10", "--max-scan-rows", "5",
                      "--max-body-bytes", "400", "--max-column-bytes", "200", "--max-response-bytes", "3000")
    yield both
    both.close()


@pytest.fixture(scope="module")
def meta(root: Path) -> dict[str, tuple[list[Any], list[str]]]:
    """Each dataset's keys (in storage order) and column names."""
    out = {}
    for name, *_ in DATASETS:
        with rodata.open(root / name) as ds:
            keys = ds.column("id")
            out[name] = (keys if isinstance(keys, list) else keys.tolist(), [c.name for c in ds.schema.columns])
    return out


def key_path(key: Any) -> str:
    return quote(str(key), safe="")


def cols_query(columns: list[str]) -> str:
    return "columns=" + ",".join(quote(c, safe="") for c in columns)


# -- by hand: every route, every type -------------------------------------------------------------------


def test_operations_and_catalog_routes_are_alike(pair: Pair) -> None:
    for target in ("/healthz", "/livez", "/v1/datasets", "/v1/datasets/ints", "/v1/datasets/strs",
                   "/v1/datasets/nope", "/v1/datasets/ints?x=1", "/healthz?verbose", "/", "/docs", "/openapi.json"):
        pair.get_and_head(target)


@pytest.mark.parametrize("name", ["ints", "strs"])
def test_rows_of_every_type_with_nulls_and_projections_are_alike(pair: Pair, meta: Any, name: str) -> None:
    keys, columns = meta[name]
    values = columns[1:]
    for i, key in enumerate(keys[:: max(1, len(keys) // 12)]):
        base = f"/v1/datasets/{name}/rows/{key_path(key)}"
        assert pair.get_and_head(base).status == 200
        assert pair.get(f"{base}?{cols_query(values[i % len(values):][:4])}").status == 200
    key = key_path(keys[0])  # row 0: the first value of every nullable column is null
    for column in columns:  # each column alone: every type, null and not
        for k in (key, key_path(keys[1]), key_path(keys[-1])):
            assert pair.get_and_head(f"/v1/datasets/{name}/rows/{k}?{cols_query([column])}").status == 200
    base = f"/v1/datasets/{name}/rows/{key}"
    for query in (cols_query(columns), cols_query(columns[::-1]), cols_query(["string", "string", "id"]),
                  cols_query(["nope"]), cols_query(["string", "nope"]), "columns=", "columns=,", "columns",
                  "columns=string&columns=int8", "colums=string", "columns=%zz", "columns=int8%3F", "columns=int8?",
                  "", "&", "=", "columns=string&", "%zz=1", "columns=%E9"):
        pair.get_and_head(f"{base}?{query}")


BAD_INT_KEYS = ["x", "1.5", "+5", "-0", "007", "%205", "5%20", "9223372036854775807", "9223372036854775808",
                "-9223372036854775808", "-9223372036854775809", "99999999999999999999999", "%zz", "%2", "%2F", "5%2F",
                "a%2Fb", "%00", "%EF%BC%91", "%C3%A9", "0x10", "1e3", "", "--5", "5-"]


def test_misses_and_bad_keys_are_alike(pair: Pair, meta: Any) -> None:
    ints, strs = meta["ints"][0], meta["strs"][0]
    for key in BAD_INT_KEYS + [str(k + 1) for k in ints[:5]] + [str(ints[3]) + "/x", "-" + str(abs(ints[4]))]:
        pair.get_and_head(f"/v1/datasets/ints/rows/{key}")
        pair.get(f"/v1/datasets/ints/rows/{key}?columns=int8")
    for key in ["", "%zz", "%2F", "%FF", "%C3", "a/b", "k", *(quote(k, safe="") + "x" for k in strs[:5]),
                quote(strs[0], safe="/"), quote(strs[0], safe="") + "/", "%00"]:
        pair.get_and_head(f"/v1/datasets/strs/rows/{key}")
    for target in ("/v1/datasets/nope/rows/1", "/v1/datasets/ints%2Fx/rows/1", "/v1/datasets//rows/1",
                   "/v1/datasets/ints/rows", "/v1/datasets/ints/rows/", "/v1/datasets/ints/nothing/1", "/nowhere",
                   "/v1/datasets/ints/columns/", "/v1/datasets/ints/columns/nope", "/v1/datasets/ints/columns/a/b",
                   "/v1/datasets/ints/scan/x", "/v1/datasets/ints/lookup", "/v1/datasets/%69nts/rows/1",
                   "/v1//datasets/ints", "/v1/datasets/ints/rows/1?columns=nope"):
        pair.get_and_head(target)
    for method in ("DELETE", "PUT", "POST", "PATCH", "OPTIONS"):
        pair.both(request(method, f"/v1/datasets/ints/rows/{ints[0]}", length=True))
        pair.both(request(method, "/v1/datasets/ints/columns/int8", length=True))


@pytest.mark.parametrize("name", ["ints", "strs"])
def test_column_slices_of_every_type_are_alike(pair: Pair, meta: Any, name: str) -> None:
    _, columns = meta[name]
    n = ROWS[name]
    for column in columns:
        base = f"/v1/datasets/{name}/columns/{quote(column, safe='')}"
        for query in ("", "offset=3&limit=7", "format=npy&limit=5", "format=json&offset=1&limit=6",
                      f"offset={n - 1}", f"offset={n}", f"offset={n + 1}", "limit=0", f"limit={n + 50}",
                      "format=raw&limit=2"):
            pair.get_and_head(f"{base}?{query}")
    base = f"/v1/datasets/{name}/columns/int32"
    for query in ("offset=-1", "offset=abc", "offset=", "limit=-5", "limit=x", "format=xml", "format=",
                  "offset=1e3", "limit=1&limit=2", "offset=99999999999999999999", "ofset=3", "format=NPY",
                  "offset=%zz", "offset=+1", "offset=01&limit=02", "limit=9223372036854775808"):
        pair.get_and_head(f"{base}?{query}")


@pytest.mark.parametrize("name", ["ints", "strs"])
def test_lookups_json_and_npz_are_alike(pair: Pair, meta: Any, name: str) -> None:
    keys, columns = meta[name]
    fixed = [c for c in columns if not c.startswith(("string", "bytes"))]
    miss: Any = "nope" if name == "strs" else 1
    target = f"/v1/datasets/{name}/lookup"
    docs: list[Any] = [
        {"keys": keys[:10]}, {"keys": keys[::-1]}, {"keys": [keys[0], miss, keys[0], keys[5]]}, {"keys": []},
        {"keys": keys[:5], "columns": ["string?", "vector?", "id"]}, {"keys": keys[:3], "columns": []},
        {"keys": keys[:3], "columns": ["nope"]}, {"keys": keys[:3], "columns": ["id", "id"]},
        {"keys": keys[:20], "format": "npz"}, {"keys": [keys[1], miss], "format": "npz", "columns": fixed},
        {"keys": keys[:4], "format": "npz", "columns": ["string"]}, {"keys": keys[:2], "format": "json"},
        {"keys": keys[:2], "format": "xml"}, {"keys": [1.5]}, {"keys": [True]}, {"keys": [None]}, {"keys": [[1]]},
        {"keys": ["1"]}, {"keys": [2**63]}, {"keys": [-(2**63) - 1]}, {"keys": "abc"}, {"keys": {}}, {},
        {"keys": keys[:2], "extra": 1}, {"keys": keys[:2], "columns": "id"}, [keys[0]], None, 5, "x",
    ]
    for column in columns:  # every type alone, with a null (row 0) and a miss
        docs.append({"keys": [keys[0], miss, keys[1]], "columns": [column]})
        if column in fixed:
            docs.append({"keys": [keys[0], miss, keys[1]], "columns": [column], "format": "npz"})
    for doc in docs:
        pair.post(target, json.dumps(doc).encode())
    for body in (b"{bad", b"", b"\xff\xfe", b'{"keys": [1,]}', b'{"keys": [1]} x', b"[]", b'{"keys": [01]}',
                 b'{"keys": [1e2]}', b'{"keys": [-0]}', b'{"keys": ["\\ud800"]}', b'\xef\xbb\xbf{"keys": [1]}'):
        pair.post(target, body)
    doc = json.dumps({"keys": keys[:3]}).encode()
    pair.post(target, doc, None)
    pair.post(target, doc, "text/plain")
    pair.post(target, doc, "application/json; charset=utf-8")
    pair.post(target + "?format=npz", doc)
    pair.post(target + "?columns=id", doc)
    pair.post(target, np.array([0, 1, -5], dtype="<i8").tobytes(), "application/octet-stream")
    pair.post("/v1/datasets/nope/lookup", doc)
    pair.post(target, json.dumps({"keys": list(range(100_001))}).encode())  # over the default limit
    # A chunked body, and Expect: 100-continue (answered by both: the same final answer).
    pair.both(request("POST", target, headers=[("content-type", "application/json"),
                                               ("transfer-encoding", "chunked")]) + chunked(doc, [5]))
    pair.post(target, doc, extra=[("expect", "100-continue")])


def test_scans_are_alike(pair: Pair, meta: Any) -> None:
    ints, strs = sorted(meta["ints"][0]), sorted(meta["strs"][0])
    for query in ("", "limit=5", "limit=1&columns=id", f"start={ints[10]}&end={ints[20]}", f"start={ints[10]}&limit=3",
                  f"end={ints[3]}", f"start={ints[5]}&after={ints[7]}&limit=4", f"after={ints[-1]}",
                  "start=x", "limit=0", "limit=-1", "limit=10001", "limit=abc", "after=3.5", "prefix=1",
                  f"start={ints[9]}&end={ints[2]}", "star=3", "columns=nope", "columns=vector?,date?&limit=4",
                  f"start={ints[0]}&after={ints[0] - 1}", "end=9223372036854775808"):
        pair.get_and_head(f"/v1/datasets/ints/scan?{query}")
    for query in ("prefix=k%2B", "prefix=k-&limit=3", "prefix=%zz", f"start={quote(strs[3])}&end={quote(strs[9])}",
                  f"after={quote(strs[2])}&limit=2", "prefix=k&after=a", "prefix=", "columns=string,bytes&limit=5"):
        pair.get_and_head(f"/v1/datasets/strs/scan?{query}")


def test_limits_are_alike(limited: Pair, meta: Any) -> None:
    keys = meta["ints"][0]
    target = "/v1/datasets/ints/lookup"
    for n in (10, 11, 100):
        limited.post(target, json.dumps({"keys": keys[:n], "columns": ["int8"]}).encode())
    limited.post(target, json.dumps({"keys": keys[:3], "columns": ["int8"] * 60}).encode())  # over 400 bytes
    limited.post(target, json.dumps({"keys": keys[:10]}).encode())  # the answer over 3,000 bytes
    limited.both(request("POST", target, headers=[("content-type", "application/json"),
                                                  ("transfer-encoding", "chunked")])
                 + chunked(json.dumps({"keys": keys[:3], "columns": ["int8"] * 60}).encode(), [100]))
    # A content-length over the limit is refused before the body comes; the connections are left
    # expecting a body, so they are not used again.
    limited.both(request("POST", target, b"{}", [("content-type", "application/json"),
                                                ("content-length", "999999")], length=False)[:-2])
    limited.reset()
    for query in ("limit=25", "limit=26", "", "format=npy&limit=10", "format=json&limit=40"):
        limited.get_and_head(f"/v1/datasets/ints/columns/float64?{query}")
        limited.get_and_head(f"/v1/datasets/ints/columns/string?{query}")
    for query in ("limit=5", "limit=6", ""):
        limited.get_and_head(f"/v1/datasets/ints/scan?{query}")



def test_request_forms_and_header_spellings_are_alike(pair: Pair, meta: Any) -> None:
    key = meta["ints"][0][2]
    row = f"/v1/datasets/ints/rows/{key}"
    for target in (f"http://test{row}", f"{row}?", f"{row}?&", f"{row}%3F", f"{row}/", f"/{row}",
                   f"/v1/datasets/./ints/rows/{key}", f"/v1/datasets/ints/rows/+{key}",
                   f"/v1/datasets/%69nts/rows/{key}", "/v1/datasets/ints/columns/%69nt8", "*",
                   "/v1/datasets/ints/columns/int8?limit=2#x"):
        pair.get_and_head(target)
    tag = pair.get(row).header("etag")
    assert tag is not None
    for headers in ([("HOST", "x"), ("If-None-Match", tag)], [("if-none-match", f" {tag} ")],
                    [("if-none-match", tag), ("if-none-match", '"other"')], [("connection", "close")],
                    [("connection", "keep-alive")], [("accept", "application/vnd.apache.arrow.stream")],
                    [("transfer-encoding", "chunked")], [("content-length", "0")]):
        end = b"0\r\n\r\n" if headers[0][0] == "transfer-encoding" else b""  # an empty chunked body
        pair.both(request("GET", row, headers=headers) + end)
    for version in ("HTTP/1.0", "HTTP/1.1"):
        pair.both(request("GET", row, version=version))
        pair.both(request("GET", "/v1/datasets/ints/columns/int8?limit=3", version=version))
    body = json.dumps({"keys": meta["ints"][0][:3]}).encode()
    target = "/v1/datasets/ints/lookup"
    for content_type in ("APPLICATION/JSON", "application/json;charset=UTF-8", "Application/Octet-Stream"):
        pair.post(target, body, content_type)
    pair.post(target, body, "application/json", [("content-type", "text/plain")])
    pair.both(request("POST", target, body, [("content-type", "application/json"), ("content-length", "3")],
                      length=False))  # the rest of the body is then read as the next request
    pair.reset()
    pair.both(request("POST", target, body, [("content-type", "application/json"), ("transfer-encoding", "chunked")],
                      length=True))  # both framings: refused
    pair.reset()
    strs = meta["strs"][0]
    for raw in (f"GET /v1/datasets/strs/rows/{strs[0]} HTTP/1.1\r\nhost: t\r\n\r\n".encode(),  # UTF-8 unencoded
                f"GET /v1/datasets/strs/rows/{quote(strs[0], safe='').lower()} HTTP/1.1\r\nhost: t\r\n\r\n".encode(),
                b"GET /v1/datasets/ints/rows/" + b"9" * 10_000 + b" HTTP/1.1\r\nhost: t\r\n\r\n",
                f"GET {row}?columns={'int8,' * 2000} HTTP/1.1\r\n\r\n".encode(),
                b"GET /v1/datasets/ints/rows/5?columns=int8+ HTTP/1.1\r\nhost: t\r\n\r\n",
                request("GET", row, b"xyz"),  # a body on a GET: read and ignored
                b"get " + row.encode() + b" HTTP/1.1\r\nhost: t\r\n\r\n"):
        pair.both(raw)


# -- generated ---------------------------------------------------------------------------------------------


def _columns(names: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from([*names, "nope", ""]), max_size=6)


@st.composite
def _key(draw: st.DrawFn, keys: list[Any], string: bool) -> Any:
    if string:
        return draw(st.one_of(st.sampled_from(keys), st.text(max_size=8), st.sampled_from(["", "k", "é/"])))
    return draw(st.one_of(st.sampled_from(keys), st.integers(-(2**64), 2**64), st.sampled_from([0, 1, -1])))


@pytest.mark.parametrize("name", ["ints", "strs"])
def test_generated_rows_are_alike(pair: Pair, meta: Any, name: str) -> None:
    keys, columns = meta[name]

    @EXAMPLES
    @given(key=_key(keys, name == "strs"), cols=st.none() | _columns(columns), head=st.booleans())
    def check(key: Any, cols: list[str] | None, head: bool) -> None:
        target = f"/v1/datasets/{name}/rows/{key_path(key)}" + ("" if cols is None else f"?{cols_query(cols)}")
        pair.get(target, "HEAD" if head else "GET")

    check()


@pytest.mark.parametrize("name", ["ints", "strs"])
def test_generated_lookups_are_alike(pair: Pair, meta: Any, name: str) -> None:
    keys, columns = meta[name]

    @EXAMPLES
    @given(batch=st.lists(_key(keys, name == "strs"), max_size=30), cols=st.none() | _columns(columns),
           fmt=st.sampled_from([None, "json", "npz"]))
    def check(batch: list[Any], cols: list[str] | None, fmt: str | None) -> None:
        doc: dict[str, Any] = {"keys": batch}
        if cols is not None:
            doc["columns"] = cols
        if fmt is not None:
            doc["format"] = fmt
        pair.post(f"/v1/datasets/{name}/lookup", json.dumps(doc).encode())

    check()


@pytest.mark.parametrize("name", ["ints", "strs"])
def test_generated_column_slices_are_alike(pair: Pair, meta: Any, name: str) -> None:
    _, columns = meta[name]
    n = ROWS[name]
    bound = st.none() | st.integers(-2, n + 3) | st.integers(-(2**64), 2**64)

    @EXAMPLES
    @given(column=st.sampled_from([*columns, "nope"]), offset=bound, limit=bound,
           fmt=st.sampled_from([None, "raw", "npy", "json"]), head=st.booleans())
    def check(column: str, offset: int | None, limit: int | None, fmt: str | None, head: bool) -> None:
        params = [f"{k}={v}" for k, v in (("offset", offset), ("limit", limit), ("format", fmt)) if v is not None]
        pair.get(f"/v1/datasets/{name}/columns/{quote(column, safe='')}?{'&'.join(params)}", "HEAD" if head else "GET")

    check()


def test_generated_scans_are_alike(pair: Pair, meta: Any) -> None:
    keys, columns = meta["ints"]
    bound = st.none() | _key(keys, False)

    @EXAMPLES
    @given(start=bound, end=bound, after=bound, limit=st.none() | st.integers(-1, 300),
           cols=st.none() | _columns(columns))
    def check(start: Any, end: Any, after: Any, limit: int | None, cols: list[str] | None) -> None:
        params = [f"{k}={v}" for k, v in (("start", start), ("end", end), ("after", after), ("limit", limit))
                  if v is not None] + ([] if cols is None else [cols_query(cols)])
        pair.get(f"/v1/datasets/ints/scan?{'&'.join(params)}")

    check()



# -- what the servers count and log ------------------------------------------------------------------------

#: The fields of an access log line that must be equal (not its time or duration).
ACCESS_FIELDS = ("logger", "level", "event", "method", "path", "query", "status", "bytes", "client", "message")


def _counters(srv: Server) -> dict[str, float]:
    """The request counters and latency counts of `srv`'s /metrics, by series."""
    with Wire(srv.port) as wire:
        wire.send(request("GET", "/metrics"))
        text = wire.final().body.decode()
    out = {}
    for line in text.splitlines():
        if line.startswith(("rodata_requests_total{", "rodata_request_duration_seconds_count{")):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def _access(srv: Server, marker: str) -> list[tuple[Any, ...]]:
    """The access log lines after the request to `marker`, up to the next /metrics scrape."""
    lines = [d for d in srv.logs() if d.get("event") == "access"]
    at = max(i for i, d in enumerate(lines) if d["path"] == marker)
    out = []
    for doc in lines[at + 1 :]:
        if doc["path"] == "/metrics":
            break
        out.append(tuple(doc.get(k) for k in ACCESS_FIELDS))
    return out


def test_metrics_and_access_log_count_the_same_requests_alike(pair: Pair, meta: Any) -> None:
    keys = meta["ints"][0]
    before = [_counters(srv) for srv in pair.servers]
    marker = f"/marker-{id(before)}"
    pair.get(marker)
    sent = [request("GET", f"/v1/datasets/ints/rows/{keys[0]}"), request("GET", "/v1/datasets/ints/rows/1"),
            request("GET", "/v1/datasets/ints/rows/x"), request("HEAD", f"/v1/datasets/ints/rows/{keys[1]}"),
            request("GET", "/v1/datasets/ints/columns/int8?limit=4"), request("GET", "/v1/datasets/ints/columns/no"),
            request("POST", "/v1/datasets/ints/lookup", json.dumps({"keys": keys[:4]}).encode(),
                    [("content-type", "application/json")]),
            request("POST", "/v1/datasets/ints/lookup", b"{bad", [("content-type", "application/json")]),
            request("GET", "/v1/datasets/ints/scan?limit=2"), request("GET", "/v1/datasets/ints"),
            request("GET", "/healthz"), request("GET", "/nowhere")]
    for data in sent:
        pair.both(data, data.startswith(b"HEAD"))
    tag = pair.get(f"/v1/datasets/ints/rows/{keys[0]}").header("etag")
    assert tag is not None
    pair.get(f"/v1/datasets/ints/rows/{keys[0]}", headers=[("if-none-match", tag)])
    after = [_counters(srv) for srv in pair.servers]
    deltas = [{k: v - old.get(k, 0.0) for k, v in new.items() if v != old.get(k, 0.0)}
              for old, new in zip(before, after, strict=True)]
    assert deltas[0] == deltas[1]
    assert deltas[0]['rodata_requests_total{route="row",status="200"}'] == 3  # GET, HEAD, GET for the tag
    assert deltas[0]['rodata_requests_total{route="row",status="304"}'] == 1
    logged = [_access(srv, marker) for srv in pair.servers]
    assert logged[0] == logged[1]
    assert len(logged[0]) == len(sent) + 2, logged[0]
