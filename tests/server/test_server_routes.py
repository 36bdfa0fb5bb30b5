"""Every route of the HTTP contract against a real server: answers equal to the library's, status
codes and the error shape, limits, bad input."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest

import rodata
from tests.server.httpkit import ITEMS_ROWS, WORDS, Server


def jsonable(value: Any) -> Any:
    """A library value as the server encodes it in JSON."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, np.ndarray):
        return [float(x) for x in value]
    return value


def same_row(got: dict[str, Any] | None, expected: dict[str, Any] | None) -> bool:
    if got is None or expected is None:
        return got is expected
    if list(got) != list(expected):
        return False
    for name, value in expected.items():
        want = jsonable(value)
        have = got[name]
        if isinstance(value, np.ndarray):  # float32 vectors: compare at float32 precision
            if not np.array_equal(np.asarray(have, dtype=np.float32), value):
                return False
        elif have != want:
            return False
    return True


def some_keys(ds: rodata.Dataset, n: int = 20) -> list[int]:
    return [int(k) for k in ds.column("id")[:: max(1, len(ds) // n)]]


# -- operations ---------------------------------------------------------------------------------


def test_livez_and_healthz(server: Server, library: dict[str, rodata.Dataset]) -> None:
    assert server.get("/livez").status == 200
    health = server.get("/healthz")
    assert health.status == 200
    doc = health.json()
    assert doc["status"] == "ok" and doc["ready"] is True
    states = {d["name"]: d for d in doc["datasets"]}
    assert set(states) == {"items", "words"}
    assert states["items"]["state"] == "serving"
    assert states["items"]["version"] == library["items"].version
    assert states["items"]["rows"] == ITEMS_ROWS and states["items"]["refused"] == []


def test_metrics_counts_requests_and_describes_datasets(server: Server, library: dict[str, rodata.Dataset]) -> None:
    key = some_keys(library["items"])[0]
    for _ in range(3):
        assert server.get(f"/v1/datasets/items/rows/{key}").status == 200
    assert server.get("/v1/datasets/items/rows/1").status == 404
    text = server.get("/metrics").body.decode()
    counts = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line and not line.startswith("#")}
    assert counts['rodata_requests_total{route="row",status="200"}'] >= 3
    assert counts['rodata_requests_total{route="row",status="404"}'] >= 1
    assert counts['rodata_request_duration_seconds_count{route="row"}'] >= 4
    version = library["items"].version
    assert counts[f'rodata_dataset_info{{dataset="items",version="{version}"}}'] == 1
    assert counts['rodata_dataset_rows{dataset="items"}'] == ITEMS_ROWS
    assert counts['rodata_dataset_bytes{dataset="items"}'] == library["items"].nbytes
    assert counts['rodata_dataset_refused_versions_total{dataset="items"}'] == 0
    assert counts["rodata_ready"] == 1


def test_openapi_describes_every_route_and_docs_are_served_offline(server: Server) -> None:
    spec = server.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in [("/healthz", "get"), ("/livez", "get"), ("/metrics", "get"), ("/v1/datasets", "get"),
                         ("/v1/datasets/{name}", "get"), ("/v1/datasets/{name}/rows/{key}", "get"),
                         ("/v1/datasets/{name}/lookup", "post"), ("/v1/datasets/{name}/scan", "get"),
                         ("/v1/datasets/{name}/columns/{column}", "get")]:
        assert method in paths[path], path
    scan_params = {p["name"] for p in paths["/v1/datasets/{name}/scan"]["get"]["parameters"]}
    assert {"start", "end", "prefix", "after", "limit", "columns"} <= scan_params
    assert "requestBody" in paths["/v1/datasets/{name}/lookup"]["post"]
    page = server.get("/docs")
    assert page.status == 200
    html = page.body.decode()
    assert "/docs/static/swagger-ui-bundle.js" in html and "/openapi.json" in html
    assert "https://" not in html.replace("https://fastapi", "")  # no CDN asset
    for asset in ("/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css"):
        got = server.get(asset)
        assert got.status == 200 and len(got.body) > 10_000


# -- datasets -----------------------------------------------------------------------------------


def test_list_and_describe_datasets(server: Server, library: dict[str, rodata.Dataset]) -> None:
    listed = server.get("/v1/datasets").json()["datasets"]
    assert [d["name"] for d in listed] == ["items", "words"]
    items = listed[0]
    ds = library["items"]
    assert items == {"name": "items", "version": ds.version, "rows": len(ds), "key": "id",
                     "columns": ds.schema.to_json()}
    detail = server.get("/v1/datasets/items")
    assert detail.status == 200
    doc = detail.json()
    assert {k: doc[k] for k in items} == items
    assert doc["bytes"] == ds.nbytes
    assert [p["rows"] for p in doc["parts"]] == [2000, 2000, 1000]
    assert doc["build"]["source"] == "rodata.write"
    assert server.get("/v1/datasets/nope").error_code == "dataset_not_found"
    assert server.get("/v1/datasets/nope").status == 404


# -- rows ---------------------------------------------------------------------------------------


def test_rows_equal_the_library(server: Server, library: dict[str, rodata.Dataset]) -> None:
    ds = library["items"]
    for key in some_keys(ds):
        got = server.get(f"/v1/datasets/items/rows/{key}")
        assert got.status == 200
        assert got.headers["content-type"] == "application/json"
        assert got.headers["x-rodata-version"] == ds.version
        assert same_row(got.json(), ds.get(key)), key
    key = some_keys(ds)[3]
    got = server.get(f"/v1/datasets/items/rows/{key}?columns=blob,price,emb")
    assert list(got.json()) == ["blob", "price", "emb"]
    assert same_row(got.json(), ds.get(key, ["blob", "price", "emb"]))


def test_string_keys_are_percent_decoded(server: Server, library: dict[str, rodata.Dataset]) -> None:
    for word in WORDS:
        got = server.get(f"/v1/datasets/words/rows/{quote(word, safe='')}")
        assert got.status == 200, word
        assert got.json() == library["words"].get(word)


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/v1/datasets/items/rows/1", 404, "key_not_found"),
    ("/v1/datasets/words/rows/nope", 404, "key_not_found"),
    ("/v1/datasets/items/rows/abc", 422, "bad_key"),
    ("/v1/datasets/items/rows/1.5", 422, "bad_key"),
    ("/v1/datasets/items/rows/99999999999999999999", 422, "bad_key"),
    ("/v1/datasets/items/rows/%FF", 422, "bad_path"),
    ("/v1/datasets/items/rows/3?columns=nope", 422, "unknown_column"),
    ("/v1/datasets/items/rows/3?columns=", 422, "bad_parameter"),
    ("/v1/datasets/missing/rows/1", 404, "dataset_not_found"),
    ("/v1/datasets/%2e%2e/rows/1", 404, "dataset_not_found"),
    ("/v1/datasets/..%2Fitems/rows/1", 404, "dataset_not_found"),
    ("/v1/datasets/items%2F..%2F..%2Fetc/rows/1", 404, "dataset_not_found"),
    ("/v1/datasets/items/rows/1/extra", 404, "not_found"),
    ("/v1/datasets/..", 404, "dataset_not_found"),
    ("/no/such/route", 404, "not_found"),
])
def test_bad_row_requests_are_4xx_with_the_error_shape(server: Server, path: str, status: int, code: str) -> None:
    got = server.get(path)
    assert (got.status, got.error_code) == (status, code)


