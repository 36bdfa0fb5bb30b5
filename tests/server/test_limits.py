"""Byte limits computed before a body is built: JSON column slices, lookups (JSON and npz) and scan
pages over their limit are 413 with the error shape, and nothing of them is built."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata import sizes
from rodata.batch import Batch
from rodata.server import render
from rodata.server.settings import Settings
from tests.server.asgikit import Apps, apps
from tests.server.gentables import table
from tests.server.httpkit import Server


def error(answer: Any) -> tuple[int, str]:
    doc = json.loads(answer.body)
    assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}, doc
    return answer.status, doc["error"]["code"]


def test_a_json_column_slice_is_limited_by_bytes_on_a_real_server(tmp_path: Path) -> None:
    n = 2000
    rodata.write(tmp_path, "v", {"id": np.arange(n), "emb": np.random.default_rng(1).random((n, 768), np.float32),
                                 "q": np.arange(n, dtype=np.int32), "s": [f"{'x' * 90}{i}" for i in range(n)]},
                 key="id")
    srv = Server(tmp_path, tmp_path / "server.log", "--max-column-bytes", "65536")
    try:
        srv.wait_ready()
        # One vector[768] row is at most 2 + 768 * 16 + 767 = 13057 bytes of JSON: five rows fit, six do not.
        assert srv.get("/v1/datasets/v/columns/emb?format=json&limit=5").status == 200
        got = srv.get("/v1/datasets/v/columns/emb?format=json")
        assert (got.status, got.error_code) == (413, "slice_too_large")
        got = srv.get("/v1/datasets/v/columns/emb?format=json&limit=6")
        assert (got.status, got.error_code) == (413, "slice_too_large")
        ok = srv.get("/v1/datasets/v/columns/q?format=json&limit=5000")  # 2000 rows x 12 bytes at most
        assert ok.status == 200 and len(ok.body) <= 65536
        got = srv.get("/v1/datasets/v/columns/s")  # strings: 2000 x ~95 bytes
        assert (got.status, got.error_code) == (413, "slice_too_large")
        ok = srv.get("/v1/datasets/v/columns/s?limit=600")
        assert ok.status == 200 and len(ok.body) <= 65536
    finally:
        assert srv.stop() == 0


# -- the bounds hold, and decide exactly at the limit -------------------------------------------------


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("limits")
    cols, schema = table(300, 21)
    rodata.write(root, "t", cols, key="id", schema=schema, rows_per_part=110)
    cols, schema = table(120, 22, string_key=True)
    rodata.write(root, "s", cols, key="id", schema=schema)
    return root


@pytest.fixture(scope="module")
def ds(root: Path) -> Iterator[rodata.Dataset]:
    with rodata.open(root / "t") as opened:
        yield opened


def bound_of(fn: Any, *args: Any, **kwargs: Any) -> int:
    """The size bound an answer is checked against: the smallest limit it passes."""
    lo, hi = 0, 1 << 40
    while lo < hi:
        mid = (lo + hi) // 2
        try:
            fn(*args, max_bytes=mid, **kwargs)
            hi = mid
        except sizes.AnswerTooLarge:
            lo = mid + 1
    return lo


def test_every_bound_holds_the_body_it_allows(ds: rodata.Dataset) -> None:
    keys = ds.column("id").tolist()
    rng = np.random.default_rng(5)
    for column in ds.schema.names:
        for offset, limit in ((0, 300), (105, 20), (299, 1), (300, 0)):
            body = render.column_slice(ds, column, offset, limit, "json").chunks[0]
            assert len(body) <= bound_of(render.column_slice, ds, column, offset, limit, "json"), column
    for _ in range(20):
        cols = list(rng.choice(ds.schema.names, rng.integers(1, 8), replace=False))
        asked = [int(k) for k in rng.choice([*keys, 1, 2], rng.integers(0, 60))]
        body = render.lookup_json(ds, asked, cols)
        assert len(body) <= bound_of(render.lookup_json, ds, asked, cols)
        fixed = [c for c in cols if ds.schema[c].fixed_width]
        chunks, size = render.lookup_npz(ds, asked, fixed)
        assert size == sum(len(bytes(c)) for c in chunks) <= bound_of(render.lookup_npz, ds, asked, fixed)
        limit, after = int(rng.integers(1, 150)), int(rng.choice(keys))
        body = render.scan_page(ds, limit=limit, columns=cols, after=after)
        assert len(body) <= bound_of(render.scan_page, ds, limit=limit, columns=cols, after=after)


def test_strings_are_counted_with_their_escapes_near_the_limit(tmp_path: Path) -> None:
    # Control characters take six bytes each in JSON: the exact count decides, not a guess.
    values = ["\x01" * 10, 'a"b', "plain", "\n\t", "é"]
    rodata.write(tmp_path, "e", {"id": np.arange(5), "s": values}, key="id")
    with rodata.open(tmp_path / "e") as ds:
        body = render.column_slice(ds, "s", 0, 5, "json").chunks[0]
        assert len(body) == 91  # 75 bytes of escaped strings, 10 quotes, 4 commas, 2 brackets
        # The bound counts 4 bytes around each value (a null's room) where a string has 2 quotes;
        # with every byte at its worst (6 bytes) it would be 158.
        assert bound_of(render.column_slice, ds, "s", 0, 5, "json") == len(body) + 5 * 2
        body = render.lookup_json(ds, [0, 1, 2, 3, 4], ["s"])
        assert len(body) <= bound_of(render.lookup_json, ds, [0, 1, 2, 3, 4], ["s"]) <= len(body) + 5 * 2


def test_nothing_is_built_for_an_answer_over_the_limit(ds: rodata.Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> Any:
        raise AssertionError("a body was built for an answer over the limit")

    monkeypatch.setattr(Batch, "to_pylist", refuse)
    monkeypatch.setattr(Batch, "__getitem__", refuse)
    monkeypatch.setattr(render, "column_json", refuse)
    keys = ds.column("id").tolist()
    with pytest.raises(sizes.AnswerTooLarge) as too_large:
        render.lookup_json(ds, keys, max_bytes=10_000)
    assert too_large.value.code == "response_too_large" and too_large.value.bound > 10_000
    with pytest.raises(sizes.AnswerTooLarge):
        render.lookup_npz(ds, keys, max_bytes=10_000)
    with pytest.raises(sizes.AnswerTooLarge):
        render.scan_page(ds, limit=300, max_bytes=10_000)
    for column in ("string", "vector?", "timestamp"):
        with pytest.raises(sizes.AnswerTooLarge) as too_large:
            render.column_slice(ds, column, 0, 300, "json", max_bytes=1000)
        assert too_large.value.code == "slice_too_large"


@pytest.fixture(scope="module")
def small(root: Path) -> Iterator[Apps]:
    with apps(root, Settings(max_response_bytes=20_000, max_column_bytes=6_000)) as both:
        yield both


def test_routes_answer_413_with_the_error_shape(small: Apps) -> None:
    all_keys = json.dumps({"keys": list(range(-600, 900, 5))}).encode()
    assert error(small.both("POST", "/v1/datasets/t/lookup", all_keys)) == (413, "response_too_large")
    npz = json.dumps({"keys": list(range(-600, 900, 5)) * 20, "format": "npz"}).encode()
    assert error(small.both("POST", "/v1/datasets/t/lookup", npz)) == (413, "response_too_large")
    assert error(small.both("GET", "/v1/datasets/t/scan?limit=300")) == (413, "response_too_large")
    assert error(small.both("GET", "/v1/datasets/s/scan?limit=120")) == (413, "response_too_large")
    assert error(small.both("GET", "/v1/datasets/t/columns/string")) == (413, "slice_too_large")
    assert error(small.both("GET", "/v1/datasets/t/columns/float64?format=json")) == (413, "slice_too_large")
    few = small.both("POST", "/v1/datasets/t/lookup", b'{"keys": [-600, -595, 1], "columns": ["int8", "string"]}')
    assert few.status == 200 and len(json.loads(few.body)["rows"]) == 3
    assert small.both("GET", "/v1/datasets/t/scan?limit=5").status == 200
    assert small.both("GET", "/v1/datasets/t/columns/float64?format=json&limit=100").status == 200
    assert small.both("GET", "/v1/datasets/t/columns/string?limit=20").status == 200


def test_the_response_limit_is_a_flag_and_the_fast_path_can_be_turned_off(tmp_path: Path) -> None:
    rodata.write(tmp_path, "d", {"id": np.arange(500), "x": np.arange(500) * 0.5}, key="id")
    srv = Server(tmp_path, tmp_path / "server.log", "--max-response-bytes", "2000", "--no-fast-path")
    try:
        srv.wait_ready()
        assert [line["fast_path"] for line in srv.logs() if line.get("event") == "listening"] == [False]
        got = srv.get("/v1/datasets/d/scan?limit=100")  # 100 rows of up to 56 bytes
        assert (got.status, got.error_code) == (413, "response_too_large")
        assert srv.get("/v1/datasets/d/scan?limit=20").status == 200
        got = srv.post("/v1/datasets/d/lookup", {"keys": list(range(100))})
        assert (got.status, got.error_code) == (413, "response_too_large")
    finally:
        assert srv.stop() == 0
