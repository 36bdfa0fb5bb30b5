"""HTTP as users expect it, against a real ``rodata serve`` (the fast path and ``--no-fast-path``
alike): ``GET /`` leads to the docs, HEAD on every GET route, ETags and If-None-Match on immutable
answers, misspelt query parameters and scan cursors out of range refused, the access log, and the
warning about an empty data root."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

import rodata
from rodata.server.routes import BY_NAME
from tests.server.httpkit import Response, Server

#: GET requests of every GET route: the hot ones (row, column) and the FastAPI ones.
GET_PATHS = [
    "/livez",
    "/healthz",
    "/v1/datasets",
    "/v1/datasets/items",
    "/v1/datasets/items/rows/-597",
    "/v1/datasets/items/rows/-597?columns=emb,ts",
    "/v1/datasets/words/rows/b%2Fc",
    "/v1/datasets/items/rows/1",  # 404 key_not_found
    "/v1/datasets/nope/rows/1",  # 404 dataset_not_found
    "/v1/datasets/items/scan?limit=5&columns=name",
    "/v1/datasets/words/scan?prefix=ap",
    "/v1/datasets/items/columns/qty?offset=10&limit=20",
    "/v1/datasets/items/columns/emb?limit=3&format=npy",
    "/v1/datasets/items/columns/name?limit=4",
    "/v1/datasets/items/columns/qty?offset=999999",  # 422
    "/v1/datasets/items/lookup",  # 405: lookup is POST
    "/nowhere",  # 404 not_found
    "/docs",
    "/openapi.json",
    "/",
]
#: The answers that are the same bytes for as long as the version serves: they carry an ETag.
IMMUTABLE = [
    "/v1/datasets/items",
    "/v1/datasets/items/rows/-597",
    "/v1/datasets/items/rows/-597?columns=emb,ts",
    "/v1/datasets/words/rows/b%2Fc",
    "/v1/datasets/words/rows/%C3%A9",
    "/v1/datasets/items/scan?limit=5&columns=name",
    "/v1/datasets/words/scan?prefix=ap",
    "/v1/datasets/items/columns/qty?offset=10&limit=20",
    "/v1/datasets/items/columns/emb?limit=3&format=npy",
    "/v1/datasets/items/columns/name?limit=4",
]


@pytest.fixture(params=["fast", "framework"])
def either(request: pytest.FixtureRequest) -> Server:
    """The server with the fast path, then the one with every route through FastAPI."""
    name = "server" if request.param == "fast" else "framework_server"
    srv: Server = request.getfixturevalue(name)
    return srv


def without_date(got: Response) -> dict[str, str]:
    return {k: v for k, v in got.headers.items() if k != "date"}


def exchange(port: int, data: bytes) -> bytes:
    """Send `data` on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


# -- GET / and HEAD --------------------------------------------------------------------------------


def test_the_root_leads_to_the_docs(either: Server) -> None:
    for method in ("GET", "HEAD"):
        got = either.client.request(method, "/")
        assert (got.status, got.headers["location"], got.body) == (307, "/docs", b"")
    assert either.get("/docs").status == 200


@pytest.mark.parametrize("path", GET_PATHS)
def test_head_answers_every_get_route_as_get_does_without_the_body(either: Server, path: str) -> None:
    got = either.client.request("GET", path)
    head = either.client.request("HEAD", path)
    assert (head.status, without_date(head), head.body) == (got.status, without_date(got), b"")
    assert int(head.headers["content-length"]) == len(got.body)


@pytest.mark.parametrize("path", ["/v1/datasets/items/rows/-597", "/v1/datasets/items/columns/emb?limit=9",
                                  "/v1/datasets/items/scan?limit=3", "/metrics", "/docs/static/swagger-ui.css"])
def test_no_body_bytes_follow_a_head_answer_on_the_wire(either: Server, path: str) -> None:
    # The answer to the HEAD must end with its head: the next bytes on the connection are the
    # status line of the GET pipelined after it.
    wire = exchange(either.port, f"HEAD {path} HTTP/1.1\r\nhost: t\r\n\r\n"
                                 "GET /livez HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n".encode())
    first, rest = wire.split(b"\r\n\r\n", 1)
    assert first.startswith(b"HTTP/1.1 200 ") and b"content-length: " in first.lower()
    assert rest.startswith(b"HTTP/1.1 200 ") and rest.endswith(b'{"status":"ok"}'), rest[:200]