def test_wrong_method_is_405(server: Server) -> None:
    got = server.client.request("DELETE", "/v1/datasets/items/rows/3")
    assert (got.status, got.error_code) == (405, "method_not_allowed")
    got = server.client.request("GET", "/v1/datasets/items/lookup")
    assert (got.status, got.error_code) == (405, "method_not_allowed")


# -- lookups ------------------------------------------------------------------------------------


def test_lookup_equals_the_library_in_key_order(server: Server, library: dict[str, rodata.Dataset]) -> None:
    ds = library["items"]
    keys = [*some_keys(ds, 50), 1, 2, -601]
    keys = keys[::-1] + keys[:5]  # any order, repeats, misses
    got = server.post("/v1/datasets/items/lookup", {"keys": keys})
    assert got.status == 200 and got.headers["x-rodata-version"] == ds.version
    rows = got.json()["rows"]
    expected = ds.get_many(keys).to_pylist()
    assert len(rows) == len(keys)
    assert all(same_row(r, e) for r, e in zip(rows, expected, strict=True))
    assert rows[:3] == [None, None, None]
    got = server.post("/v1/datasets/words/lookup", {"keys": ["zebra", "nope", "b/c"], "columns": ["n"]})
    assert got.json() == {"rows": [{"n": WORDS.index("zebra")}, None, {"n": WORDS.index("b/c")}]}


