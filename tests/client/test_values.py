"""``rodata.Client`` against a real ``rodata serve``, the library as the oracle: every type (with
and without nulls, extreme values), misses, projections, both key types, both lookup paths, scans
across pages and column slices."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import rodata
from rodata.client.core import Op
from rodata.client.wire import Request, Response
from tests.client.conftest import Served
from tests.client.oracle import assert_same_batch, assert_same_row, assert_same_value


def _all_keys(ds: rodata.Dataset) -> list[Any]:
    keys = [k for b in ds.scan(columns=[ds.key]) for k in b.to_pylist()]
    return [row[ds.key] for row in keys if row is not None]


@pytest.mark.parametrize("dataset", ["every", "words"])
def test_get_every_row_as_the_library_reads_it(served: Served, client: rodata.Client, dataset: str) -> None:
    ds = getattr(served, dataset)
    for key in _all_keys(ds):
        assert_same_row(client.get(dataset, key), ds.get(key), f"{dataset} {key!r}")


def test_non_finite_floats_and_vector_elements_are_exact(served: Served, client: rodata.Client) -> None:
    # JSON writes NaN and infinities as null: the client must still give the stored numbers.
    ds = served.every
    seen = {"nan": 0, "inf": 0, "null": 0}
    for key in _all_keys(ds):
        want = ds.get(key, ["float32", "float64?", "vector"])
        assert want is not None
        for name, value in want.items():
            if value is None:
                seen["null"] += 1
            elif (name == "vector" and not np.isfinite(value).all()) or (name != "vector" and not np.isfinite(value)):
                seen["nan" if np.isnan(value).any() else "inf"] += 1
        assert_same_row(client.get("every", key, ["float32", "float64?", "vector"]), want, repr(key))
    assert all(seen.values()), seen  # the table really holds each case


@pytest.mark.parametrize("dataset", ["every", "words"])
def test_get_misses_and_projections(served: Served, client: rodata.Client, dataset: str) -> None:
    ds = getattr(served, dataset)
    miss = "no such key" if dataset == "words" else 10**12
    assert client.get(dataset, miss) is None
    key = _all_keys(ds)[7]
    for columns in (["string", "id"], ["vector?", "timestamp", "bytes?"], ["date"], [], ("uint64", "float32?")):
        assert_same_row(client.get(dataset, key, columns), ds.get(key, columns), f"{columns}")
        assert client.get(dataset, miss, columns) is None


@pytest.mark.parametrize("dataset", ["every", "words"])
@pytest.mark.parametrize("columns", [None, ["int8", "timestamp?", "vector", "float64"], ["string?", "bytes"],
                                     ["bytes?", "id", "date?", "float32?"], []])
def test_get_many_as_the_library(served: Served, client: rodata.Client, dataset: str,
                                 columns: list[str] | None) -> None:
    ds = getattr(served, dataset)
    keys = _all_keys(ds)
    rng = np.random.default_rng(5)
    misses = ["zz", "", "k"] if dataset == "words" else [10**12, -(2**63), 2**63 - 1]
    asked = [keys[i] for i in rng.integers(0, len(keys), 300)] + misses + keys[:3]  # repeats and misses
    rng.shuffle(asked)
    if dataset == "every":
        asked = np.array(asked, dtype=np.int64)
    got = client.get_many(dataset, asked, columns)
    want = ds.get_many(asked, columns)
    assert len(got) == len(asked) and 0 < int(got.found.sum()) < len(asked)
    assert_same_batch(got, want, f"{dataset} {columns}")


def test_get_many_takes_any_sequence_of_int_keys(served: Served, client: rodata.Client) -> None:
    keys = _all_keys(served.every)[:50]
    want = served.every.get_many(keys, ["int32", "string"])
    for form in (keys, tuple(keys), np.array(keys, dtype=np.int32), np.array(keys, dtype=">i8")):
        assert_same_batch(client.get_many("every", form, ["int32", "string"]), want, type(form).__name__)


def test_get_many_refuses_keys_of_the_wrong_type_as_the_library(client: rodata.Client) -> None:
    with pytest.raises(rodata.KeyTypeError):
        client.get_many("every", [1, "a"])
    with pytest.raises(rodata.KeyTypeError):
        client.get_many("every", np.array([1.5]))
    with pytest.raises(rodata.KeyTypeError):
        client.get_many("words", ["a", 2])


def _recorded(client: rodata.Client, op: Op[Any]) -> tuple[Any, list[Request]]:
    """Drive one call of the client's core, sending each request through the client, and keep them."""
    sent: list[Request] = []
    reply: Response | None = None
    try:
        while True:
            request = op.send(reply)  # type: ignore[arg-type]
            sent.append(request)
            reply = client._send(request)
    except StopIteration as stop:
        return stop.value, sent


