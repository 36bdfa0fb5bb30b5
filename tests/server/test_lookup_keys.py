"""The keys of a lookup: binary keys (``application/octet-stream``, little-endian int64) answer
as the same keys sent as JSON do, for every column type, in JSON and npz; their faults have their
own clear errors; and JSON keys read by the compiled reader give the answers and errors, byte for
byte, that the orjson reader gives (a differential property test over generated bodies)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rodata
from rodata._core._codec import parse_lookup_body
from rodata.catalog import Catalog
from rodata.server import handlers, render
from rodata.server.errors import Reply
from rodata.server.handlers import Context
from rodata.server.metrics import Metrics
from rodata.server.settings import Settings
from tests.server.asgikit import Apps, apps
from tests.server.gentables import table
from tests.server.httpkit import Server

OCTETS = b"application/octet-stream"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_KEYS = 64


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ints``: every type, nulls, int64 keys in three parts; ``strs``: the same keyed by string."""
    root = tmp_path_factory.mktemp("lookup-keys")
    cols, schema = table(120, 21)
    rodata.write(root, "ints", cols, key="id", schema=schema, rows_per_part=50)
    cols, schema = table(40, 22, string_key=True)
    rodata.write(root, "strs", cols, key="id", schema=schema)
    return root


@pytest.fixture(scope="module")
def ctx(root: Path) -> Iterator[Context]:
    catalog = Catalog(root)
    catalog.load()
    yield Context(catalog, Settings(max_lookup_keys=MAX_KEYS), Metrics(catalog))
    catalog.stop()
    for ds in catalog.datasets.values():
        ds.close()


@pytest.fixture(scope="module")
def pair(root: Path) -> Iterator[Apps]:
    with apps(root, Settings(max_lookup_keys=MAX_KEYS)) as both:
        yield both


def stored_keys(ctx: Context, name: str) -> list[Any]:
    ds = ctx.catalog.get(name)
    assert ds is not None
    column = ds.column("id")
    return column.tolist() if isinstance(column, np.ndarray) else list(column)


def some_keys(ctx: Context) -> list[int]:
    """Found keys (one twice), misses, and both ends of the int64 range."""
    present = stored_keys(ctx, "ints")
    return [*present[:7], present[3], 1, -1, 2, INT64_MIN, INT64_MAX, INT64_MAX - 1, present[-1]]


def binary(keys: list[int]) -> bytes:
    return np.array(keys, dtype="<i8").tobytes()


def lookup(ctx: Context, name: str, body: bytes, content_type: bytes = b"application/json",
           query: bytes = b"") -> Reply:
    return handlers.guarded(handlers.lookup, ctx, name, body, content_type, query)


def error(reply: Reply) -> tuple[int, str, str]:
    doc = json.loads(reply.body)["error"]
    return reply.status, doc["code"], doc["message"]


def same(a: Reply, b: Reply) -> bool:
    return (a.status, a.headers, a.body) == (b.status, b.headers, b.body)


# -- binary keys answer as JSON keys do ---------------------------------------------------------


def test_binary_keys_answer_json_as_json_keys_do_for_every_column(ctx: Context) -> None:
    ds = ctx.catalog.get("ints")
    assert ds is not None
    keys = some_keys(ctx)
    for column in [None, *(c.name for c in ds.schema.columns)]:
        fields: dict[str, Any] = {"keys": keys} if column is None else {"keys": keys, "columns": [column]}
        query = b"" if column is None else b"columns=" + column.encode().replace(b"?", b"%3F")
        as_json = lookup(ctx, "ints", orjson.dumps(fields))
        as_binary = lookup(ctx, "ints", binary(keys), OCTETS, query)
        assert as_json.status == 200, as_json.body
        assert same(as_binary, as_json), column
    rows = json.loads(lookup(ctx, "ints", binary(keys), OCTETS, b"format=json").body)["rows"]
    assert [row is not None for row in rows] == ds.get_many(keys).found.tolist()
    assert rows[8:14] == [None] * 6  # the misses and the ends of the range