def test_metrics_answer_head(either: Server) -> None:
    head = either.client.request("HEAD", "/metrics")
    assert (head.status, head.body) == (200, b"")
    assert head.headers["content-type"].startswith("text/plain")


# -- ETags and If-None-Match ------------------------------------------------------------------------


@pytest.mark.parametrize("path", IMMUTABLE)
def test_immutable_answers_have_an_etag_and_revalidate_to_304(either: Server, path: str) -> None:
    got = either.get(path)
    assert got.status == 200
    tag = got.headers["etag"]
    assert tag.startswith(f'"{got.headers["x-rodata-version"]}.') and tag.endswith('"')
    assert either.get(path).headers["etag"] == tag  # the same request, the same tag
    for value in (tag, f"W/{tag}", f'"v000000-00000000.x", {tag}', "*"):
        for method in ("GET", "HEAD"):
            again = either.client.request(method, path, headers={"If-None-Match": value})
            assert (again.status, again.body) == (304, b""), (method, value)
            assert again.headers["etag"] == tag
            assert again.headers["x-rodata-version"] == got.headers["x-rodata-version"]
            assert "content-type" not in again.headers and "content-length" not in again.headers
    stale = either.client.request("GET", path, headers={"If-None-Match": '"v000000-00000000.1"'})
    assert (stale.status, stale.body) == (200, got.body)


@pytest.mark.parametrize("path", ["/v1/datasets/items/rows/1", "/v1/datasets/nope", "/v1/datasets",
                                  "/healthz", "/livez", "/v1/datasets/items/columns/qty?offset=999999"])
def test_errors_and_changing_answers_have_no_etag(either: Server, path: str) -> None:
    got = either.get(path)
    assert "etag" not in got.headers
    again = either.client.request("GET", path, headers={"If-None-Match": "*"})
    assert (again.status, again.body) == (got.status, got.body)


def test_etags_tell_requests_apart_and_name_equal_requests_alike(either: Server) -> None:
    tags = [either.get(p).headers["etag"] for p in (
        "/v1/datasets/items/rows/-597", "/v1/datasets/items/rows/-594", "/v1/datasets/items/rows/-597?columns=ts",
        "/v1/datasets/items/rows/-597?columns=ts,emb", "/v1/datasets/items/scan?limit=5",
        "/v1/datasets/items/scan?limit=6", "/v1/datasets/items/scan?limit=5&after=0",
        "/v1/datasets/items/columns/qty?limit=5", "/v1/datasets/items/columns/qty?limit=5&format=npy",
        "/v1/datasets/items/columns/qty?limit=5&offset=1", "/v1/datasets/items/columns/ts?limit=5",
        "/v1/datasets/words/rows/a", "/v1/datasets/words/rows/apple", "/v1/datasets/items", "/v1/datasets/words")]
    assert len(set(tags)) == len(tags), tags
    # The query in canonical form: parameters in any order, a default written out or left out.
    assert (either.get("/v1/datasets/items/scan?limit=5&start=0").headers["etag"]
            == either.get("/v1/datasets/items/scan?start=0&limit=5").headers["etag"])
    assert (either.get("/v1/datasets/items/scan").headers["etag"]
            == either.get("/v1/datasets/items/scan?limit=1000").headers["etag"])
    assert (either.get("/v1/datasets/items/columns/qty?limit=5").headers["etag"]
            == either.get("/v1/datasets/items/columns/qty?format=raw&offset=0&limit=5").headers["etag"])


def test_a_new_version_answers_with_new_etags(tmp_path: Path) -> None:
    root = tmp_path / "root"
    rodata.write(root, "d", {"k": np.arange(10), "v": np.arange(10) * 2}, key="k")
    srv = Server(root, tmp_path / "server.log")
    try:
        srv.wait_ready()
        paths = ["/v1/datasets/d/rows/3", "/v1/datasets/d/scan?limit=4", "/v1/datasets/d/columns/v", "/v1/datasets/d"]
        old = {p: srv.get(p) for p in paths}
        new_version = rodata.write(root, "d", {"k": np.arange(10), "v": np.arange(10) * 3}, key="k").name
        srv.wait_until(lambda: srv.get("/v1/datasets/d").headers["x-rodata-version"] == new_version, "the swap")
        for path, before in old.items():
            got = srv.client.request("GET", path, headers={"If-None-Match": before.headers["etag"]})
            assert got.status == 200 and got.body != before.body, path
            assert got.headers["etag"] != before.headers["etag"] and new_version in got.headers["etag"]
    finally:
        assert srv.stop() == 0


