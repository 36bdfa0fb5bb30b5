"""Arrow answers (``format=arrow``, ``Accept: application/vnd.apache.arrow.stream``): lookups, scan
pages and column slices read back with pyarrow equal the library's values cell by cell, for every
column type, nulls, misses, projections and several parts; the compiled protocol answers them
byte for byte as FastAPI does; buffers of the mapping are sent without a copy."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np
import pyarrow as pa
import pytest

import rodata
from rodata.schema import Column
from rodata.server import arrow, render
from rodata.server.settings import Settings
from rodata.sizes import AnswerTooLarge
from tests.server.asgikit import Answer, Apps, apps
from tests.server.gentables import opened_tables, write_tables
from tests.server.httpkit import Server

ARROW = "application/vnd.apache.arrow.stream"
#: The generated datasets: (name, rows, seed, string key, nulls, rows per part).
DATASETS = [("ints", 240, 31, False, True, 90), ("strs", 150, 32, True, True, 64), ("plain", 40, 33, False, False, 0)]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tables(tmp_path_factory.mktemp("arrow"), DATASETS)


@pytest.fixture(scope="module")
def pair(root: Path) -> Iterator[Apps]:
    with apps(root) as both:
        yield both


@pytest.fixture(scope="module")
def library(root: Path) -> Iterator[dict[str, rodata.Dataset]]:
    with opened_tables(root, DATASETS) as opened:
        yield opened


# -- reading answers back, and the library's values to compare them with ------------------------------


def read(body: bytes) -> pa.Table:
    return pa.ipc.open_stream(body).read_all()


def arrow_answer(got: Answer) -> pa.Table:
    assert got.status == 200, got.body[:300]
    assert got.header("content-type") == ARROW
    assert int(got.header("content-length") or -1) == len(got.body)
    return read(got.body)


def assert_cells(column: Column, got: pa.ChunkedArray | pa.Array, values: Any, valid: np.ndarray[Any, Any],
                 what: Any) -> None:
    """Arrow values equal the library's cell by cell: `values` (a numpy array, 0 where null, or a
    list with None) where `valid`, and Arrow nulls exactly where not."""
    array = got.combine_chunks() if isinstance(got, pa.ChunkedArray) else got
    assert len(array) == len(valid), what
    assert np.array_equal(array.is_valid().to_numpy(zero_copy_only=False), valid), what
    if not column.fixed_width:
        assert array.to_pylist() == [v if ok else None for v, ok in zip(values, valid, strict=True)], what
        return
    expected = np.asarray(values)
    if column.type == "vector":
        flat = array.values.to_numpy(zero_copy_only=False).reshape(len(array), column.dim)
        assert np.array_equal(flat[valid].view(np.uint32), expected[valid].view(np.uint32)), what
        return
    if column.type in ("timestamp", "date"):
        ints = array.cast(pa.int64() if column.type == "timestamp" else pa.int32()).fill_null(0)
        mine = ints.to_numpy(zero_copy_only=False).astype(np.int64)
        assert np.array_equal(mine[valid], expected.view(np.int64)[valid]), what
        return
    mine = array.fill_null(False if column.type == "bool" else 0).to_numpy(zero_copy_only=False)
    if column.type in ("float32", "float64"):  # bit for bit: NaN, -0.0 and the infinities too
        width = np.uint32 if column.type == "float32" else np.uint64
        assert np.array_equal(mine[valid].view(width), expected[valid].view(width)), what
    else:
        assert np.array_equal(mine[valid], expected[valid]), what


def library_slice(ds: rodata.Dataset, name: str, offset: int, rows: int) -> tuple[Any, np.ndarray[Any, Any]]:
    values = ds.column(name, offset, rows)
    if not ds.schema[name].fixed_width:
        return values, np.array([v is not None for v in values], dtype=bool)
    valid = ds.validity(name)
    return values, np.ones(len(values), dtype=bool) if valid is None else valid[offset: offset + rows]


def binary_headers(raw: bytes, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    """The headers of a lookup with binary keys (`raw`)."""
    return [(b"host", b"test"), (b"content-type", b"application/octet-stream"),
            (b"content-length", b"%d" % len(raw)), *extra]


def both_binary(pair: Apps, path: str, raw: bytes) -> Answer:
    """A lookup with binary keys, answered alike by the compiled protocol and by FastAPI."""
    fast = pair.call(pair.fast, "POST", path, raw, headers=binary_headers(raw))
    slow = pair.call(pair.slow, "POST", path, raw, headers=binary_headers(raw))
    assert fast.key() == slow.key(), path
    return fast


def keys_of(ds: rodata.Dataset) -> list[Any]:
    keys = ds.column(ds.key)
    return keys if isinstance(keys, list) else keys.tolist()


def misses(ds: rodata.Dataset) -> list[Any]:
    return ["nope", ""] if ds.schema.key_column.type == "string" else [1, -(2**63), 2**63 - 1]


# -- types and layout -----------------------------------------------------------------------------


def test_every_column_type_has_its_arrow_type(pair: Apps, library: dict[str, rodata.Dataset]) -> None:
    got = arrow_answer(pair.both("GET", "/v1/datasets/ints/scan?format=arrow&limit=5"))
    types = {field.name: field.type for field in got.schema}
    assert types["string"] == types["string?"] == pa.large_string()
    assert types["bytes"] == pa.large_binary()
    assert types["timestamp"] == pa.timestamp("ns", tz="UTC")
    assert types["date?"] == pa.date32()
    assert types["vector"] == pa.list_(pa.float32(), 3)
    assert types["bool?"] == pa.bool_()
    for name in ("int8", "uint64", "float32", "float64"):
        assert types[name] == pa.from_numpy_dtype(np.dtype(name)), name
    ds = library["ints"]
    assert [f.name for f in got.schema] == list(ds.schema.names)
    assert [f.nullable for f in got.schema] == [c.nullable for c in ds.schema.columns]


# -- column slices ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [d[0] for d in DATASETS])
def test_column_slices_equal_the_librarys_columns(pair: Apps, library: dict[str, rodata.Dataset], name: str) -> None:
    ds = library[name]
    n = len(ds)
    windows = [(0, None), (3, 77), (n - 5, None), (n, None), (8, 0)]
    if n > 100:
        windows += [(85, 100), (89, 2), (64, 64)]  # across parts, at part edges, a byte-aligned start
    for column in ds.schema.columns:
        for offset, limit in windows:
            query = f"format=arrow&offset={offset}" + ("" if limit is None else f"&limit={limit}")
            got = pair.both("GET", f"/v1/datasets/{name}/columns/{quote(column.name)}?{query}")
            rows = n - offset if limit is None else min(limit, n - offset)
            table_ = arrow_answer(got)
            assert table_.column_names == [column.name]
            assert (got.header("x-rodata-rows"), got.header("x-rodata-offset")) == (str(rows), str(offset))
            assert got.header("x-rodata-total-rows") == str(n) and got.header("x-rodata-version") == ds.version
            values, valid = library_slice(ds, column.name, offset, rows)
            assert_cells(column, table_.column(0), values, valid, (column.name, offset, limit))


def test_a_column_slice_is_one_record_batch_per_part(pair: Apps) -> None:
    got = pair.both("GET", "/v1/datasets/ints/columns/int64?format=arrow&offset=80&limit=120")
    batches = pa.ipc.open_stream(got.body).read_all().to_batches()
    assert [b.num_rows for b in batches] == [10, 90, 20]  # parts of 90 rows


# -- lookups ------------------------------------------------------------------------------------


def assert_lookup(ds: rodata.Dataset, got: pa.Table, keys: list[Any], columns: list[str] | None) -> None:
    batch = ds.get_many(keys, columns)
    names = list(ds.schema.names) if columns is None else list(dict.fromkeys(columns))
    assert got.column_names == ["found", *names]
    assert got.schema.field("found").type == pa.bool_() and not got.schema.field("found").nullable
    assert got.column("found").to_pylist() == batch.found.tolist()
    for name in names:
        assert_cells(ds.schema[name], got.column(name), batch[name], batch.valid(name), (name, keys[:3]))


@pytest.mark.parametrize("name", [d[0] for d in DATASETS])
def test_lookups_equal_get_many_with_misses_repeats_and_projections(
        pair: Apps, library: dict[str, rodata.Dataset], name: str) -> None:
    ds = library[name]
    keys = keys_of(ds)
    asked = [*keys[::-3], *misses(ds), *keys[:5], keys[0]]
    target = f"/v1/datasets/{name}/lookup"
    for columns in (None, ["string?", "id"], ["vector?", "vector?", "date?"], ["bool", "timestamp?", "bytes?"]):
        if name == "plain" and columns is not None:
            columns = [c.rstrip("?") for c in columns]
        body: dict[str, Any] = {"keys": asked, "format": "arrow"}
        if columns is not None:
            body["columns"] = columns
        got = arrow_answer(pair.both("POST", target, json.dumps(body).encode()))
        assert_lookup(ds, got, asked, columns)
    empty = arrow_answer(pair.both("POST", target, b'{"keys": [], "format": "arrow"}'))
    assert empty.num_rows == 0 and empty.column_names == ["found", *ds.schema.names]


def test_binary_keys_answer_arrow_as_json_keys_do(pair: Apps, library: dict[str, rodata.Dataset]) -> None:
    ds = library["ints"]
    keys = [*keys_of(ds)[::7], 5, 7]
    raw = np.array(keys, dtype="<i8").tobytes()
    binary = both_binary(pair, "/v1/datasets/ints/lookup?format=arrow&columns=float64%3F,string", raw)
    as_json = pair.both("POST", "/v1/datasets/ints/lookup",
                        json.dumps({"keys": keys, "format": "arrow", "columns": ["float64?", "string"]}).encode())
    assert binary.body == as_json.body
    assert_lookup(ds, arrow_answer(binary), keys, ["float64?", "string"])


# -- scans ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [d[0] for d in DATASETS])
@pytest.mark.parametrize("columns", [None, "string?,id,vector"])
def test_scan_pages_follow_rodata_next_as_json_pages_follow_next(
        pair: Apps, library: dict[str, rodata.Dataset], name: str, columns: str | None) -> None:
    ds = library[name]
    if columns is not None and name == "plain":
        columns = "string,id,vector"
    project = "" if columns is None else f"&columns={quote(columns)}"
    tables, after = [], ""
    for _ in range(20):
        got = pair.both("GET", f"/v1/datasets/{name}/scan?format=arrow&limit=37{project}{after}")
        page = json.loads(pair.both("GET", f"/v1/datasets/{name}/scan?limit=37{project}{after}").body)
        tables.append(arrow_answer(got))
        cursor = got.header("rodata-next")
        assert tables[-1].num_rows == len(page["rows"])
        if page["next"] is None:
            assert cursor is None
            break
        assert cursor is not None and unquote(cursor) == str(page["next"])
        after = f"&after={cursor}"
    else:
        raise AssertionError("the scan did not end")
    everything = pa.concat_tables(tables)
    names = None if columns is None else columns.split(",")
    batches = list(ds.scan(columns=names))
    assert everything.num_rows == len(ds)
    for column_name in everything.column_names:
        column = ds.schema[column_name]
        if column.fixed_width:
            values: Any = np.concatenate([b[column_name] for b in batches])
        else:
            values = [v for b in batches for v in b[column_name]]
        valid = np.concatenate([b.valid(column_name) for b in batches])
        assert_cells(column, everything.column(column_name), values, valid, column_name)


def test_scan_ranges_and_prefixes(pair: Apps, library: dict[str, rodata.Dataset]) -> None:
    ds = library["strs"]
    keys = sorted(keys_of(ds), key=lambda k: k.encode())
    start, end = keys[10], keys[100]
    query = f"start={quote(start)}&end={quote(end)}&columns=id"
    got = arrow_answer(pair.both("GET", f"/v1/datasets/strs/scan?format=arrow&{query}"))
    assert got.column("id").to_pylist() == keys[10:100]
    prefix = keys[0][:3]
    got = arrow_answer(pair.both("GET", f"/v1/datasets/strs/scan?format=arrow&prefix={quote(prefix)}&columns=id"))
    assert got.column("id").to_pylist() == [k for k in keys if k.startswith(prefix)]
    nothing = pair.both("GET", "/v1/datasets/ints/scan?format=arrow&start=5&end=5")
    assert arrow_answer(nothing).num_rows == 0 and nothing.header("rodata-next") is None


# -- negotiation ----------------------------------------------------------------------------------


def test_accept_asks_for_arrow_and_an_explicit_format_wins(pair: Apps) -> None:
    arrow_only = [(b"accept", ARROW.encode())]
    reference = pair.both("GET", "/v1/datasets/ints/scan?format=arrow&limit=9")
    negotiated = pair.both("GET", "/v1/datasets/ints/scan?limit=9", extra=arrow_only)
    assert negotiated.key() == reference.key()  # the same bytes, headers and ETag
    json_page = pair.both("GET", "/v1/datasets/ints/scan?limit=9&format=json", extra=arrow_only)
    assert json_page.header("content-type") == "application/json"
    assert json_page.header("etag") != reference.header("etag")
    # The hot routes: the compiled protocol reads Accept as the application does.
    for path, explicit in (("/v1/datasets/ints/columns/float64?limit=9", "format=raw"),
                           ("/v1/datasets/ints/columns/string?limit=9", "format=json")):
        got = pair.both("GET", path, extra=arrow_only)
        assert got.key() == pair.both("GET", path + "&format=arrow").key()
        other = pair.both("GET", f"{path}&{explicit}", extra=arrow_only)
        assert other.header("content-type") != ARROW and other.status == 200
    body = json.dumps({"keys": [1, 2, 3, 6]}).encode()
    asked = pair.both("POST", "/v1/datasets/ints/lookup", body, extra=arrow_only)
    plain = pair.both("POST", "/v1/datasets/ints/lookup",
                      json.dumps({"keys": [1, 2, 3, 6], "format": "arrow"}).encode())
    assert asked.key() == plain.key() and asked.header("content-type") == ARROW
    explicit_json = json.dumps({"keys": [1, 2, 3, 6], "format": "json"}).encode()
    kept = pair.both("POST", "/v1/datasets/ints/lookup", explicit_json, extra=arrow_only)
    assert kept.header("content-type") == "application/json"
    raw = np.array([1, 2, 3, 6], dtype="<i8").tobytes()
    binary = pair.call(pair.slow, "POST", "/v1/datasets/ints/lookup", raw,
                       headers=binary_headers(raw, *arrow_only))
    assert binary.body == plain.body


@pytest.mark.parametrize(("accept", "arrow_answered"), [
    (ARROW, True), (f"{ARROW};q=0.5", True), (f"application/json;q=0.4, {ARROW};q=0.5", True),
    (f"text/html, {ARROW};q=0.2", True), (f"application/json, {ARROW}", True), (f"{ARROW.upper()}", True),
    (f"{ARROW};q=0", False), (f"application/json, {ARROW};q=0.9", False), ("*/*", False),
    ("application/json", False), ("application/vnd.apache.arrow.file", False), ("", False),
])
def test_accept_values(pair: Apps, accept: str, arrow_answered: bool) -> None:
    got = pair.both("GET", "/v1/datasets/ints/scan?limit=3", extra=[(b"accept", accept.encode())])
    assert got.status == 200
    assert (got.header("content-type") == ARROW) == arrow_answered, accept


def test_accept_on_the_hot_routes_through_the_compiled_protocol(pair: Apps) -> None:
    got = pair.call(pair.fast, "GET", "/v1/datasets/ints/columns/float64?limit=9", extra=[(b"accept", ARROW.encode())])
    assert got.header("content-type") == ARROW


def test_bad_formats_and_etags(pair: Apps) -> None:
    for got in (pair.both("GET", "/v1/datasets/ints/scan?format=csv"),
                pair.both("GET", "/v1/datasets/ints/columns/int8?format=csv"),
                both_binary(pair, "/v1/datasets/ints/lookup?format=csv", b"")):
        assert got.status == 422 and json.loads(got.body)["error"]["code"] == "bad_parameter", got.body
    got = pair.both("POST", "/v1/datasets/ints/lookup", b'{"keys": [1], "format": "csv"}')
    assert got.status == 422 and json.loads(got.body)["error"]["code"] == "bad_request"
    column = pair.both("GET", "/v1/datasets/ints/columns/int8?format=arrow&limit=4")
    tag = column.header("etag")
    assert tag is not None and tag != pair.both("GET", "/v1/datasets/ints/columns/int8?limit=4").header("etag")
    again = pair.both("GET", "/v1/datasets/ints/columns/int8?format=arrow&limit=4", extra=[(b"if-none-match",
                                                                                              tag.encode())])
    assert (again.status, again.body) == (304, b"")
    for path in ("/v1/datasets/ints/columns/int8?format=arrow&limit=4", "/v1/datasets/ints/scan?format=arrow&limit=4"):
        got, head = pair.both("GET", path), pair.both("HEAD", path)
        assert (head.status, head.headers, head.body) == (200, got.headers, b""), path


def test_without_pyarrow_arrow_is_406_and_the_other_formats_still_answer(
        pair: Apps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # what `import pyarrow` sees where it is not installed
    assert not arrow.available()
    for method, path, body in (("GET", "/v1/datasets/ints/scan?format=arrow", b""),
                               ("GET", "/v1/datasets/strs/columns/string?format=arrow", b""),
                               ("POST", "/v1/datasets/ints/lookup", b'{"keys": [1], "format": "arrow"}')):
        got = pair.both(method, path, body)
        error = json.loads(got.body)["error"]
        assert (got.status, error["code"]) == (406, "arrow_unavailable"), path
        assert "pip install 'rodata[arrow]'" in error["message"]
    assert pair.both("GET", "/v1/datasets/ints/scan?limit=2").status == 200


# -- limits ---------------------------------------------------------------------------------------


def test_arrow_answers_are_sized_before_they_are_built(root: Path) -> None:
    with rodata.open(root / "ints") as ds:
        body = json.dumps({"keys": [*keys_of(ds)[:150], 1], "format": "arrow"}).encode()
    with apps(root) as unlimited:
        column_size = len(unlimited.both("GET", "/v1/datasets/strs/columns/string?format=arrow").body)
        scan_size = len(unlimited.both("GET", "/v1/datasets/ints/scan?format=arrow&limit=200").body)
        lookup = len(unlimited.both("POST", "/v1/datasets/ints/lookup", body).body)
    asks = [("GET", "/v1/datasets/strs/columns/string?format=arrow", b"", column_size, "slice_too_large"),
            ("GET", "/v1/datasets/ints/scan?format=arrow&limit=200", b"", scan_size, "response_too_large"),
            ("POST", "/v1/datasets/ints/lookup", body, lookup, "response_too_large")]
    for method, path, data, size, code in asks:
        # Just under the answer's size: refused (its bound is never below it) ...
        with apps(root, Settings(max_column_bytes=size - 1, max_response_bytes=size - 1)) as limited:
            got = limited.both(method, path, data)
            assert (got.status, json.loads(got.body)["error"]["code"]) == (413, code), path
        # ... and a few KiB over it: answered (the bound is near the size).
        with apps(root, Settings(max_column_bytes=size + 4096, max_response_bytes=size + 4096)) as limited:
            assert limited.both(method, path, data).status == 200, path


@pytest.mark.parametrize("name", [d[0] for d in DATASETS])
def test_the_size_bound_is_never_below_the_size(library: dict[str, rodata.Dataset], name: str) -> None:
    ds = library[name]
    n = len(ds)
    answers: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
    for column in ds.schema.columns:
        for offset, rows in ((0, n), (3, min(77, n - 3)), (n - 1, 1), (n, 0)):
            answers.append((arrow.column_arrow, (ds, column.name, offset, rows), {}))
    keys = [*keys_of(ds)[::5], *misses(ds)]
    for columns in (None, [ds.schema.columns[-1].name], [c.name for c in ds.schema.columns if not c.fixed_width]):
        answers.append((arrow.lookup_arrow, (ds, keys, columns), {}))
        batches, _ = render.scan_batches(ds, limit=n // 2 + 1, columns=columns)
        answers.append((arrow.scan_arrow, (ds, batches, arrow.scan_names(ds, columns)), {}))
    answers.append((arrow.lookup_arrow, (ds, [], None), {}))
    for build, args, _ in answers:
        size = build(*args).nbytes
        with pytest.raises(AnswerTooLarge):
            build(*args, max_bytes=size - 1)


def test_a_string_column_slice_in_arrow_is_not_bound_by_the_json_row_limit(root: Path) -> None:
    with apps(root, Settings(max_column_json_rows=10)) as limited:
        assert limited.both("GET", "/v1/datasets/strs/columns/string?format=json").status == 413
        assert arrow_answer(limited.both("GET", "/v1/datasets/strs/columns/string?format=arrow")).num_rows == 150


# -- zero copy ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rodata.Dataset]:
    """One part of 40,000 rows: buffers large enough to be sent as views."""
    root = tmp_path_factory.mktemp("wide")
    n = 40_000
    rng = np.random.default_rng(5)
    small: list[int | None] = rng.integers(-100, 100, n).tolist()
    small[7] = small[20] = None
    rodata.write(root, "w", {"id": np.arange(n, dtype=np.int64), "f": rng.random(n),
                             "ts": np.arange(n, dtype=np.int64).view("M8[ns]"),
                             "v": rng.random((n, 4), dtype=np.float32), "s": [f"s{i}" for i in range(n)],
                             "small": small}, key="id", schema={"small": "int8"})
    with rodata.open(root / "w") as ds:
        yield ds


def _address(chunk: Any) -> int:
    return int(np.frombuffer(chunk, dtype=np.uint8).ctypes.data)


def _views(stream: arrow.ArrowStream) -> list[tuple[int, int]]:
    """(address, length) of each chunk sent as a view rather than bytes."""
    return [(_address(c), c.nbytes) for c in stream.chunks if isinstance(c, memoryview)]


@pytest.mark.parametrize(("name", "offset"), [("f", 0), ("f", 1234), ("ts", 99), ("v", 3), ("s", 0), ("s", 77)])
def test_column_slices_send_the_mapped_values_without_a_copy(wide: rodata.Dataset, name: str, offset: int) -> None:
    seg = wide.single_part
    assert seg is not None
    index = wide.schema.index(name)
    rows = 20_000
    stream = arrow.column_arrow(wide, name, offset, rows)
    views = _views(stream)
    if name == "s":
        offsets, data = seg.offsets_view(index)
        start, stop = int(offsets[offset]), int(offsets[offset + rows])
        assert (_address(data) + start, stop - start) in views  # the strings' bytes, as mapped
        mapped_offsets = (_address(offsets) + 8 * offset, 8 * (rows + 1))
        assert (mapped_offsets in views) == (offset == 0)  # offsets rebased when not from row 0
    else:
        view = seg.column_view(index)
        width = view.dtype.itemsize * (view.shape[1] if view.ndim == 2 else 1)
        assert (_address(view) + offset * width, rows * width) in views
    assert arrow.ArrowStream(stream.chunks).nbytes == len(b"".join(bytes(c) for c in stream.chunks))
    got = read(b"".join(bytes(c) for c in stream.chunks))
    values, valid = library_slice(wide, name, offset, rows)
    assert_cells(wide.schema[name], got.column(0), values, valid, name)


def test_validity_bitmaps_are_the_mapped_bits_from_a_byte_aligned_row(wide: rodata.Dataset) -> None:
    seg = wide.single_part
    assert seg is not None
    index = wide.schema.index("small")
    bits = arrow._mapped_bitmap(seg, index)
    assert bits is not None
    aligned = _views(arrow.column_arrow(wide, "small", 8, 39_000))  # a null among them: the bitmap is sent
    assert (_address(bits) + 1, 39_000 // 8) in aligned
    shifted = arrow.column_arrow(wide, "small", 3, 39_000)  # bits shifted into new bytes: still right
    values, valid = library_slice(wide, "small", 3, 39_000)
    assert not valid[4]
    assert_cells(wide.schema["small"], read(b"".join(bytes(c) for c in shifted.chunks)).column(0), values, valid,
                 "small")


def test_scan_pages_send_the_mapped_values_without_a_copy(wide: rodata.Dataset) -> None:
    seg = wide.single_part
    assert seg is not None
    batches, cursor = render.scan_batches(wide, limit=10_000, start=500, columns=["f"])
    assert cursor == 10_499
    views = _views(arrow.scan_arrow(wide, batches, ["f"]))
    assert (_address(seg.column_view(wide.schema.index("f"))) + 8 * 500, 80_000) in views


# -- a real server, with the fast path on and off ---------------------------------------------------


def test_a_real_server_answers_arrow_alike_on_both_paths(server: Server, framework_server: Server) -> None:
    items = rodata.open(server.data_root / "items")
    try:
        keys = [*keys_of(items)[::41], 1, 2]
        raw = np.array(keys, dtype="<i8").tobytes()
        asks = [("GET", "/v1/datasets/items/columns/price?format=arrow&offset=1990&limit=30", None, {}),
                ("GET", "/v1/datasets/items/columns/name?format=arrow", None, {}),
                ("GET", "/v1/datasets/items/scan?format=arrow&limit=700", None, {}),
                ("GET", "/v1/datasets/items/scan?limit=700", None, {"accept": ARROW}),
                ("POST", "/v1/datasets/items/lookup?format=arrow", raw, {"content-type": "application/octet-stream"}),
                ("POST", "/v1/datasets/items/lookup", json.dumps({"keys": keys, "format": "arrow"}).encode(),
                 {"content-type": "application/json"})]
        for method, path, body, headers in asks:
            fast = server.client.request(method, path, body, headers)
            slow = framework_server.client.request(method, path, body, headers)
            assert (fast.status, fast.body) == (slow.status, slow.body), path
            assert fast.headers["content-type"] == slow.headers["content-type"] == ARROW, path
            assert fast.headers.get("rodata-next") == slow.headers.get("rodata-next"), path
        method, path, body, headers = asks[-1]
        got = read(server.client.request(method, path, body, headers).body)
        assert_lookup(items, got, keys, None)
        page = read(server.get("/v1/datasets/items/scan?format=arrow&limit=700").body)
        first = next(items.scan(columns=None, batch_size=700))
        assert page.column("id").to_pylist() == first["id"].tolist()
    finally:
        items.close()