def test_binary_keys_answer_npz_as_json_keys_do_for_every_fixed_width_column(ctx: Context) -> None:
    ds = ctx.catalog.get("ints")
    assert ds is not None
    keys = some_keys(ctx)
    fixed = [c.name for c in ds.schema.columns if c.fixed_width]
    for column in [None, *fixed]:
        fields: dict[str, Any] = {"keys": keys, "format": "npz"}
        query = b"format=npz"
        if column is not None:
            fields["columns"] = [column]
            query += b"&columns=" + column.encode().replace(b"?", b"%3F")
        as_json = lookup(ctx, "ints", orjson.dumps(fields))
        as_binary = lookup(ctx, "ints", binary(keys), OCTETS, query)
        assert as_json.status == 200, as_json.body
        assert same(as_binary, as_json), column
    arrays = np.load(io.BytesIO(lookup(ctx, "ints", binary(keys), OCTETS, b"format=npz").body))
    batch = ds.get_many(keys, fixed)
    assert arrays["found"].tolist() == batch.found.tolist()
    for name in fixed:
        assert np.array_equal(arrays[f"values/{name}"], batch[name], equal_nan=name.startswith(("float", "vector")))


def test_an_npz_answer_holds_the_librarys_columns_exactly(root: Path, tmp_path: Path) -> None:
    # One part and three, keys found in one part only, none found, no keys: each array of the
    # archive is the library's Batch column, its dtype, shape and bytes.
    cols, schema = table(120, 21)
    rodata.write(tmp_path, "one", cols, key="id", schema=schema)
    for ds in (rodata.open(tmp_path / "one"), rodata.open(root / "ints")):
        with ds:
            present = ds.column("id").tolist()
            fixed = [c.name for c in ds.schema.columns if c.fixed_width]
            for keys in ([*present[:30], 1, 3, present[5]], present[:10], present[100:110], [1, 3], []):
                arrays = np.load(io.BytesIO(b"".join(render.lookup_npz(ds, keys)[0])))
                batch = ds.get_many(keys, fixed)
                assert arrays["found"].tolist() == batch.found.tolist()
                for name in fixed:
                    got, expected = arrays[f"values/{name}"], batch[name]
                    assert (got.dtype, got.shape, got.tobytes()) == (expected.dtype, expected.shape,
                                                                     expected.tobytes()), name
                    if ds.schema[name].nullable:
                        assert arrays[f"valid/{name}"].tolist() == batch.valid(name).tolist()


def test_a_column_named_twice_is_one_member_of_an_npz_answer(ctx: Context) -> None:
    # As a row's JSON object has a column named twice once; an archive with two members of one
    # name is read differently by different readers.
    reply = lookup(ctx, "ints", binary(some_keys(ctx)), OCTETS, b"format=npz&columns=int64,uint8,int64")
    names = zipfile.ZipFile(io.BytesIO(reply.body)).namelist()
    assert names == ["found.npy", "values/int64.npy", "values/uint8.npy"]


@pytest.mark.parametrize("content_type", [b"application/octet-stream", b"Application/Octet-Stream",
                                          b"application/octet-stream; charset=binary",
                                          b" application/octet-stream ;x=1"])
def test_the_media_type_decides_binary_keys_whatever_its_case_and_parameters(ctx: Context,
                                                                              content_type: bytes) -> None:
    keys = some_keys(ctx)
    assert same(lookup(ctx, "ints", binary(keys), content_type), lookup(ctx, "ints", orjson.dumps({"keys": keys})))


def test_an_empty_binary_body_is_a_lookup_of_no_keys(ctx: Context) -> None:
    assert lookup(ctx, "ints", b"", OCTETS).body == b'{"rows":[]}'


# -- the faults of binary keys ----------------------------------------------------------------------


def test_binary_keys_of_a_length_not_a_multiple_of_8_are_400(ctx: Context) -> None:
    assert error(lookup(ctx, "ints", b"\x01" * 13, OCTETS)) == (
        400, "malformed_keys", "the body is 13 bytes: binary keys are little-endian int64, 8 bytes each")


def test_too_many_binary_keys_are_413_as_json_keys_are(ctx: Context) -> None:
    keys = list(range(MAX_KEYS + 1))
    got = error(lookup(ctx, "ints", binary(keys), OCTETS))
    assert got == error(lookup(ctx, "ints", orjson.dumps({"keys": keys})))
    assert got == (413, "too_many_keys", f"{MAX_KEYS + 1} keys in one lookup; the limit is {MAX_KEYS}")
    assert lookup(ctx, "ints", binary(keys[:MAX_KEYS]), OCTETS).status == 200