# -- query parameters and cursors -------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "name", "takes"), [
    ("GET", "/v1/datasets/items/rows/-597?colums=ts", "colums", "columns"),
    ("GET", "/v1/datasets/items/scan?limit=5&star=3", "star", "after, columns, end, format, limit, prefix, start"),
    ("GET", "/v1/datasets/items/columns/qty?ofset=3", "ofset", "format, limit, offset"),
    ("POST", "/v1/datasets/items/lookup?columns=ts", "columns", None),
    ("GET", "/v1/datasets?limit=3", "limit", None),
    ("GET", "/v1/datasets/items?detail=1", "detail", None),
    ("GET", "/healthz?verbose", "verbose", None),
    ("GET", "/livez?x=1", "x", None),
    ("GET", "/metrics?name=rodata_ready", "name", None),
    ("GET", "/v1/datasets/nope/rows/1?colums=ts", "colums", "columns"),  # before the dataset is looked up
])
def test_a_query_parameter_a_route_does_not_take_is_422(either: Server, method: str, path: str, name: str,
                                                        takes: str | None) -> None:
    body = '{"keys": [-597]}' if method == "POST" else None
    got = either.client.request(method, path, body, {"content-type": "application/json"} if body else None)
    assert (got.status, got.error_code) == (422, "unknown_parameter")
    message = got.json()["error"]["message"]
    assert repr(name) in message
    assert (f"it takes {takes}" if takes else "it takes no query parameters") in message, message


def test_a_misspelt_parameter_gets_a_suggestion(either: Server) -> None:
    message = either.get("/v1/datasets/items/rows/-597?colums=ts").json()["error"]["message"]
    assert "did you mean 'columns'?" in message


@pytest.mark.parametrize("query", [
    "start=0&after=-3",  # below start
    "end=30&after=30",  # at end
    "end=30&after=31",  # past end
    "start=0&end=30&after=-600",
])
def test_a_cursor_outside_the_scanned_range_is_422(either: Server, query: str) -> None:
    got = either.get(f"/v1/datasets/items/scan?{query}")
    assert (got.status, got.error_code) == (422, "cursor_out_of_range")
    assert "after" in got.json()["error"]["message"]


def test_a_cursor_without_the_prefix_is_422(either: Server) -> None:
    got = either.get("/v1/datasets/words/scan?prefix=ap&after=b")
    assert (got.status, got.error_code) == (422, "cursor_out_of_range")
    assert either.get("/v1/datasets/words/scan?prefix=ap&after=apple").json()["rows"] == [{"word": "apricot", "n": 2}]


def test_paging_repeats_start_and_end_with_after(either: Server, library: dict[str, rodata.Dataset]) -> None:
    ds = library["items"]
    keys = sorted(int(k) for k in ds.column("id") if 0 <= k < 600)
    seen: list[int] = []
    after = ""
    while True:
        page = either.get(f"/v1/datasets/items/scan?start=0&end=600&limit=37&columns=id{after}")
        assert page.status == 200, page.body
        doc = page.json()
        seen.extend(row["id"] for row in doc["rows"])
        if doc["next"] is None:
            break
        after = f"&after={doc['next']}"
    assert seen == keys
    # after = start is the first step of such a walk: the page starts after it.
    first = either.get("/v1/datasets/items/scan?start=0&after=0&limit=1&columns=id").json()
    assert first == {"rows": [{"id": 3}], "next": 3}


# -- the access log and start-up warnings ------------------------------------------------------------


