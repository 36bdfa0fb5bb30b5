"""Generated requests to the row, lookup, scan and column routes: whatever is sent, no 5xx; a 4xx has
the error shape; a 200 says what the library says; the fast path answers byte for byte as FastAPI,
HEAD requests, revalidations (If-None-Match) and misspelt query parameters included."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_from_bytes, unquote

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import rodata
from rodata.encode import dumps, value_json
from tests.server.asgikit import Answer, Apps, apps
from tests.server.gentables import table

#: Examples per route: enough to reach every branch of the routes, small enough for the default run.
EXAMPLES = 150
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    cols, schema = table(200, 31)
    rodata.write(root, "ints", cols, key="id", schema=schema, rows_per_part=70)
    cols, schema = table(80, 32, string_key=True)
    rodata.write(root, "strs", cols, key="id", schema=schema)
    return root


@pytest.fixture(scope="module")
def pair(root: Path) -> Iterator[Apps]:
    with apps(root) as both:
        yield both


@pytest.fixture(scope="module")
def lib(root: Path) -> Iterator[dict[str, rodata.Dataset]]:
    opened = {name: rodata.open(root / name) for name in ("ints", "strs")}
    yield opened
    for ds in opened.values():
        ds.close()


# -- what a request may hold ---------------------------------------------------------------------------

NAMES = list(table(1, 0)[0])
INT_KEYS = table(200, 31)[0]["id"].tolist()
STR_KEYS = table(80, 32, string_key=True)[0]["id"]

SERVED = ["ints", "strs"]
JUNK_NAMES = ["nope", "%2e%2e", "ints%2Fx", "%FF", "ints%0A", ""]
int_texts = st.one_of(st.sampled_from(INT_KEYS).map(str), st.sampled_from(INT_KEYS).map(str),
                      st.integers(-(2**64), 2**64).map(str),
                      st.sampled_from(["", "-", "+1", "1.0", "0x10", " 1", "00", "-0", "\uff11"]))
str_texts = st.one_of(st.sampled_from(STR_KEYS), st.sampled_from(STR_KEYS), st.text(max_size=12))
key_texts = st.one_of(int_texts, str_texts)
column_lists = st.one_of(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True).map(",".join),
    st.lists(st.sampled_from([*NAMES, "", "nope", "id?", "int8,"]), max_size=5).map(",".join))
counts = st.one_of(st.integers(0, 260).map(str), st.integers(0, 260).map(str), st.integers(-3, 260).map(str),
                   st.sampled_from(["", "x", "1e3", "99999999999999999999"]))
formats = st.sampled_from(["json", "json", "raw", "npy", "csv", "", "JSON"])
#: Query parameter names no route takes (misspelt, a case or a space off, empty).
junk_names = st.sampled_from(["colums", "x", "", "Columns", "limit ", "after_", "%", "start[]"])


@st.composite
def names_and_keys(draw: st.DrawFn) -> tuple[str, st.SearchStrategy[str]]:
    """A dataset name (mostly a served one) and a key text (mostly of its key column's type)."""
    name = draw(st.sampled_from(SERVED * 8 + JUNK_NAMES))
    mine = str_texts if name == "strs" else int_texts
    return name, draw(st.one_of(mine, mine, mine, key_texts))


def segment(text: str) -> str:
    return quote(text, safe="")


raw_segments = st.binary(max_size=6).map(quote_from_bytes)


def query(params: dict[str, str | None]) -> str:
    text = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in params.items() if v is not None)
    return f"?{text}" if text else ""


def optional(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), strategy)


# -- the checks ------------------------------------------------------------------------------------------


def checked(pair: Apps, method: str, path: str, body: bytes = b"") -> Answer:
    got = pair.both(method, path, body)  # also: nothing escaped the application
    event(f"status {got.status}")
    assert got.status < 500, (method, path, body[:200], got.body[:300])
    if got.status >= 400:
        doc = json.loads(got.body)
        assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message"}, doc
        assert all(isinstance(v, str) for v in doc["error"].values())
        event(f"error {doc['error']['code']}")
    if method == "GET":
        check_head_and_revalidation(pair, path, got)
    return got