def test_binary_keys_for_a_string_keyed_dataset_are_415(ctx: Context) -> None:
    assert error(lookup(ctx, "strs", binary([1, 2]), OCTETS)) == (
        415, "unsupported_media_type",
        "binary keys (application/octet-stream) are int64: the key column of 'strs' is string (send JSON keys)")


def test_a_body_in_the_other_form_than_its_content_type_says_is_refused(ctx: Context) -> None:
    # A JSON body sent as binary keys is read as int64 (13 bytes: not keys at all) ...
    assert error(lookup(ctx, "ints", b'{"keys": [1]}', OCTETS))[:2] == (400, "malformed_keys")
    # ... and binary keys sent as JSON (or with no content type) are malformed JSON, as before.
    for content_type in (b"application/json", b"", b"text/plain", b"application/x-octet-stream"):
        assert error(lookup(ctx, "ints", binary([1, 2]), content_type))[:2] == (400, "malformed_json")


def test_binary_keys_take_columns_and_format_as_query_parameters(ctx: Context) -> None:
    keys = binary(some_keys(ctx))
    assert error(lookup(ctx, "ints", keys, OCTETS, b"format=csv")) == (
        422, "bad_parameter", "format must be json, npz or arrow, not 'csv'")
    assert error(lookup(ctx, "ints", keys, OCTETS, b"columns=zz"))[:2] == (422, "unknown_column")
    assert error(lookup(ctx, "ints", keys, OCTETS, b"columns="))[:2] == (422, "bad_parameter")
    assert error(lookup(ctx, "ints", keys, OCTETS, b"format=npz&columns=string"))[:2] == (422, "unsupported_column")
    assert error(lookup(ctx, "ints", keys, OCTETS, b"colums=string")) == (
        422, "unknown_parameter",
        "unknown query parameter 'colums' (did you mean 'columns'?): it takes columns, format")
    assert error(lookup(ctx, "nope", keys, OCTETS))[:2] == (404, "dataset_not_found")


def test_json_keys_still_take_no_query_parameters(ctx: Context) -> None:
    assert error(lookup(ctx, "ints", b'{"keys": [1]}', b"application/json", b"columns=string")) == (
        422, "unknown_parameter", "unknown query parameter 'columns': it takes no query parameters")


def test_both_asgi_paths_read_the_content_type_from_the_request(pair: Apps, ctx: Context) -> None:
    keys = some_keys(ctx)
    for query, content_type, body in [("?format=npz", OCTETS, binary(keys)), ("", OCTETS, binary(keys)),
                                      ("", OCTETS, b"\x00" * 9), ("?columns=string", b"application/json",
                                                                   orjson.dumps({"keys": keys}))]:
        headers = [(b"host", b"t"), (b"content-type", content_type), (b"content-length", b"%d" % len(body))]
        fast = pair.call(pair.fast, "POST", "/v1/datasets/ints/lookup" + query, body, headers=headers)
        slow = pair.call(pair.slow, "POST", "/v1/datasets/ints/lookup" + query, body, headers=headers)
        direct = lookup(ctx, "ints", body, content_type, query[1:].encode())
        assert fast.key() == slow.key() == (direct.status, direct.headers, direct.body), (query, content_type)


def test_a_path_fault_is_told_after_a_parameter_the_request_does_not_take(pair: Apps) -> None:
    # A name that is not UTF-8 after decoding: with JSON keys, a query parameter is the first fault
    # (as before); with binary keys, columns is a parameter it takes, so the path is.
    path = "/v1/datasets/%FF/lookup?columns=x"
    for content_type, code in ((b"application/json", "unknown_parameter"), (OCTETS, "bad_path")):
        headers = [(b"host", b"t"), (b"content-type", content_type), (b"content-length", b"8")]
        for app in (pair.fast, pair.slow):
            got = pair.call(app, "POST", path, b"\x00" * 8, headers=headers)
            assert (got.status, json.loads(got.body)["error"]["code"]) == (422, code)


# -- JSON keys: the compiled reader against orjson -------------------------------------------------