@pytest.mark.parametrize("fast_path", [True, False])
def test_the_access_log_is_one_json_line_per_request(tmp_path: Path, fast_path: bool) -> None:
    root = tmp_path / "root"
    rodata.write(root, "d", {"k": np.arange(50), "v": np.arange(50) * 1.5}, key="k")
    srv = Server(root, tmp_path / "server.log", "--access-log", *([] if fast_path else ["--no-fast-path"]))
    sent: list[tuple[str, str, Response]] = []
    try:
        srv.wait_ready()
        for method, path in [("GET", "/v1/datasets/d/rows/7"), ("HEAD", "/v1/datasets/d/rows/7"),
                             ("GET", "/v1/datasets/d/rows/99"), ("GET", "/v1/datasets/d/columns/v?limit=9"),
                             ("GET", "/v1/datasets/d/scan?limit=3"), ("GET", "/v1/datasets/d/rows/7?colums=v"),
                             ("GET", "/livez")]:
            sent.append((method, path, srv.client.request(method, path)))
        tag = sent[0][2].headers["etag"]
        sent.append(("GET", "/v1/datasets/d/rows/7", srv.client.request("GET", "/v1/datasets/d/rows/7",
                                                                         headers={"If-None-Match": tag})))
        posted = srv.post("/v1/datasets/d/lookup", {"keys": [1, 2]})
        sent.append(("POST", "/v1/datasets/d/lookup", posted))
    finally:
        assert srv.stop() == 0
    lines = [d for d in srv.logs() if d.get("event") == "access"]
    assert not [d for d in srv.logs() if d.get("logger") == "uvicorn.access"]
    ours = [d for d in lines if d["path"] != "/healthz"]  # wait_ready's requests come first
    assert len(ours) == len(sent)
    for doc, (method, target, got) in zip(ours, sent, strict=True):
        path, _, query = target.partition("?")
        assert doc["logger"] == "rodata.access" and doc["level"] == "info"
        assert (doc["method"], doc["path"], doc["query"], doc["status"]) == (method, path, query, got.status)
        assert doc["bytes"] == (0 if method == "HEAD" or got.status == 304 else len(got.body))
        assert isinstance(doc["duration"], float) and 0 <= doc["duration"] < 60
        assert doc["client"] == "127.0.0.1"
        assert doc["message"] == f"{method} {target} {got.status}"


def test_an_empty_data_root_is_warned_about_once(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    srv = Server(tmp_path / "empty", tmp_path / "server.log")
    try:
        srv.wait_until(lambda: srv.get("/healthz").json()["ready"], "the first load")
        srv.wait_until(lambda: [d for d in srv.logs() if d.get("event") == "no_datasets"], "the warning")
    finally:
        assert srv.stop() == 0
    warnings = [d for d in srv.logs() if d.get("event") == "no_datasets"]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning"
    assert "holds no dataset" in warnings[0]["message"] and warnings[0]["data_root"] == str(tmp_path / "empty")


def test_a_dataset_given_as_the_data_root_gets_a_hint(tmp_path: Path) -> None:
    rodata.write(tmp_path / "root", "d", {"k": np.arange(3)}, key="k")
    srv = Server(tmp_path / "root" / "d", tmp_path / "server.log")
    try:
        found = srv.wait_until(lambda: [d for d in srv.logs() if d.get("event") == "no_datasets"], "the warning")
    finally:
        assert srv.stop() == 0
    assert "is itself a dataset: pass its parent as the data root" in found[0]["message"]


def test_a_data_root_with_a_dataset_is_not_warned_about(tmp_path: Path) -> None:
    rodata.write(tmp_path, "d", {"k": np.arange(3)}, key="k")
    srv = Server(tmp_path, tmp_path / "server.log")
    try:
        srv.wait_ready()
        assert srv.get("/v1/datasets/d/rows/1").status == 200
    finally:
        assert srv.stop() == 0
    assert not [d for d in srv.logs() if d.get("event") == "no_datasets"]


def test_the_openapi_description_lists_exactly_the_parameters_each_route_takes(server: Server) -> None:
    paths = server.get("/openapi.json").json()["paths"]
    takes = {("/v1/datasets/{name}/rows/{key}", "get"): BY_NAME["row"].query_names,
             ("/v1/datasets/{name}/scan", "get"): BY_NAME["scan"].query_names,
             ("/v1/datasets/{name}/columns/{column}", "get"): BY_NAME["column"].query_names,
             ("/v1/datasets/{name}/lookup", "post"): frozenset({"columns", "format"}),  # with binary keys
             ("/v1/datasets/{name}", "get"): frozenset(),
             ("/v1/datasets", "get"): frozenset(), ("/healthz", "get"): frozenset(),
             ("/livez", "get"): frozenset(), ("/metrics", "get"): frozenset()}
    for (path, method), names in takes.items():
        operation = paths[path][method]
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert declared == names, path
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert ("If-None-Match" in headers) == ("304" in operation["responses"]), path
    assert "304" in paths["/v1/datasets/{name}/rows/{key}"]["get"]["responses"]