def check_head_and_revalidation(pair: Apps, path: str, got: Answer) -> None:
    """HEAD answers as GET did, without the body; a 200 (and only a 200) has an ETag, which
    If-None-Match turns into a 304 with the same headers less the body's own."""
    head = pair.both("HEAD", path)
    assert (head.status, head.headers, head.body) == (got.status, got.headers, b""), path
    tag = got.header("etag")
    assert (tag is not None) == (got.status == 200), (path, got.status, tag)
    if tag is None:
        return
    kept = [(k, v) for k, v in got.headers if k not in (b"content-type", b"content-length")]
    for value in (tag, f"W/{tag}", f'"elsewhere", {tag}', "*"):
        for method in ("GET", "HEAD"):
            again = pair.both(method, path, extra=[(b"if-none-match", value.encode())])
            assert (again.status, again.headers, again.body) == (304, kept, b""), (path, value)
    stale = pair.both("GET", path, extra=[(b"if-none-match", tag.replace(".", ".0", 1).encode())])
    assert stale.key() == got.key()


def error_of(got: Answer) -> tuple[str, str]:
    doc = json.loads(got.body)["error"]
    return doc["code"], doc["message"]


def check_unknown(got: Answer, junk: str) -> None:
    """A query parameter the route does not take is 422 naming it (unless no route matched)."""
    code, message = error_of(got)
    assert got.status in (404, 422) and code in ("unknown_parameter", "not_found"), (got.status, code)
    if code == "unknown_parameter":
        assert repr(junk) in message and "it takes" in message, message


def row_text(ds: rodata.Dataset, row: dict[str, Any] | None) -> bytes:
    if row is None:
        return b"null"
    return b"{" + b",".join(dumps(name) + b":" + value_json(ds.schema[name], v) for name, v in row.items()) + b"}"


def typed_key(ds: rodata.Dataset, text: str) -> Any:
    return text if ds.schema.key_column.type == "string" else int(text)


def columns_of(text: str | None) -> list[str] | None:
    return None if text is None else text.split(",")


def in_range(after: Any, start: Any, end: Any, prefix: str | None) -> bool:
    """Whether a scan over [start, end) (and `prefix`) can give `after` as a cursor."""
    return ((start is None or after >= start) and (end is None or after < end)
            and (prefix is None or after.startswith(prefix)))


# -- the routes ------------------------------------------------------------------------------------------


@FUZZ
@given(data=st.data(), columns=optional(column_lists), junk=optional(junk_names))
def test_rows(pair: Apps, lib: dict[str, rodata.Dataset], data: st.DataObject, columns: str | None,
              junk: str | None) -> None:
    name, text = data.draw(names_and_keys())
    key = data.draw(st.one_of(st.just(segment(text)), st.just(segment(text)), raw_segments))
    params = {"columns": columns} if junk is None else {"columns": columns, junk: "1"}
    got = checked(pair, "GET", f"/v1/datasets/{name}/rows/{key}{query(params)}")
    if junk is not None:
        check_unknown(got, junk)
    elif got.status == 200:
        ds = lib[name]
        row = ds.get(typed_key(ds, unquote(key, errors="strict")), columns_of(columns))
        assert got.body == row_text(ds, row)


any_key = st.one_of(st.integers(-(2**65), 2**65), st.text(max_size=5), st.floats(), st.booleans(), st.none(),
                    st.lists(st.integers(), max_size=2))
lookup_keys = st.one_of(st.lists(st.sampled_from(INT_KEYS), max_size=30),
                        st.lists(st.sampled_from(STR_KEYS), max_size=30),
                        st.lists(st.one_of(st.sampled_from(INT_KEYS), st.sampled_from(STR_KEYS), any_key), max_size=30))
lookup_docs = st.fixed_dictionaries({"keys": lookup_keys}, optional={
    "columns": st.one_of(st.lists(st.sampled_from(NAMES), max_size=4), st.lists(st.sampled_from(NAMES), max_size=4),
                         st.lists(st.sampled_from([*NAMES, "nope"]), max_size=4), st.integers(), st.text(max_size=3)),
    "format": st.sampled_from(["json", "json", "npz", "npz", "arrow", 1]),
    "extra": st.integers()})
lookup_bodies = st.one_of(lookup_docs.map(lambda d: json.dumps(d).encode()),
                          lookup_docs.map(lambda d: json.dumps(d).encode()), st.binary(max_size=40),
                          st.sampled_from([b"", b"[]", b"null", b'{"keys": {}}', b'{"keys": [1]', b"\xff\xfe"]))