def test_lookup_npz_is_aligned_with_the_keys(server: Server, library: dict[str, rodata.Dataset]) -> None:
    ds = library["items"]
    keys = [*some_keys(ds, 30), 1, 4]
    got = server.post("/v1/datasets/items/lookup", {"keys": keys, "format": "npz"})
    assert got.status == 200 and got.headers["content-type"] == "application/x-npz"
    arrays = np.load(io.BytesIO(got.body))
    batch = ds.get_many(keys)
    assert np.array_equal(arrays["found"], batch.found)
    fixed = [c.name for c in ds.schema.columns if c.fixed_width]
    assert sorted(f"values/{n}" for n in fixed) == sorted(k for k in arrays.files if k.startswith("values/"))
    for name in fixed:
        assert np.array_equal(arrays[f"values/{name}"], batch[name]), name
    assert np.array_equal(arrays["valid/price"], batch.valid("price"))
    got = server.post("/v1/datasets/items/lookup", {"keys": keys, "format": "npz", "columns": ["qty"]})
    assert np.load(io.BytesIO(got.body)).files == ["found", "values/qty"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ("{not json", 400, "malformed_json"),
    ("", 400, "malformed_json"),
    ("[1, 2]", 422, "bad_request"),
    ('{"keys": 3}', 422, "bad_request"),
    ('{"key": [3]}', 422, "bad_request"),
    ('{"keys": [3], "columns": "qty"}', 422, "bad_request"),
    ('{"keys": [3], "format": "xml"}', 422, "bad_request"),
    ('{"keys": ["3"]}', 422, "bad_key"),
    ('{"keys": [3.5]}', 422, "bad_key"),
    ('{"keys": [true]}', 422, "bad_key"),
    ('{"keys": [null]}', 422, "bad_key"),
    ('{"keys": [18446744073709551615]}', 422, "bad_key"),
    ('{"keys": [3], "columns": ["nope"]}', 422, "unknown_column"),
    ('{"keys": [3], "columns": ["name"], "format": "npz"}', 422, "unsupported_column"),
])
def test_bad_lookups_are_4xx(server: Server, body: str, status: int, code: str) -> None:
    got = server.post("/v1/datasets/items/lookup", body, raw=True)
    assert (got.status, got.error_code) == (status, code)


def test_string_key_lookup_rejects_integers(server: Server) -> None:
    got = server.post("/v1/datasets/words/lookup", {"keys": ["a", 1]})
    assert (got.status, got.error_code) == (422, "bad_key")


# -- scans --------------------------------------------------------------------------------------


def walk(server: Server, base: str, limit: int) -> list[dict[str, Any]]:
    """Every page of a scan, following ``next``."""
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}limit={limit}" + ("" if after is None else f"&after={quote(str(after), safe='')}")
        page = server.get(url)
        assert page.status == 200, page.body
        doc = page.json()
        assert len(doc["rows"]) <= limit
        rows.extend(doc["rows"])
        after = doc["next"]
        if after is None:
            return rows


def test_scan_pages_never_skip_or_repeat(server: Server, library: dict[str, rodata.Dataset]) -> None:
    ds = library["items"]
    keys = np.sort(ds.column("id"))
    rows = walk(server, "/v1/datasets/items/scan?columns=id,qty", 333)  # pages cross part boundaries
    assert [r["id"] for r in rows] == keys.tolist()
    start, end = int(keys[100]), int(keys[1234])
    rows = walk(server, f"/v1/datasets/items/scan?start={start}&end={end}&columns=qty", 100)
    expected = [b.to_pylist() for b in ds.scan(start, end, columns=["qty"])]
    assert rows == [r for page in expected for r in page]
    full = server.get(f"/v1/datasets/items/scan?start={start}&limit=3").json()["rows"]
    assert all(same_row(g, ds.get(int(k))) for g, k in zip(full, keys[100:103], strict=True))


def test_prefix_scan_on_string_keys(server: Server) -> None:
    rows = walk(server, "/v1/datasets/words/scan?prefix=ap", 1)
    assert [r["word"] for r in rows] == ["apple", "apricot"]
    rows = walk(server, "/v1/datasets/words/scan", 4)
    assert [r["word"] for r in rows] == sorted(WORDS, key=lambda w: w.encode())


