"""The route table and what is made from it: the hot-route dispatcher, the FastAPI routes and the
OpenAPI description; an unknown path or method answered as before on both paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata.server import dispatch
from rodata.server.errors import HTTPError
from rodata.server.routes import BY_NAME, HOT, ROUTES, Route
from tests.server.asgikit import Apps, apps

# A value for each path parameter of the table, naming something the data root below holds.
VALUES = {"name": "d", "key": "3", "column": "x"}
BODIES = {"lookup": b'{"keys": [3, 99]}'}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Apps]:
    root = tmp_path_factory.mktemp("routes")
    rodata.write(root, "d", {"id": np.arange(10), "x": np.arange(10) * 1.5, "s": [f"s{i}" for i in range(10)]},
                 key="id")
    rodata.write(root, "w", {"k": ["a", "a/b", "x%y"], "n": np.arange(3)}, key="k")
    with apps(root) as both:
        yield both


def concrete(route: Route) -> str:
    """A request path for `route`, its parameters filled in."""
    parts = [VALUES[s.text] if s.param else s.text for s in route.segments]
    return "/" + "/".join(parts)


def fallbacks(pair: Apps) -> list[str]:
    """Record the requests the compiled protocol hands to the application (from now on)."""
    seen: list[str] = []
    inner = pair.fast.framework

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await inner(scope, receive, send)

    pair.fast.framework = counted  # type: ignore[method-assign]
    return seen


# -- the table -------------------------------------------------------------------------------------


def test_the_table_is_plain_frozen_data_with_unique_routes() -> None:
    assert isinstance(ROUTES, tuple)
    assert len({r.name for r in ROUTES}) == len(ROUTES)
    assert len({(m, r.path) for r in ROUTES for m in r.methods}) == sum(len(r.methods) for r in ROUTES)
    with pytest.raises(AttributeError):
        ROUTES[0].hot = True  # type: ignore[misc]
    assert [r.name for r in HOT] == ["row", "lookup", "column"]
    row = BY_NAME["row"].segments
    assert [(s.text, s.param, s.tail) for s in row] == [
        ("v1", False, False), ("datasets", False, False), ("name", True, False), ("rows", False, False),
        ("key", True, True)]


def test_a_path_tail_parameter_must_be_the_last_segment() -> None:
    with pytest.raises(ValueError, match="last segment"):
        Route("x", ("GET",), "/a/{b:path}/c", "livez", "x")
    with pytest.raises(ValueError, match="starts with"):
        Route("x", ("GET",), "a/b", "livez", "x")


def test_every_route_has_its_handler() -> None:
    for route in ROUTES:
        assert callable(dispatch.handler_of(route)), route.name


# -- the dispatcher --------------------------------------------------------------------------------


def test_the_router_matches_the_hot_routes_on_the_raw_path() -> None:
    router = dispatch.Router(HOT)
    got = router.match(b"/v1/datasets/d/rows/a%2Fb", "GET")
    assert got is not None and got[0] is BY_NAME["row"] and got[2] == (b"d", b"a%2Fb")
    assert router.match(b"/v1/datasets/d/rows/3", "HEAD") is not None  # HEAD matches the GET routes
    got = router.match(b"/v1/datasets/d/columns/x", "GET")
    assert got is not None and got[0] is BY_NAME["column"] and got[2] == (b"d", b"x")
    got = router.match(b"/v1/datasets/d/lookup", "POST")
    assert got is not None and got[0] is BY_NAME["lookup"] and got[2] == (b"d",)
    got = router.match(b"/v1/datasets/d/rows/", "GET")  # an empty key is a key (a tail may be empty)
    assert got is not None and got[2] == (b"d", b"")


@pytest.mark.parametrize(("path", "method"), [
    (b"/v1/datasets/d/rows/3", "POST"),  # the wrong method: the framework answers 405
    (b"/v1/datasets/d/lookup", "GET"),
    (b"/v1/datasets//rows/3", "GET"),  # an empty name is no name
    (b"/v1/datasets/d/rows/a/b", "GET"),  # more segments than the pattern
    (b"/v1/datasets/d/rows", "GET"),
    (b"/v1/datasets/d/scan", "GET"),  # not hot
    (b"//v1/datasets/d/rows/3", "GET"),
    (b"/v1/datasets/d/Rows/3", "GET"),
    (b"/livez", "GET"),
])
def test_the_router_leaves_everything_else_to_the_framework(path: bytes, method: str) -> None:
    assert dispatch.Router(HOT).match(path, method) is None


def test_the_router_matches_every_route_of_a_table() -> None:
    router = dispatch.Router(ROUTES)
    for route in ROUTES:
        got = router.match(concrete(route).encode(), route.methods[0])
        assert got is not None and got[0] is route, route.name
        assert got[2] == tuple(VALUES[p].encode() for p in route.params)


def test_path_segments_are_decoded_once() -> None:
    assert dispatch.decode_segment(b"a%2Fb") == "a/b"
    assert dispatch.decode_segment(b"%C3%A9") == "é"
    assert dispatch.decode_segment("x%25y") == "x%y"  # the raw path as the framework holds it (latin-1)
    assert dispatch.decode_segment(b"%zz") == "%zz"  # not an escape: kept as it is
    for bad in (b"%ff", b"%C3", "%80"):
        with pytest.raises(HTTPError) as info:
            dispatch.decode_segment(bad)
        assert (info.value.status, info.value.code) == (422, "bad_path")


def test_names_are_remembered_within_a_bound_and_faults_never() -> None:
    for i in range(3000):
        assert dispatch.decode_name(b"n%d" % i) == f"n{i}"
    assert len(dispatch._NAMES) <= 1024
    for _ in range(2):  # a name that does not decode is refused each time, never remembered
        with pytest.raises(HTTPError):
            dispatch.decode_name(b"%ff")
    assert b"%ff" not in dispatch._NAMES


# -- both paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_route_answers_the_same_bytes_on_both_paths(pair: Apps, route: Route) -> None:
    seen = fallbacks(pair)
    path = concrete(route)
    body = BODIES.get(route.name, b"")
    if route.name == "metrics":  # its body counts the requests of each application: not the same bytes
        fast, slow = (pair.call(app, "GET", path) for app in (pair.fast, pair.slow))
        assert fast.status == slow.status == 200 and b"rodata_requests_total" in fast.body
        assert [k for k, _ in fast.headers] == [k for k, _ in slow.headers] == [b"content-length", b"content-type"]
        assert fast.header("content-type") == "text/plain; version=0.0.4; charset=utf-8"
        assert seen == ["/metrics"]  # not hot: the fast path hands it to the framework
        return
    got = pair.both(route.methods[0], path, body)  # asserts the fast path's bytes are the framework's
    assert got.status == 200, (path, got.body[:200])
    # Hot routes are answered by the fast path itself; the others go to the framework.
    assert (seen == []) == route.hot, (route.name, seen)
    if "GET" in route.methods:
        head = pair.both("HEAD", path)
        assert (head.status, head.headers, head.body) == (200, got.headers, b"")


def test_handlers_get_decoded_path_values_on_both_paths(pair: Apps) -> None:
    assert pair.both("GET", "/v1/datasets/w/rows/a%2Fb").body == b'{"k":"a/b","n":1}'
    assert pair.both("GET", "/v1/datasets/w/rows/x%25y").body == b'{"k":"x%y","n":2}'
    assert pair.both("GET", "/v1/datasets/%64/columns/%78?format=json&limit=2").body == b"[0.0,1.5]"
    assert pair.both("GET", "/v1/datasets/%64").status == 200


def test_a_row_etag_names_the_key_not_its_spelling(pair: Apps) -> None:
    # One decoding before the handler: /rows/%33 and /rows/3 are the same request.
    plain = pair.both("GET", "/v1/datasets/d/rows/3").header("etag")
    assert plain is not None and plain.endswith('.3"')
    assert pair.both("GET", "/v1/datasets/d/rows/%33").header("etag") == plain
    slash = pair.both("GET", "/v1/datasets/w/rows/a%2Fb").header("etag")
    assert slash is not None and slash != pair.both("GET", "/v1/datasets/w/rows/a").header("etag")
    assert pair.both("GET", "/v1/datasets/w/rows/a%2fb").header("etag") == slash


def test_a_query_fault_is_told_before_a_bad_path_segment(pair: Apps) -> None:
    got = pair.both("GET", "/v1/datasets/d/rows/%ff?colums=x")
    assert (got.status, b"unknown_parameter" in got.body) == (422, True)
    got = pair.both("GET", "/v1/datasets/d/rows/%ff")
    assert got.status == 422 and b'"bad_path"' in got.body


@pytest.mark.parametrize(("method", "path", "status", "body"), [
    ("GET", "/nowhere", 404, b'{"error":{"code":"not_found","message":"Not Found"}}'),
    ("GET", "/v1/datasets//rows/3", 404, b'{"error":{"code":"not_found","message":"Not Found"}}'),
    ("GET", "/v1/datasets/d/rows/3/4", 404, b'{"error":{"code":"not_found","message":"no such route"}}'),
    ("GET", "/v1/datasets/d/columns/x/y", 404, b'{"error":{"code":"not_found","message":"no such route"}}'),
    ("GET", "/v1/datasets/d/scan/x", 404, b'{"error":{"code":"not_found","message":"Not Found"}}'),
    ("DELETE", "/v1/datasets/d/rows/3", 405,
     b'{"error":{"code":"method_not_allowed","message":"Method Not Allowed"}}'),
    ("GET", "/v1/datasets/d/lookup", 405, b'{"error":{"code":"method_not_allowed","message":"Method Not Allowed"}}'),
    ("POST", "/v1/datasets/d/rows/3/4", 405,
     b'{"error":{"code":"method_not_allowed","message":"Method Not Allowed"}}'),
    ("POST", "/livez", 405, b'{"error":{"code":"method_not_allowed","message":"Method Not Allowed"}}'),
])
def test_an_unknown_path_or_method_is_answered_as_before(pair: Apps, method: str, path: str, status: int,
                                                         body: bytes) -> None:
    got = pair.both(method, path)
    assert (got.status, got.body) == (status, body)
    assert got.header("content-type") == "application/json"


# -- the OpenAPI description -----------------------------------------------------------------------


def test_openapi_lists_exactly_the_tables_routes_and_parameters(pair: Apps) -> None:
    spec = pair.both("GET", "/openapi.json")
    doc: dict[str, Any] = __import__("json").loads(spec.body)
    listed = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    expected = {(r.path.replace(":path}", "}"), m.lower()) for r in ROUTES for m in r.methods}
    assert listed == expected
    for route in ROUTES:
        op = doc["paths"][route.path.replace(":path}", "}")][route.methods[0].lower()]
        params = op.get("parameters", [])
        assert [p["name"] for p in params if p["in"] == "path"] == list(route.params), route.name
        assert {p["name"] for p in params if p["in"] == "query"} == route.query_names, route.name
        assert ({p["name"] for p in params if p["in"] == "header"} == {"If-None-Match"}) == route.etag, route.name
        assert op["summary"] == route.summary
        assert op["tags"] == [route.tag]
        statuses = set(op["responses"])
        assert {str(s) for s in route.errors} <= statuses and "200" in statuses, route.name
        assert ("304" in statuses) == route.etag, route.name
        assert ("requestBody" in op) == route.body, route.name


def test_openapi_fills_the_settings_into_the_descriptions(tmp_path: Path) -> None:
    from rodata.server.settings import Settings

    with apps(tmp_path, Settings(max_scan_rows=77, max_lookup_keys=12)) as both:
        doc = __import__("json").loads(both.both("GET", "/openapi.json").body)
    scan = doc["paths"]["/v1/datasets/{name}/scan"]["get"]["parameters"]
    limit = next(p for p in scan if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 77 and "at most 77" in limit["description"]
    body = doc["paths"]["/v1/datasets/{name}/lookup"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"]["keys"]["maxItems"] == 12


def test_metrics_count_each_route_under_its_table_name(pair: Apps) -> None:
    for route in ROUTES:
        for app in (pair.fast, pair.slow):
            pair.call(app, route.methods[0], concrete(route), BODIES.get(route.name, b""))
    for app in (pair.fast, pair.slow):
        counted = {name for name, status in app.metrics.requests}
        assert {r.name for r in ROUTES} <= counted, counted