@FUZZ
@given(name=st.sampled_from(SERVED * 8 + JUNK_NAMES), body=lookup_bodies, junk=optional(junk_names))
def test_lookups(pair: Apps, lib: dict[str, rodata.Dataset], name: str, body: bytes, junk: str | None) -> None:
    got = checked(pair, "POST", f"/v1/datasets/{name}/lookup{query({} if junk is None else {junk: '1'})}", body)
    if junk is not None:
        check_unknown(got, junk)
        return
    if got.status != 200:
        return
    ds = lib[name]
    doc = json.loads(body)
    keys, columns = doc["keys"], doc.get("columns")
    if doc.get("format") == "npz":
        arrays = np.load(io.BytesIO(got.body))
        fixed = [c.name for c in ds.schema.columns if c.fixed_width]
        batch = ds.get_many(keys, fixed if columns is None else columns)
        assert arrays["found"].tolist() == batch.found.tolist()
        for column in batch.names:
            assert arrays[f"values/{column}"].tobytes() == np.ascontiguousarray(batch[column]).tobytes()
        return
    assert got.body == b'{"rows":[' + b",".join(row_text(ds, ds.get(k, columns)) for k in keys) + b"]}"


@FUZZ
@given(data=st.data(), prefix=optional(str_texts), limit=optional(counts), columns=optional(column_lists),
       junk=optional(junk_names))
def test_scans(pair: Apps, lib: dict[str, rodata.Dataset], data: st.DataObject, prefix: str | None,
               limit: str | None, columns: str | None, junk: str | None) -> None:
    name, _ = data.draw(names_and_keys())
    keys = str_texts if name == "strs" else int_texts
    keys = st.one_of(keys, keys, keys, key_texts)
    start, end = (data.draw(optional(keys)) for _ in range(2))
    after = data.draw(st.one_of(optional(keys), st.just(start)))  # after = start: paging from the start
    params = {"start": start, "end": end, "after": after, "prefix": prefix, "limit": limit, "columns": columns}
    if junk is not None:
        params[junk] = "1"
    got = checked(pair, "GET", f"/v1/datasets/{name}/scan{query(params)}")
    if junk is not None:
        check_unknown(got, junk)
        return
    if got.status == 422 and error_of(got)[0] == "cursor_out_of_range":
        ds = lib[name]
        typed = {k: None if params[k] is None else typed_key(ds, str(params[k])) for k in ("start", "end", "after")}
        assert not in_range(typed["after"], typed["start"], typed["end"], prefix), params
        return
    if got.status != 200:
        return
    ds = lib[name]
    typed = {k: None if params[k] is None else typed_key(ds, str(params[k])) for k in ("start", "end", "after")}
    assert typed["after"] is None or in_range(typed["after"], typed["start"], typed["end"], prefix), params
    size = 1000 if limit is None else int(limit)
    keys: list[Any] = []
    for batch in ds.scan(typed["start"], typed["end"], prefix, [ds.key], after=typed["after"]):
        keys.extend(batch[ds.key] if isinstance(batch[ds.key], list) else batch[ds.key].tolist())
    page = keys[:size]
    cursor = value_json(ds.schema.key_column, page[-1]) if len(keys) > size else b"null"
    rows = b",".join(row_text(ds, ds.get(k, columns_of(columns))) for k in page)
    assert got.body == b'{"rows":[' + rows + b'],"next":' + cursor + b"}"


@FUZZ
@given(name=st.sampled_from(SERVED * 8 + JUNK_NAMES),
       column=st.one_of(*[st.sampled_from(NAMES)] * 6, key_texts.map(segment), raw_segments),
       offset=optional(counts), limit=optional(counts), fmt=st.one_of(st.none(), st.none(), formats),
       junk=optional(junk_names))
def test_columns(pair: Apps, lib: dict[str, rodata.Dataset], name: str, column: str, offset: str | None,
                 limit: str | None, fmt: str | None, junk: str | None) -> None:
    params = {"offset": offset, "limit": limit, "format": fmt}
    if junk is not None:
        params[junk] = "1"
    got = checked(pair, "GET", f"/v1/datasets/{name}/columns/{quote(column, safe='%')}{query(params)}")
    if junk is not None:
        check_unknown(got, junk)
        return
    if got.status != 200:
        return
    ds = lib[name]
    col = ds.schema[column]
    start = int(offset or 0)
    stop = len(ds) if limit is None else min(len(ds), start + int(limit))
    if got.header("content-type") == "application/json":
        keys = ds.column(ds.key, start, stop - start)
        cells = [value_json(col, ds.get(k)[column]) for k in (keys if isinstance(keys, list) else keys.tolist())]
        assert got.body == b"[" + b",".join(cells) + b"]"
    else:
        raw = np.ascontiguousarray(ds.column(column, start, stop - start)).tobytes()
        assert got.body.endswith(raw) and (fmt == "npy" or got.body == raw)
