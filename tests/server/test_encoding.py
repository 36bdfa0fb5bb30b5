"""One encoding of every value on every route: rows, lookups, scans and column slices give each cell
the same text, which is the one encoder's text of the library's value; the fast path answers byte
for byte as the FastAPI routes do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest

import rodata
from rodata.encode import dumps, value_json
from tests.server.asgikit import Apps, apps
from tests.server.gentables import opened_tables, write_tables

#: The generated datasets: (name, rows, seed, string key, nulls, rows per part).
DATASETS = [("ints", 240, 11, False, True, 90), ("strs", 150, 12, True, True, 64), ("plain", 40, 13, False, False, 0)]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tables(tmp_path_factory.mktemp("encoding"), DATASETS)


@pytest.fixture(scope="module")
def pair(root: Path) -> Iterator[Apps]:
    with apps(root) as both:
        yield both


@pytest.fixture(scope="module")
def library(root: Path) -> Iterator[dict[str, rodata.Dataset]]:
    with opened_tables(root, DATASETS) as opened:
        yield opened


# -- the expected bodies, cell by cell, from the library and the one encoder -------------------------


def row_text(ds: rodata.Dataset, row: dict[str, Any] | None) -> bytes:
    if row is None:
        return b"null"
    return b"{" + b",".join(dumps(name) + b":" + value_json(ds.schema[name], v) for name, v in row.items()) + b"}"


def keys_of(ds: rodata.Dataset) -> list[Any]:
    keys = ds.column(ds.key)
    return keys if isinstance(keys, list) else keys.tolist()


def key_path(key: Any) -> str:
    return quote(str(key), safe="")


# -- regressions: the same value reads the same on every route ---------------------------------------


def test_float32_is_written_as_its_shortest_text_on_every_route(tmp_path: Path) -> None:
    rodata.write(tmp_path, "f", {"id": np.arange(3), "f": np.full(3, 0.1469, dtype=np.float32),
                                 "g": [0.1469, None, 0.1469], "v": np.full((3, 2), 0.1469, dtype=np.float32)},
                 key="id", schema={"g": "float32"})
    with apps(tmp_path) as both:
        row = both.both("GET", "/v1/datasets/f/rows/0").body
        assert row == b'{"id":0,"f":0.1469,"g":0.1469,"v":[0.1469,0.1469]}'
        lookup = both.both("POST", "/v1/datasets/f/lookup", b'{"keys":[1]}').body
        assert lookup == b'{"rows":[{"id":1,"f":0.1469,"g":null,"v":[0.1469,0.1469]}]}'
        scan = both.both("GET", "/v1/datasets/f/scan?limit=1&columns=f,g").body
        assert scan == b'{"rows":[{"f":0.1469,"g":0.1469}],"next":0}'
        assert both.both("GET", "/v1/datasets/f/columns/f?format=json").body == b"[0.1469,0.1469,0.1469]"
        assert both.both("GET", "/v1/datasets/f/columns/g?format=json").body == b"[0.1469,null,0.1469]"


def test_timestamps_and_dates_read_alike_on_every_route(tmp_path: Path) -> None:
    days = np.array(["0001-01-01", "1500-06-30", "1677-09-20", "2262-04-12", "9999-12-31"], dtype="M8[D]")
    stamps = np.array([-(2**63) + 1, -1, 0, 1_500, 2**63 - 1], dtype=np.int64).view("M8[ns]")
    rodata.write(tmp_path, "t", {"id": np.arange(5), "d": days, "ts": stamps,
                                 "dn": [None, *days[1:].tolist()], "tn": [None, *stamps[1:]]},
                 key="id", schema={"dn": "date", "tn": "timestamp"})
    with apps(tmp_path) as both:
        rows = [json.loads(both.both("GET", f"/v1/datasets/t/rows/{i}").body) for i in range(5)]
        assert rows[0]["d"] == "0001-01-01" and rows[4]["d"] == "9999-12-31" and rows[0]["dn"] is None
        assert rows[1]["ts"] == "1969-12-31T23:59:59.999999Z" and rows[2]["ts"] == "1970-01-01T00:00:00Z"
        for name in ("d", "ts", "dn", "tn"):
            got = both.both("GET", f"/v1/datasets/t/columns/{name}?format=json")
            assert got.status == 200, (name, got.body)
            assert json.loads(got.body) == [row[name] for row in rows], name
        scan = json.loads(both.both("GET", "/v1/datasets/t/scan").body)["rows"]
        lookup = json.loads(both.both("POST", "/v1/datasets/t/lookup", b'{"keys":[0,1,2,3,4]}').body)["rows"]
        assert scan == lookup == rows


# -- the differential suite -------------------------------------------------------------------------


@pytest.mark.parametrize("name", [d[0] for d in DATASETS])
def test_rows_are_the_encoders_text_of_the_librarys_values(pair: Apps, library: dict[str, rodata.Dataset],
                                                           name: str) -> None:
    ds = library[name]
    rng = np.random.default_rng(len(name))
    for key in keys_of(ds):
        got = pair.both("GET", f"/v1/datasets/{name}/rows/{key_path(key)}")
        assert (got.status, got.body) == (200, row_text(ds, ds.get(key))), key
    names = list(ds.schema.names)
    for key in keys_of(ds)[::17]:
        cols = [names[i] for i in rng.permutation(len(names))[: rng.integers(1, len(names))]]
        got = pair.both("GET", f"/v1/datasets/{name}/rows/{key_path(key)}?columns={quote(','.join(cols))}")
        assert got.body == row_text(ds, ds.get(key, cols)), (key, cols)


@pytest.mark.parametrize("name", [d[0] for d in DATASETS])
def test_lookups_are_the_encoders_text_of_the_librarys_values(pair: Apps, library: dict[str, rodata.Dataset],
                                                              name: str) -> None:
    ds = library[name]
    keys = keys_of(ds)
    missing: list[Any] = ["nope", "k"] if ds.schema.key_column.type == "string" else [1, 2, -(2**63)]
    asked = [*keys[::-1], *missing, *keys[:7]]
    got = pair.both("POST", f"/v1/datasets/{name}/lookup", json.dumps({"keys": asked}).encode())
    expected = b'{"rows":[' + b",".join(row_text(ds, ds.get(k)) for k in asked) + b"]}"
    assert (got.status, got.body) == (200, expected)


@pytest.mark.parametrize("name", [d[0] for d in DATASETS])
def test_scan_pages_are_the_encoders_text_of_the_librarys_values(pair: Apps, library: dict[str, rodata.Dataset],
                                                                 name: str) -> None:
    ds = library[name]
    keys = sorted(keys_of(ds), key=lambda k: k.encode() if isinstance(k, str) else k)
    key_column = ds.schema.key_column
    seen = 0
    after = ""
    while True:
        got = pair.both("GET", f"/v1/datasets/{name}/scan?limit=13{after}")
        page = keys[seen : seen + 13]
        more = seen + 13 < len(keys)
        cursor = value_json(key_column, page[-1]) if more else b"null"
        expected = b'{"rows":[' + b",".join(row_text(ds, ds.get(k)) for k in page) + b'],"next":' + cursor + b"}"
        assert (got.status, got.body) == (200, expected), seen
        seen += len(page)
        if not more:
            break
        after = f"&after={key_path(page[-1])}"
    assert seen == len(keys)


@pytest.mark.parametrize("name", [d[0] for d in DATASETS])
def test_column_slices_are_the_encoders_text_of_the_librarys_values(pair: Apps, library: dict[str, rodata.Dataset],
                                                                    name: str) -> None:
    ds = library[name]
    keys = keys_of(ds)  # in row order
    rows = [ds.get(k) for k in keys]
    for column in ds.schema.columns:
        for offset, limit in ((0, len(ds)), (len(ds) // 3, 71), (len(ds) - 1, 5)):
            got = pair.both("GET", f"/v1/datasets/{name}/columns/{quote(column.name)}?format=json"
                                   f"&offset={offset}&limit={limit}")
            cells = [value_json(column, row[column.name]) for row in rows[offset : offset + limit]]
            assert (got.status, got.body) == (200, b"[" + b",".join(cells) + b"]"), (column.name, offset)