def test_the_compiled_reader_reads_the_plain_bodies(ctx: Context) -> None:
    # The differential test below would pass if the compiled reader never read anything.
    got = parse_lookup_body(b' {"keys" : [1, -2,\n9223372036854775807,-9223372036854775808], "format":"npz",'
                            b'"columns":["a", "\xc3\xa9"]}\r\n', False, 10)
    assert got is not None
    keys, columns, fmt = got
    assert isinstance(keys, np.ndarray) and keys.dtype == np.int64
    assert keys.tolist() == [1, -2, INT64_MAX, INT64_MIN] and columns == ["a", "é"] and fmt == "npz"
    assert parse_lookup_body(b'{"keys":["a","\xc3\xa9",""],"columns":null}', True, 10) == (["a", "é", ""], None,
                                                                                           "json")
    for body in (b'{"keys":[1.0]}', b'{"keys":[true]}', b'{"keys":[01]}', b'{"keys":[9223372036854775808]}',
                 b'{"keys":[-9223372036854775809]}', b'{"keys":["1"]}', b'{"keys":[1],"keys":[1]}', b'{}',
                 b'{"keys":[1],"x":1}', b'{"keys":[1]}]', b'{"keys":[1,]}', b'{"keys":[1] "format":"npz"}',
                 b'{"keys":[1],"format":"arrow"}', b'{"keys":[1],"columns":["\\u0061"]}', b'[1]', b'{"keys":[1]\x0c}'):
        assert parse_lookup_body(body, False, 10) is None, body
    assert parse_lookup_body(b'{"keys":[1,2,3]}', False, 2) is None  # over the limit: orjson says 413
    assert parse_lookup_body(b'{"keys":["a\\"b"]}', True, 10) is None
    assert parse_lookup_body(b'{"keys":["\xed\xa0\x80"]}', True, 10) is None  # a surrogate is not UTF-8


def orjson_lookup(ctx: Context, name: str, body: bytes) -> Reply:
    """The lookup as every JSON body was read before: by orjson."""
    with mock.patch.object(handlers, "parse_lookup_body", return_value=None):
        return lookup(ctx, name, body)


_INTS = st.one_of(st.integers(INT64_MIN - 3, INT64_MIN + 3), st.integers(INT64_MAX - 3, INT64_MAX + 3),
                  st.integers(-(2**70), 2**70), st.integers(-300, 300))
_IN_RANGE = st.one_of(st.integers(INT64_MIN, INT64_MIN + 2), st.integers(INT64_MAX - 2, INT64_MAX),
                      st.integers(INT64_MIN, INT64_MAX), st.integers(-300, 300))
_STRINGS = st.one_of(st.text(max_size=8), st.sampled_from(["a\"b\\c", "é日本\U0001f600", "\u2028", "\x00", "k"]))
_VALUES = st.one_of(_INTS, _STRINGS, st.booleans(), st.none(), st.floats(allow_nan=True),
                    st.lists(_INTS, max_size=2), st.dictionaries(st.text(max_size=3), _INTS, max_size=2))
_TOKENS = ["01", "-0", "-", "1e5", "1.0", "+1", "00", "-01", "1E2", "0x1", "Infinity", "NaN", "true", "null",
           "9223372036854775808", "-9223372036854775809", "18446744073709551616", "-18446744073709551617",
           "99999999999999999999", "0.", ".5", "-9223372036854775808", "9223372036854775807", '"1"']
_WS = st.sampled_from(["", " ", "\n", "\t", "\r\n  ", "  "])