@pytest.mark.parametrize(("query", "status", "code"), [
    ("limit=0", 422, "bad_parameter"),
    ("limit=-1", 422, "bad_parameter"),
    ("limit=abc", 422, "bad_parameter"),
    ("limit=10001", 422, "limit_too_large"),
    ("start=x", 422, "bad_key"),
    ("after=1e3", 422, "bad_key"),
    ("prefix=a", 422, "bad_parameter"),
    ("columns=nope", 422, "unknown_column"),
])
def test_bad_scans_are_422(server: Server, query: str, status: int, code: str) -> None:
    got = server.get(f"/v1/datasets/items/scan?{query}")
    assert (got.status, got.error_code) == (status, code)


# -- columns ------------------------------------------------------------------------------------


def test_column_raw_bytes_and_npy(server: Server, library: dict[str, rodata.Dataset]) -> None:
    ds = library["items"]
    for name in ("qty", "price", "ts", "day", "flag", "emb"):
        expected = ds.column(name, 1500, 1000)  # crosses the first part boundary
        got = server.get(f"/v1/datasets/items/columns/{name}?offset=1500&limit=1000")
        assert got.status == 200 and got.headers["content-type"] == "application/octet-stream"
        assert got.headers["x-rodata-dtype"] == expected.dtype.str
        assert got.headers["x-rodata-shape"] == ",".join(map(str, expected.shape))
        assert int(got.headers["content-length"]) == expected.nbytes
        array = np.frombuffer(got.body, dtype=np.dtype(got.headers["x-rodata-dtype"]))
        assert np.array_equal(array.reshape(expected.shape), expected), name
        npy = server.get(f"/v1/datasets/items/columns/{name}?offset=1500&limit=1000&format=npy")
        assert npy.headers["content-type"] == "application/x-npy"
        assert np.array_equal(np.load(io.BytesIO(npy.body)), expected)
    assert server.get("/v1/datasets/items/columns/price?limit=1").headers["x-rodata-nullable"] == "true"


def test_column_limits_are_clipped_and_offsets_checked(server: Server, library: dict[str, rodata.Dataset]) -> None:
    tail = server.get(f"/v1/datasets/items/columns/qty?offset={ITEMS_ROWS - 3}&limit=100")
    assert np.array_equal(np.frombuffer(tail.body, "<i4"), library["items"].column("qty", ITEMS_ROWS - 3))
    empty = server.get(f"/v1/datasets/items/columns/qty?offset={ITEMS_ROWS}")
    assert empty.status == 200 and empty.body == b""
    past = server.get(f"/v1/datasets/items/columns/qty?offset={ITEMS_ROWS + 1}")
    assert (past.status, past.error_code) == (422, "offset_out_of_range")


def test_string_columns_are_json(server: Server, library: dict[str, rodata.Dataset]) -> None:
    got = server.get("/v1/datasets/items/columns/name?offset=10&limit=5")
    assert got.headers["content-type"] == "application/json"
    assert got.json() == library["items"].column("name", 10, 5)
    blob = server.get("/v1/datasets/items/columns/blob?limit=6").json()
    assert blob == [jsonable(v) for v in library["items"].column("blob", 0, 6)]
    price = server.get("/v1/datasets/items/columns/price?offset=2500&limit=400&format=json").json()
    values, valid = library["items"].column("price", 2500, 400), library["items"].validity("price")
    assert valid is not None
    assert price == [float(v) if ok else None for v, ok in zip(values, valid[2500:2900], strict=True)]
    assert None in price


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/v1/datasets/items/columns/nope", 422, "unknown_column"),
    ("/v1/datasets/items/columns/name?format=raw", 422, "unsupported_column"),
    ("/v1/datasets/items/columns/qty?format=csv", 422, "bad_parameter"),
    ("/v1/datasets/items/columns/qty?offset=-1", 422, "bad_parameter"),
    ("/v1/datasets/items/columns/qty?limit=x", 422, "bad_parameter"),
    ("/v1/datasets/nope/columns/qty", 404, "dataset_not_found"),
])
def test_bad_column_requests_are_4xx(server: Server, path: str, status: int, code: str) -> None:
    got = server.get(path)
    assert (got.status, got.error_code) == (status, code)


# -- the fast path and the FastAPI routes answer alike -------------------------------------------


