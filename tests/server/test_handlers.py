"""The handlers without sockets or an ASGI app: decoded inputs in, a Reply out, compared with
what the library itself reads from the same dataset."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata.catalog import Catalog
from rodata.server import handlers, render
from rodata.server.errors import Reply
from rodata.server.handlers import Context
from rodata.server.metrics import Metrics
from rodata.server.settings import Settings

ROWS = 40


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("handlers")
    ids = np.arange(ROWS) * 3 - 30
    rodata.write(root, "d", {"id": ids, "x": ids * 0.5, "s": [f"s{i}" for i in range(ROWS)],
                             "n": np.arange(ROWS, dtype=np.int32)}, key="id", rows_per_part=15)
    rodata.write(root, "w", {"k": ["", "a", "a/b", "x%y", "é"], "n": np.arange(5)}, key="k")
    return root


@pytest.fixture(scope="module")
def ctx(root: Path) -> Iterator[Context]:
    catalog = Catalog(root)
    catalog.load()
    yield Context(catalog, Settings(max_lookup_keys=50), Metrics(catalog))
    catalog.stop()
    for ds in catalog.datasets.values():
        ds.close()


@pytest.fixture(scope="module")
def lib(root: Path) -> Iterator[dict[str, rodata.Dataset]]:
    opened = {name: rodata.open(root / name) for name in ("d", "w")}
    yield opened
    for ds in opened.values():
        ds.close()


def call(fn: Any, *args: Any) -> Reply:
    return handlers.guarded(fn, *args)


def error(reply: Reply) -> tuple[int, str]:
    return reply.status, json.loads(reply.body)["error"]["code"]


def test_a_row_is_the_librarys_row(ctx: Context, lib: dict[str, rodata.Dataset]) -> None:
    ds = lib["d"]
    for key in (-30, 0, 87):
        reply = call(handlers.row, ctx, "d", str(key), b"")
        assert reply.status == 200
        assert json.loads(reply.body) == ds.get(key)
        assert reply.header(b"x-rodata-version") == str(ds.version).encode()
        assert reply.etag is not None and reply.header(b"etag") == reply.etag
    reply = call(handlers.row, ctx, "d", "-30", b"columns=s,n")
    assert json.loads(reply.body) == ds.get(-30, ["s", "n"])


def test_a_handler_takes_the_decoded_key_as_it_is(ctx: Context, lib: dict[str, rodata.Dataset]) -> None:
    # Decoding happened before the handler: a '%' or a '/' in the text is part of the key.
    assert json.loads(call(handlers.row, ctx, "w", "a/b", b"").body) == lib["w"].get("a/b")
    assert json.loads(call(handlers.row, ctx, "w", "x%y", b"").body) == lib["w"].get("x%y")
    assert json.loads(call(handlers.row, ctx, "w", "", b"").body) == lib["w"].get("")
    assert error(call(handlers.row, ctx, "w", "a%2Fb", b"")) == (404, "key_not_found")


@pytest.mark.parametrize(("args", "expected"), [
    (("d", "1", b""), (404, "key_not_found")),
    (("d", "x", b""), (422, "bad_key")),
    (("d", "99999999999999999999", b""), (422, "bad_key")),
    (("nope", "1", b""), (404, "dataset_not_found")),
    (("d", "0", b"columns=zz"), (422, "unknown_column")),
    (("d", "0", b"colums=s"), (422, "unknown_parameter")),
    (("d", "0", b"columns="), (422, "bad_parameter")),
])
def test_row_errors(ctx: Context, args: tuple[Any, ...], expected: tuple[int, str]) -> None:
    assert error(call(handlers.row, ctx, *args)) == expected


def test_a_lookup_is_aligned_with_the_keys(ctx: Context, lib: dict[str, rodata.Dataset]) -> None:
    ds = lib["d"]
    keys = [87, 1, -30, 87]
    reply = call(handlers.lookup, ctx, "d", json.dumps({"keys": keys, "columns": ["x", "s"]}).encode(), b"")
    assert json.loads(reply.body) == {"rows": [ds.get(k, ["x", "s"]) for k in keys]}
    reply = call(handlers.lookup, ctx, "d", json.dumps({"keys": keys, "format": "npz"}).encode(), b"")
    arrays = np.load(io.BytesIO(reply.body))
    batch = ds.get_many(keys, ["id", "x", "n"])
    assert arrays["found"].tolist() == [True, False, True, True]
    assert arrays["values/x"].tolist() == batch["x"].tolist()
    assert error(call(handlers.lookup, ctx, "d", json.dumps({"keys": list(range(51))}).encode(), b"")) == (
        413, "too_many_keys")  # this context's limit
    assert error(call(handlers.lookup, ctx, "w", b'{"keys": [1]}', b"")) == (422, "bad_key")
    assert error(call(handlers.lookup, ctx, "d", b"{bad", b"")) == (400, "malformed_json")


def test_a_column_slice_is_the_librarys_column(ctx: Context, lib: dict[str, rodata.Dataset]) -> None:
    ds = lib["d"]
    reply = call(handlers.column, ctx, "d", "x", b"offset=10&limit=12")
    assert reply.body == np.ascontiguousarray(ds.column("x", 10, 12)).tobytes()
    assert reply.header(b"x-rodata-rows") == b"12" and reply.header(b"x-rodata-dtype") == b"<f8"
    reply = call(handlers.column, ctx, "d", "s", b"limit=3")
    assert json.loads(reply.body) == ds.column("s", 0, 3)
    assert error(call(handlers.column, ctx, "d", "x", b"offset=41")) == (422, "offset_out_of_range")
    assert error(call(handlers.column, ctx, "d", "zz", b"")) == (422, "unknown_column")


def test_a_scan_page_is_the_librarys_scan(ctx: Context, lib: dict[str, rodata.Dataset]) -> None:
    ds = lib["d"]
    doc = json.loads(call(handlers.scan, ctx, "d", b"start=-3&limit=5").body)
    expected = [ds.get(k) for k in range(-3, -3 + 15, 3)]
    assert doc == {"rows": expected, "next": 9}
    doc = json.loads(call(handlers.scan, ctx, "d", b"start=-3&limit=5&after=9").body)
    assert doc["rows"][0] == ds.get(12)


def test_descriptions_health_and_liveness(ctx: Context, lib: dict[str, rodata.Dataset]) -> None:
    listed = json.loads(call(handlers.datasets, ctx, b"").body)
    assert listed == {"datasets": [render.describe(lib["d"]), render.describe(lib["w"])]}
    detail = call(handlers.dataset_detail, ctx, "w", b"")
    assert json.loads(detail.body) == json.loads(render.dumps(render.describe(lib["w"], detail=True)))
    health = call(handlers.healthz, ctx, b"")
    assert health.status == 200 and json.loads(health.body)["status"] == "ok"
    assert call(handlers.livez, ctx, b"").body == b'{"status":"ok"}'
    assert error(call(handlers.livez, ctx, b"x=1")) == (422, "unknown_parameter")


def test_metrics_is_a_handler_like_the_others(ctx: Context) -> None:
    assert ctx.metrics is not None
    ctx.metrics.observe("row", 200, 0.001)
    reply = call(handlers.metrics, ctx, b"")
    assert reply.status == 200 and b'rodata_requests_total{route="row",status="200"}' in reply.body
    assert reply.header(b"content-length") == b"%d" % len(reply.body)
    assert error(call(handlers.metrics, ctx, b"name=x")) == (422, "unknown_parameter")