@st.composite
def bodies(draw: st.DrawFn, present: list[Any]) -> bytes:
    """Lookup bodies: mostly of the plain shape, with every kind of fault now and then."""
    element = [st.one_of(st.sampled_from(present), _IN_RANGE), st.one_of(st.sampled_from(present), _STRINGS),
               st.one_of(st.sampled_from(present), _INTS, _STRINGS), st.one_of(st.sampled_from(present), _VALUES)]
    least = draw(st.sampled_from([0, 0, 0, 0, 0, MAX_KEYS - 1]))  # now and then about the limit of keys
    keys = draw(st.lists(element[draw(st.integers(0, 3))], min_size=least, max_size=least + 12))
    fields: list[tuple[str, Any]] = [("keys", keys)]
    if draw(st.booleans()):
        fields.append(("columns", draw(st.one_of(st.none(), st.lists(st.sampled_from(
            ["int64", "string", "float32?", "vector", "zz", "bytes"]), max_size=3), st.lists(st.sampled_from(
            ["int64", "uint8", "float64?", "vector?", "date"]), max_size=3), _VALUES))))
    if draw(st.booleans()):
        fields.append(("format", draw(st.sampled_from(["json", "npz", "json", "npz", "arrow", 1, None]))))
    if draw(st.integers(0, 9)) == 0:
        fields.append((draw(st.sampled_from(["keys", "format", "extra", "Keys"])), draw(_VALUES)))
    fields = draw(st.permutations(fields))
    ascii_only = draw(st.booleans())
    ws = [draw(_WS) for _ in range(4)]
    separators = (draw(st.sampled_from([",", ", ", " ,\n"])), ":")
    values = [json.dumps(v, ensure_ascii=ascii_only, separators=separators) for _, v in fields]
    fault = draw(st.integers(0, 12))
    if 3 <= fault <= 6:  # a number JSON writes otherwise, or not at all, among the keys
        at = next(i for i, (k, v) in enumerate(fields) if k == "keys" and isinstance(v, list))
        token = draw(st.sampled_from(_TOKENS))
        values[at] = f"[{token}]" if values[at] == "[]" else f"[{token}{separators[0]}{values[at][1:]}"
    parts = [f"{ws[0]}{json.dumps(k)}{ws[1]}:{ws[2]}{v}" for (k, _), v in zip(fields, values, strict=True)]
    text = "{" + ",".join(parts) + ws[3] + "}" + draw(_WS)
    body = text.encode("utf-8", "surrogatepass")
    if fault == 0 and body:  # cut short
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif fault == 1:  # a byte changed
        at = draw(st.integers(0, len(body) - 1))
        body = body[:at] + bytes([draw(st.sampled_from(b"0-.e]},\"\\ \x0c\xff"))]) + body[at + 1:]
    elif fault == 2:
        body = draw(st.binary(max_size=40))
    return body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_json_keys_read_by_compiled_code_answer_byte_for_byte_as_orjson_read_them(ctx: Context,
                                                                                  data: st.DataObject) -> None:
    for name in ("ints", "strs"):
        body = data.draw(bodies(stored_keys(ctx, name)), label=name)
        got, expected = lookup(ctx, name, body), orjson_lookup(ctx, name, body)
        assert same(got, expected), (body, got.status, got.body[:300], expected.body[:300])


def test_generated_bodies_reach_the_compiled_reader_and_every_answer(ctx: Context) -> None:
    # What the property test's generator covers: both readers, every status it should reach.
    statuses: set[int] = set()
    compiled = fallback = 0

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(body=bodies(stored_keys(ctx, "ints")))
    def sample(body: bytes) -> None:
        nonlocal compiled, fallback
        plain = parse_lookup_body(body, False, MAX_KEYS)
        compiled += plain is not None
        fallback += plain is None
        statuses.add(lookup(ctx, "ints", body).status)

    sample()
    # Both readers are reached (how often depends on the generator's version: a floor, not a share).
    assert compiled >= 5 and fallback >= 5, (compiled, fallback)
    assert {200, 400, 413, 422} <= statuses, statuses


# -- a real server, fast path on and off -------------------------------------------------------------


def test_a_real_server_answers_binary_keys_alike_with_the_fast_path_on_and_off(
        server: Server, framework_server: Server, library: dict[str, rodata.Dataset]) -> None:
    ds = library["items"]
    present = ds.column("id")[:50].tolist()
    keys = [*present[::3], 1, INT64_MIN, INT64_MAX, present[0]]
    body = binary(keys)
    for query in ("", "?format=npz", "?columns=name,emb,price", "?format=npz&columns=qty,day"):
        answers = [srv.client.request("POST", "/v1/datasets/items/lookup" + query, body,
                                      {"content-type": "application/octet-stream"}) for srv in (server,
                                                                                              framework_server)]
        fast, slow = answers
        assert fast.status == 200, fast.body[:300]
        assert (fast.status, fast.body, fast.headers["content-type"]) == (slow.status, slow.body,
                                                                          slow.headers["content-type"])
        fields: dict[str, Any] = {"keys": keys}
        if "npz" in query:
            fields["format"] = "npz"
        if "columns" in query:
            fields["columns"] = query.partition("columns=")[2].split(",")
        assert fast.body == server.post("/v1/datasets/items/lookup", fields).body, query
    got = server.client.request("POST", "/v1/datasets/words/lookup", body,
                                {"content-type": "application/octet-stream"})
    assert (got.status, got.error_code) == (415, "unsupported_media_type")
    got = server.client.request("POST", "/v1/datasets/items/lookup", b"\x00" * 7,
                                {"content-type": "application/octet-stream"})
    assert (got.status, got.error_code) == (400, "malformed_keys")