def test_int_keys_travel_as_binary_and_fixed_width_columns_as_npz(served: Served, client: rodata.Client) -> None:
    keys = np.array([*_all_keys(served.every)[:20], 10 ** 12], dtype=np.int64)
    client.describe("every")  # the schema is known: only lookups are sent
    batch, sent = _recorded(client, client._core.get_many("every", keys, ["int8", "timestamp"]))
    assert [r.method for r in sent] == ["POST"]
    assert sent[0].content_type == "application/octet-stream" and sent[0].body == keys.astype("<i8").tobytes()
    assert "format=npz" in sent[0].target and "columns=int8,timestamp" in sent[0].target
    assert_same_batch(batch, served.every.get_many(keys, ["int8", "timestamp"]), "npz")
    # strings and bytes come as JSON (still binary keys), the fixed-width ones as npz
    batch, sent = _recorded(client, client._core.get_many("every", keys, ["int8", "string?"]))
    assert [("format=npz" in r.target, "format=json" in r.target) for r in sent] == [(True, False), (False, True)]
    assert all(r.body == keys.astype("<i8").tobytes() for r in sent)
    assert_same_batch(batch, served.every.get_many(keys, ["int8", "string?"]), "npz+json")


def test_string_keys_travel_as_json(served: Served, client: rodata.Client) -> None:
    keys = [*_all_keys(served.words)[:5], "missing"]
    client.describe("words")
    batch, sent = _recorded(client, client._core.get_many("words", keys, ["float32", "string"]))
    assert {r.content_type for r in sent} == {"application/json"}
    assert_same_batch(batch, served.words.get_many(keys, ["float32", "string"]), "json keys")


@pytest.mark.parametrize("dataset", ["every", "words"])
@pytest.mark.parametrize(("page", "columns"), [(37, None), (1000, ["vector?", "string", "uint64?"]), (64, [])])
def test_scan_across_pages_equals_the_library(served: Served, client: rodata.Client, dataset: str, page: int,
                                               columns: list[str] | None) -> None:
    ds = getattr(served, dataset)
    got = list(client.scan(dataset, columns=columns, page=page))
    assert [len(b) for b in got[:-1]] == [page] * (len(got) - 1) and 0 < len(got[-1]) <= page
    want = list(ds.scan(columns=columns))
    got_rows = [r for b in got for r in b.to_pylist()]
    want_rows = [r for b in want for r in b.to_pylist()]
    assert len(got_rows) == len(want_rows) == len(ds)
    for i, (g, w) in enumerate(zip(got_rows, want_rows, strict=True)):
        assert_same_row(g, w, f"row {i}")
    for name in want[0].names:  # the columns too, page after page, as arrays
        joined = [v for b in got for v in (list(b[name]) if isinstance(b[name], list) else [b[name]])]
        if isinstance(want[0][name], list):
            assert joined == [v for b in want for v in b[name]], name
        else:
            assert_same_value(np.concatenate(joined), np.concatenate([b[name] for b in want]), name)
            assert_same_value(np.concatenate([b.valid(name) for b in got]),
                              np.concatenate([b.valid(name) for b in want]), f"valid {name}")


def test_scan_ranges_and_prefixes(served: Served, client: rodata.Client) -> None:
    every, words = served.every, served.words
    for start, end in ((None, 0), (-100, 100), (0, None), (10**9, None)):
        got = [r for b in client.scan("every", start=start, end=end, page=25) for r in b.to_pylist()]
        want = [r for b in every.scan(start=start, end=end) for r in b.to_pylist()]
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same_row(g, w, f"{start}..{end}")
    for prefix in ("k+00", "k-", "k+0001", "nothing"):
        got = [r for b in client.scan("words", prefix=prefix, page=10, columns=["id", "string"]) for r in b]
        want = [r for b in words.scan(prefix=prefix, columns=["id", "string"]) for r in b]
        assert got == want, prefix
    assert list(client.scan("every", start=10**9)) == []


@pytest.mark.parametrize("dataset", ["every", "words"])
def test_column_slices_equal_the_library_arrays(served: Served, client: rodata.Client, dataset: str) -> None:
    ds = getattr(served, dataset)
    for name in ds.schema.names:
        for offset, limit in ((0, None), (140, 20), (len(ds) - 3, 100), (5, 0)):
            want = ds.column(name, offset, limit)
            assert_same_value(client.column(dataset, name, offset, limit), want, f"{name}[{offset}:{limit}]")


def test_batches_convert_like_the_library(served: Served, client: rodata.Client) -> None:
    keys = np.array([*_all_keys(served.every)[:40], 10 ** 12], dtype=np.int64)
    got, want = client.get_many("every", keys), served.every.get_many(keys)
    assert got.to_pandas().equals(want.to_pandas())
    assert got.to_arrow().equals(want.to_arrow())
    assert list(got) == got.to_pylist()
    with pytest.raises(rodata.UnknownColumnError):
        client.get_many("every", keys, ["int8"])["int16"]


def test_datasets_and_describe(served: Served, client: rodata.Client) -> None:
    listed = {d["name"]: d for d in client.datasets()}
    assert set(listed) == {"every", "words"}
    assert listed["every"]["columns"] == served.every.schema.to_json()
    assert listed["words"]["version"] == served.words.version
    assert client.describe("every")["rows"] == len(served.every)