def test_fast_path_answers_exactly_like_the_fastapi_routes(server: Server, framework_server: Server) -> None:
    requests: list[tuple[str, str, Any]] = [
        ("GET", "/v1/datasets/items/rows/-597", None),
        ("GET", "/v1/datasets/items/rows/-597?columns=emb,ts,day,blob", None),
        ("GET", "/v1/datasets/items/rows/1", None),
        ("GET", "/v1/datasets/items/rows/x", None),
        ("GET", "/v1/datasets/words/rows/b%2Fc", None),
        ("GET", "/v1/datasets/words/rows/a/b", None),
        ("GET", "/v1/datasets/nope/rows/1", None),
        ("GET", "/v1/datasets/items/columns/emb?offset=3&limit=7", None),
        ("GET", "/v1/datasets/items/columns/ts?limit=9&format=npy", None),
        ("GET", "/v1/datasets/items/columns/name?limit=9", None),
        ("GET", "/v1/datasets/items/columns/qty?offset=999999", None),
        ("POST", "/v1/datasets/items/lookup", {"keys": [-597, 1, 3000]}),
        ("POST", "/v1/datasets/items/lookup", {"keys": [-597, 1], "format": "npz", "columns": ["emb"]}),
        ("POST", "/v1/datasets/items/lookup", "{bad"),
        ("POST", "/v1/datasets/items/lookup", {"keys": list(range(100_001))}),
        ("POST", "/v1/datasets/words/lookup", {"keys": ["a", "é"]}),
        ("GET", "/v1/datasets/items/scan?limit=50&columns=ts,day,emb,price,blob", None),
        ("GET", "/v1/datasets/items/columns/ts?format=json&offset=1990&limit=30", None),
        ("GET", "/v1/datasets/items/columns/day?format=json&limit=30", None),
        ("GET", "/v1/datasets/items/columns/price?format=json&limit=40", None),
        ("GET", "/v1/datasets/items%2Fx/rows/1", None),
        ("GET", "/v1/datasets//rows/1", None),
        ("GET", "/v1/datasets/items/rows/-597?colums=ts", None),
        ("GET", "/v1/datasets/items/columns/qty?ofset=3", None),
        ("POST", "/v1/datasets/items/lookup?format=npz", {"keys": [-597]}),
        ("GET", "/v1/datasets/items/scan?start=0&after=-3", None),
        ("GET", "/v1/datasets/items/scan?end=0&after=0", None),
        ("GET", "/", None),
    ]
    # HEAD of every GET, and each answer with an ETag asked again with it in If-None-Match.
    requests += [("HEAD", path, None) for method, path, _ in list(requests) if method == "GET"]
    tagged = [path for method, path, _ in requests
              if method == "GET" and "etag" in server.client.request(method, path).headers]
    assert len(tagged) >= 10, tagged
    for method, path, body in requests + [(m, p, "If-None-Match") for p in tagged for m in ("GET", "HEAD")]:
        headers = None
        if body == "If-None-Match":
            body, headers = None, {"If-None-Match": server.client.request("GET", path).headers["etag"]}
        data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        fast = server.client.request(method, path, data, headers)
        slow = framework_server.client.request(method, path, data, headers)
        fast.headers.pop("date", None)
        slow.headers.pop("date", None)
        assert (fast.status, fast.headers, fast.body) == (slow.status, slow.headers, slow.body), (method, path)
        if headers:
            assert fast.status == 304, (method, path)


# -- limits -------------------------------------------------------------------------------------


def test_limits_answer_413_and_422(served_root: Any, tmp_path: Any) -> None:
    srv = Server(served_root, tmp_path / "server.log", "--max-lookup-keys", "10", "--max-scan-rows", "5",
                 "--max-body-bytes", "200", "--max-column-bytes", "4000")
    try:
        srv.wait_ready()
        assert srv.post("/v1/datasets/items/lookup", {"keys": [3] * 10}).status == 200
        got = srv.post("/v1/datasets/items/lookup", {"keys": [3] * 11})
        assert (got.status, got.error_code) == (413, "too_many_keys")
        got = srv.post("/v1/datasets/items/lookup", {"keys": [3], "columns": ["qty"] * 40})
        assert (got.status, got.error_code) == (413, "body_too_large")
        assert srv.get("/v1/datasets/items/scan?limit=5").status == 200
        got = srv.get("/v1/datasets/items/scan?limit=6")
        assert (got.status, got.error_code) == (422, "limit_too_large")
        assert len(srv.get("/v1/datasets/items/scan").json()["rows"]) == 5  # the default is capped too
        assert srv.get("/v1/datasets/items/columns/qty?limit=1000").status == 200  # 4000 bytes
        got = srv.get("/v1/datasets/items/columns/qty?limit=1001")
        assert (got.status, got.error_code) == (413, "slice_too_large")
        got = srv.get("/v1/datasets/items/columns/qty")
        assert (got.status, got.error_code) == (413, "slice_too_large")
    finally:
        assert srv.stop() == 0
