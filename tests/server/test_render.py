"""``rodata.server.render``: the answers' bytes as functions of a dataset (no HTTP involved)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

import rodata
from rodata.errors import KeyTypeError, SchemaError, UnknownColumnError
from rodata.server import render


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> rodata.Dataset:
    root = tmp_path_factory.mktemp("render")
    n = 50
    rodata.write(root, "t", {
        "id": np.arange(n, dtype=np.int64) * 2,
        "s": [None if i % 7 == 0 else f"s{i}" for i in range(n)],
        "x": np.array([None if i % 5 == 0 else i / 4 for i in range(n)], dtype=object),
        "ts": np.arange(n).astype("datetime64[s]"),
        "d": np.arange(n).astype("datetime64[D]"),
        "v": np.arange(n * 2, dtype=np.float32).reshape(n, 2),
        "b": [bytes([i]) for i in range(n)],
    }, key="id", rows_per_part=20)
    return rodata.open(root / "t")


def test_row_json_encodes_every_type(ds: rodata.Dataset) -> None:
    doc = json.loads(render.row_json(ds, 10) or b"")
    assert doc == {"id": 10, "s": "s5", "x": None, "ts": "1970-01-01T00:00:05Z", "d": "1970-01-06",
                   "v": [10.0, 11.0], "b": "BQ=="}
    assert render.row_json(ds, 11) is None
    assert json.loads(render.row_json(ds, 4, ["v", "id"]) or b"") == {"v": [4.0, 5.0], "id": 4}
    with pytest.raises(UnknownColumnError):
        render.row_json(ds, 4, ["nope"])


def test_lookup_json_is_aligned_and_checks_key_types(ds: rodata.Dataset) -> None:
    doc = json.loads(render.lookup_json(ds, [6, 7, 98, 0], ["x"]))
    assert doc == {"rows": [{"x": 0.75}, None, {"x": 12.25}, {"x": None}]}
    for bad in (["6"], [1.0], [True], [1 << 63]):
        with pytest.raises(KeyTypeError):
            render.lookup_json(ds, bad)


def test_lookup_npz_holds_found_values_and_validity(ds: rodata.Dataset) -> None:
    arrays = np.load(io.BytesIO(b"".join(render.lookup_npz(ds, [10, 3, 40])[0])))
    assert arrays["found"].tolist() == [True, False, True]
    assert arrays["values/v"].tolist() == [[10.0, 11.0], [0.0, 0.0], [40.0, 41.0]]
    assert arrays["valid/x"].tolist() == [False, False, False]
    assert arrays["values/ts"].dtype == np.dtype("M8[ns]")
    assert "values/s" not in arrays.files  # strings are not in binary answers
    with pytest.raises(SchemaError):
        render.lookup_npz(ds, [1], ["s"])


def test_scan_pages_chain_through_parts(ds: rodata.Dataset) -> None:
    seen: list[int] = []
    after = None
    while True:
        doc = json.loads(render.scan_page(ds, limit=7, columns=["s"], after=after))
        assert all(set(r) == {"s"} for r in doc["rows"])  # the key column is not added to the rows
        seen.extend(range(len(seen), len(seen) + len(doc["rows"])))
        after = doc["next"]
        if after is None:
            break
        assert after == (len(seen) - 1) * 2
    assert len(seen) == len(ds)
    doc = json.loads(render.scan_page(ds, limit=100, start=10, end=20))
    assert [r["id"] for r in doc["rows"]] == [10, 12, 14, 16, 18] and doc["next"] is None


def test_column_slices(ds: rodata.Dataset) -> None:
    raw = render.column_slice(ds, "v", 18, 4)
    assert raw.media_type == "application/octet-stream"
    assert raw.headers["x-rodata-dtype"] == "<f4" and raw.headers["x-rodata-shape"] == "4,2"
    body = b"".join(bytes(c) for c in raw.chunks)
    assert raw.nbytes == len(body) == 32
    assert np.frombuffer(body, "<f4").reshape(4, 2).tolist() == ds.column("v", 18, 4).tolist()
    npy = render.column_slice(ds, "ts", 0, 3, "npy")
    assert np.load(io.BytesIO(b"".join(bytes(c) for c in npy.chunks))).tolist() == ds.column("ts", 0, 3).tolist()
    js = render.column_slice(ds, "x", 0, 6, "json")
    assert json.loads(js.chunks[0]) == [None, 0.25, 0.5, 0.75, 1.0, None]
    strings = render.column_slice(ds, "s", 0, 3)
    assert strings.media_type == "application/json" and json.loads(strings.chunks[0]) == [None, "s1", "s2"]
    assert render.column_slice(ds, "id", 48, 100).headers["x-rodata-rows"] == "2"
    with pytest.raises(IndexError):
        render.column_slice(ds, "id", 51)


def test_a_single_part_slice_is_a_view_of_the_mapping(tmp_path: Path) -> None:
    rodata.write(tmp_path, "one", {"id": np.arange(1000), "f": np.arange(1000) / 3}, key="id")
    with rodata.open(tmp_path / "one") as one:
        piece = render.column_slice(one, "f", 10, 100)
        view = piece.chunks[0]
        assert isinstance(view, memoryview) and view.readonly
        assert np.shares_memory(np.frombuffer(view, dtype=np.uint8), one.column("f").view(np.uint8))


def test_describe(ds: rodata.Dataset) -> None:
    doc = render.describe(ds, detail=True)
    assert doc["rows"] == 50 and doc["key"] == "id" and len(doc["parts"]) == 3
    assert doc["parts"][0]["min_key"] == 0 and doc["bytes"] == ds.nbytes
    assert render.describe(ds) == ds.describe()
