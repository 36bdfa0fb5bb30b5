"""The routes' logic, independent of the web framework: decoded inputs (path parameters as text,
the raw query string, the body) in, a complete :class:`Reply` out.

Every handler is called the same way, ``handler(ctx, *path values, [body, content type,] query,
[accept])`` (see :func:`rodata.server.dispatch.invoker`; `accept`, the raw first ``Accept`` value,
for the routes that answer Arrow too), by the compiled protocol and by the FastAPI routes alike,
so each route gives the same answer whichever of them served it.  The query parameters
each route takes are those of its entry in the route table (:mod:`rodata.server.routes`)."""

from __future__ import annotations

import difflib
import re
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson

from rodata._core._codec import parse_lookup_body
from rodata._keys import INT64_MAX, INT64_MIN, int64_keys
from rodata.catalog import Catalog
from rodata.dataset import Dataset
from rodata.server import arrow, render
from rodata.server.conditional import etag, row_etag
from rodata.server.errors import JSON, HTTPError, Reply, body_too_large, error_reply, reply_for_exception
from rodata.server.metrics import CONTENT_TYPE, Metrics
from rodata.server.offload import Offload
from rodata.server.routes import BY_NAME, Route
from rodata.server.settings import Settings
from rodata.server.tokens import READABLE

__all__ = [
    "Context",
    "accepts_arrow",
    "binary_keys",
    "check_no_parameters",
    "column",
    "dataset_detail",
    "datasets",
    "guarded",
    "healthz",
    "livez",
    "lookup",
    "metrics",
    "parse_key",
    "query_names",
    "row",
    "scan",
]

_INT_RE = re.compile(r"-?[0-9]{1,19}")
_LOOKUP_FIELDS = frozenset(("keys", "columns", "format"))
_NPZ = b"application/x-npz"
_ARROW = arrow.MEDIA_TYPE.encode()
# The media types these routes answer besides Arrow: one preferred in Accept over Arrow keeps Arrow off.
_OTHER_TYPES = frozenset((b"application/json", _NPZ, b"application/octet-stream", b"application/x-npy"))
_OCTETS = b"application/octet-stream"
_METRICS_TYPE = CONTENT_TYPE.encode("latin-1")

# The query parameters each route takes (from the route table); any other name is 422 unknown_parameter.
_ROW_PARAMETERS = BY_NAME["row"].query_names
_SCAN_PARAMETERS = BY_NAME["scan"].query_names
_COLUMN_PARAMETERS = BY_NAME["column"].query_names
_LOOKUP_PARAMETERS = BY_NAME["lookup"].query_names  # with binary keys; with JSON keys, none
NO_PARAMETERS: frozenset[str] = frozenset()
_LOOKUP_FORMATS = ("json", "npz", "arrow")


class Context:
    """What every route needs: the catalog, the settings, the metrics (for ``/metrics``) and the
    pool of answers made off the event loop (:mod:`rodata.server.offload`)."""

    __slots__ = ("catalog", "metrics", "offload", "settings")

    def __init__(self, catalog: Catalog, settings: Settings, metrics: Metrics | None = None) -> None:
        self.catalog = catalog
        self.settings = settings
        self.metrics = metrics
        self.offload = Offload(settings.request_timeout)


# -- inputs ------------------------------------------------------------------------------


def parse_query(query: bytes, allowed: frozenset[str] | None = None) -> dict[str, str]:
    """The query string's parameters (the last one wins when a name repeats); with `allowed`,
    a name not in it is 422 ``unknown_parameter`` (a misspelt parameter is never ignored)."""
    if not query:
        return {}
    try:
        params = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise HTTPError(422, "bad_parameter", "the query string is not valid UTF-8 after percent-decoding") from None
    if allowed is not None and not allowed.issuperset(params):
        raise unknown_parameter(next(name for name in params if name not in allowed), allowed)
    return params


def unknown_parameter(name: str, allowed: frozenset[str]) -> HTTPError:
    """The 422 for a query parameter the route does not take, naming the ones it takes."""
    close = difflib.get_close_matches(name, sorted(allowed), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    takes = f"it takes {', '.join(sorted(allowed))}" if allowed else "it takes no query parameters"
    return HTTPError(422, "unknown_parameter", f"unknown query parameter {name[:80]!r}{hint}: {takes}")


def check_no_parameters(query: bytes) -> None:
    """422 ``unknown_parameter`` unless the query string is empty (routes that take none)."""
    if query:
        parse_query(query, NO_PARAMETERS)


def parse_key(ds: Dataset, text: str, what: str = "key") -> Any:
    """A key given as text, typed by the dataset's key column (int64 from decimal, or the string)."""
    if ds.schema.key_column.type == "string":
        return text
    if len(text) < 19 and text.isdigit() and text.isascii():  # the common case, kept short
        return int(text)
    if not _INT_RE.fullmatch(text):
        raise HTTPError(422, "bad_key", f"{what} {text[:80]!r} is not a decimal int64 (the key column is int64)")
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise HTTPError(422, "bad_key", f"{what} {text[:80]} is outside the int64 range")
    return value


def parse_columns(params: dict[str, str]) -> list[str] | None:
    """``columns=a,b`` as a list (None when absent)."""
    text = params.get("columns")
    if text is None:
        return None
    names = [name for name in text.split(",")]
    if not text or any(not name for name in names):
        raise HTTPError(422, "bad_parameter", "columns must be a comma-separated list of column names")
    return names


def parse_count(params: dict[str, str], name: str, default: int | None, *, minimum: int) -> int | None:
    """A non-negative decimal query parameter."""
    text = params.get(name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise HTTPError(422, "bad_parameter", f"{name} must be an integer >= {minimum}, not {text[:80]!r}")
    value = int(text)
    if value < minimum:
        raise HTTPError(422, "bad_parameter", f"{name} must be an integer >= {minimum}, not {value}")
    return value


def dataset_or_error(ctx: Context, name: str) -> Dataset:
    """The dataset being served as `name`, else 404 (or 503 before the first load is done)."""
    ds = ctx.catalog.get(name)
    if ds is not None:
        return ds
    if not ctx.catalog.ready:
        raise HTTPError(503, "not_ready", "datasets are still being loaded")
    raise HTTPError(404, "dataset_not_found", f"no dataset named {name[:200]!r}")


def _check_columns(ds: Dataset, columns: list[str] | None) -> None:
    if columns is not None:
        for name in columns:
            ds.schema.index(name)  # UnknownColumnError -> 422


_VERSION_HEADERS: dict[str | None, tuple[bytes, bytes]] = {}


def _version_header(ds: Dataset) -> tuple[bytes, bytes]:
    """``x-rodata-version``: which version answered (cached: it is on every dataset answer)."""
    header = _VERSION_HEADERS.get(ds.version)
    if header is None:
        if len(_VERSION_HEADERS) > 256:
            _VERSION_HEADERS.clear()
        header = _VERSION_HEADERS[ds.version] = (b"x-rodata-version", str(ds.version).encode("ascii", "replace"))
    return header


def guarded(fn: Any, *args: Any) -> Reply:
    """Call a route function; errors caused by the request become their 4xx answers."""
    try:
        reply: Reply = fn(*args)
        return reply
    except Exception as exc:  # only the request's errors are mapped; anything else propagates
        mapped = reply_for_exception(exc)
        if mapped is None:
            raise
        return mapped


def accepts_arrow(accept: bytes) -> bool:
    """Whether an ``Accept`` value asks for Arrow: it names ``application/vnd.apache.arrow.stream``
    with a quality above 0, and no other type these routes answer (JSON, npz, octet-stream, npy) at
    a higher one (wildcards prefer nothing).  Any other Accept leaves the route's default."""
    if not accept:
        return False
    accept = accept.lower()  # media types and parameter names are case-insensitive
    if b"arrow" not in accept:  # the usual header, told at once
        return False
    arrow_q = 0.0
    other_q = 0.0
    for item in accept.split(b","):
        media, _, params = item.partition(b";")
        media = media.strip()
        q = _quality(params)
        if media == _ARROW:
            arrow_q = max(arrow_q, q)
        elif media in _OTHER_TYPES:
            other_q = max(other_q, q)
    return arrow_q > 0 and arrow_q >= other_q


def _quality(params: bytes) -> float:
    """The ``q`` of a media range's parameters (1 when absent or unreadable)."""
    for param in params.split(b";"):
        name, _, value = param.partition(b"=")
        if name.strip() == b"q":
            try:
                return min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                return 1.0
    return 1.0


def _need_arrow() -> None:
    """406 ``arrow_unavailable`` when this server cannot build Arrow answers (no pyarrow)."""
    if not arrow.available():
        raise HTTPError(406, "arrow_unavailable", "Arrow answers need pyarrow, which this server does not have "
                        "(pip install 'rodata[arrow]'); ask for another format")


def _arrow_reply(stream: arrow.ArrowStream, headers: list[tuple[bytes, bytes]], tag: bytes | None = None) -> Reply:
    out = [(b"content-type", _ARROW), (b"content-length", b"%d" % stream.nbytes), *headers]
    if tag is not None:
        out.append((b"etag", tag))
    return Reply(200, stream.chunks, out, tag)


# -- the hot routes --------------------------------------------------------------------------


def row(ctx: Context, name: str, key: str, query: bytes) -> Reply:
    """``GET /v1/datasets/{name}/rows/{key}``."""
    columns = parse_columns(parse_query(query, _ROW_PARAMETERS)) if query else None
    ds = dataset_or_error(ctx, name)
    if columns is not None:
        _check_columns(ds, columns)
    body = render.row_json(ds, parse_key(ds, key), columns)
    if body is None:
        return error_reply(404, "key_not_found", f"no row with key {key[:200]!r}")
    tag = row_etag(ds, key, None if columns is None else ",".join(columns))
    if tag is None:
        return Reply(200, (body,), [(b"content-type", JSON), (b"content-length", b"%d" % len(body)),
                                    _version_header(ds)])
    return Reply(200, (body,), [(b"content-type", JSON), (b"content-length", b"%d" % len(body)),
                                _version_header(ds), (b"etag", tag)], tag)


def lookup(ctx: Context, name: str, body: bytes, content_type: bytes = b"", query: bytes = b"",
           accept: bytes = b"") -> Reply:
    """``POST /v1/datasets/{name}/lookup``: JSON keys (``{"keys": [...], ...}``, and no query
    parameters), or with ``content-type: application/octet-stream`` binary keys (little-endian
    int64) and ``?columns=&format=``.  Without a format, an `accept` asking for Arrow gets Arrow."""
    if binary_keys(content_type):
        return _binary_lookup(ctx, name, body, query, accept)
    check_no_parameters(query)
    ds = dataset_or_error(ctx, name)
    keys, columns, fmt = _lookup_request(ctx.settings, body, ds.schema.key_column.type == "string",
                                         accepts_arrow(accept))
    return _lookup_answer(ctx, ds, keys, columns, fmt)


def binary_keys(content_type: bytes) -> bool:
    """Whether a lookup's body holds binary keys: its media type (parameters after ';' aside,
    in any case) is ``application/octet-stream``; any other body is read as JSON."""
    if content_type == _OCTETS:
        return True
    return bool(content_type) and content_type.partition(b";")[0].strip().lower() == _OCTETS


def query_names(route: Route, content_type: bytes) -> frozenset[str]:
    """The query parameters a request of `route` with this content type takes: a lookup with
    JSON keys takes none (its options are fields of the body); otherwise the route table's."""
    if route.body and not binary_keys(content_type):
        return NO_PARAMETERS
    return route.query_names


def _lookup_answer(ctx: Context, ds: Dataset, keys: Any, columns: list[str] | None, fmt: str) -> Reply:
    _check_columns(ds, columns)
    limit = ctx.settings.max_response_bytes
    if fmt == "arrow":
        _need_arrow()
        return _arrow_reply(arrow.lookup_arrow(ds, keys, columns, max_bytes=limit), [_version_header(ds)])
    if fmt == "npz":
        chunks, size = render.lookup_npz(ds, keys, columns, max_bytes=limit)
        return Reply(200, chunks, [(b"content-type", _NPZ), (b"content-length", b"%d" % size), _version_header(ds)])
    return Reply.json(200, render.lookup_json(ds, keys, columns, max_bytes=limit), [_version_header(ds)])


def _binary_lookup(ctx: Context, name: str, body: bytes, query: bytes, accept: bytes) -> Reply:
    """A lookup of binary keys: the body as an int64 view (no object per key), checked in the
    order of the JSON lookup's checks (parameters, dataset, body, key count, columns)."""
    params = parse_query(query, _LOOKUP_PARAMETERS)
    ds = dataset_or_error(ctx, name)
    settings = ctx.settings
    if ds.schema.key_column.type != "int64":
        raise HTTPError(415, "unsupported_media_type", f"binary keys (application/octet-stream) are int64: the "
                        f"key column of {name[:200]!r} is {ds.schema.key_column.type} (send JSON keys)")
    if len(body) > settings.max_body_bytes:
        raise body_too_large(settings.max_body_bytes)
    if len(body) % 8:
        raise HTTPError(400, "malformed_keys", f"the body is {len(body)} bytes: binary keys are little-endian "
                        "int64, 8 bytes each")
    count = len(body) // 8
    if count > settings.max_lookup_keys:
        raise too_many_keys(count, settings)
    columns = parse_columns(params)
    fmt = params.get("format")
    if fmt is None:  # an explicit format wins over Accept
        fmt = "arrow" if accepts_arrow(accept) else "json"
    if fmt not in _LOOKUP_FORMATS:
        raise HTTPError(422, "bad_parameter", f"format must be json, npz or arrow, not {fmt[:40]!r}")
    return _lookup_answer(ctx, ds, int64_keys(body), columns, fmt)


def too_many_keys(count: int, settings: Settings) -> HTTPError:
    """The 413 for a lookup of more keys than the limit."""
    return HTTPError(413, "too_many_keys", f"{count} keys in one lookup; the limit is {settings.max_lookup_keys}")


def _lookup_request(settings: Settings, body: bytes, string_keys: bool,
                    arrow_wanted: bool = False) -> tuple[Any, list[str] | None, str]:
    """The keys, columns and format of a JSON lookup body: read by the compiled reader when the
    body has the plain shape (an int64 array for int64 keys), else by orjson, which then says
    what is wrong with it (so the answers and the errors are the same whichever read it).
    With `arrow_wanted` (Accept asked for Arrow), a body without ``format`` answers Arrow: orjson
    reads it, since the compiled reader does not tell a missing format from ``"json"``."""
    if len(body) > settings.max_body_bytes:
        raise body_too_large(settings.max_body_bytes)
    if type(body) is bytes and not arrow_wanted:
        plain = parse_lookup_body(body, string_keys, settings.max_lookup_keys)
        if plain is not None:
            return plain
    keys, columns, fmt = _lookup_document(settings, body)
    if fmt is None:
        fmt = "arrow" if arrow_wanted else "json"
    return keys, columns, fmt


def _lookup_document(settings: Settings, body: bytes) -> tuple[list[Any], list[str] | None, str | None]:
    """A JSON lookup body read by orjson, with every error it can have (the format None when absent)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise HTTPError(422, "bad_request", 'the body must be a JSON object: {"keys": [...]}')
    unknown = set(doc) - _LOOKUP_FIELDS
    if unknown:
        raise HTTPError(422, "bad_request", f"unknown fields {sorted(unknown)}; expected keys, columns, format")
    keys = doc.get("keys")
    if not isinstance(keys, list):
        raise HTTPError(422, "bad_request", '"keys" must be a list of keys')
    if len(keys) > settings.max_lookup_keys:
        raise too_many_keys(len(keys), settings)
    columns = doc.get("columns")
    if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
        raise HTTPError(422, "bad_request", '"columns" must be a list of column names')
    fmt = doc.get("format")
    if fmt is not None and fmt not in _LOOKUP_FORMATS:
        raise HTTPError(422, "bad_request", '"format" must be "json", "npz" or "arrow"')
    return keys, columns, fmt


def column(ctx: Context, name: str, column_name: str, query: bytes, accept: bytes = b"") -> Reply:
    """``GET /v1/datasets/{name}/columns/{column}``; without ``format``, an `accept` asking for
    Arrow gets Arrow."""
    params = parse_query(query, _COLUMN_PARAMETERS)
    ds = dataset_or_error(ctx, name)
    col = ds.schema[column_name]
    offset = parse_count(params, "offset", 0, minimum=0) or 0
    limit = parse_count(params, "limit", None, minimum=0)
    fmt = params.get("format")
    if fmt is None:
        fmt = "arrow" if accepts_arrow(accept) else "raw" if col.fixed_width else "json"
    if fmt not in ("raw", "npy", "json", "arrow"):
        raise HTTPError(422, "bad_parameter", f"format must be raw, npy, json or arrow, not {fmt[:40]!r}")
    if fmt in ("raw", "npy") and not col.fixed_width:
        raise HTTPError(422, "unsupported_column", f"column {col.name!r} is {col.type}: it is served as JSON only")
    if offset > len(ds):
        raise HTTPError(422, "offset_out_of_range", f"offset {offset} is past the end ({len(ds)} rows)")
    rows = render.slice_rows(ds, offset, limit)
    if fmt == "arrow":
        return _column_arrow(ctx, ds, name, col.name, offset, rows)
    if fmt == "json" and rows > ctx.settings.max_column_json_rows:
        raise HTTPError(413, "slice_too_large", f"{rows} rows in one JSON column slice; the limit is "
                        f"{ctx.settings.max_column_json_rows} (use offset and limit)")
    piece = render.column_slice(ds, col.name, offset, rows, fmt, max_bytes=ctx.settings.max_column_bytes)
    headers = [(b"content-type", piece.media_type.encode()), (b"content-length", b"%d" % piece.nbytes)]
    headers.extend((k.encode(), v.encode("ascii", "replace")) for k, v in piece.headers.items())
    tag = etag(ds, "column", name, col.name, offset, rows, fmt)
    if tag is not None:
        headers.append((b"etag", tag))
    return Reply(200, piece.chunks, headers, tag)


def _column_arrow(ctx: Context, ds: Dataset, name: str, column_name: str, offset: int, rows: int) -> Reply:
    """A column slice as an Arrow stream, with the headers of the other formats' slices."""
    _need_arrow()
    stream = arrow.column_arrow(ds, column_name, offset, rows, max_bytes=ctx.settings.max_column_bytes)
    headers = [(b"x-rodata-version", str(ds.version).encode("ascii", "replace")),
               (b"x-rodata-offset", b"%d" % offset), (b"x-rodata-rows", b"%d" % rows),
               (b"x-rodata-total-rows", b"%d" % len(ds))]
    return _arrow_reply(stream, headers, etag(ds, "column", name, column_name, offset, rows, "arrow"))


# -- the other routes ------------------------------------------------------------------------


def scan(ctx: Context, name: str, query: bytes, accept: bytes = b"") -> Reply:
    """``GET /v1/datasets/{name}/scan``: a JSON page, or (``format=arrow``, or without a format an
    `accept` asking for Arrow) an Arrow stream whose cursor is the ``rodata-next`` header."""
    params = parse_query(query, _SCAN_PARAMETERS)
    fmt = params.pop("format", None)
    if fmt is None:
        fmt = "arrow" if accepts_arrow(accept) else "json"
    if fmt not in ("json", "arrow"):
        raise HTTPError(422, "bad_parameter", f"format must be json or arrow, not {fmt[:40]!r}")
    ds = dataset_or_error(ctx, name)
    limit = parse_count(params, "limit", ctx.settings.default_scan_rows, minimum=1)
    assert limit is not None
    if limit > ctx.settings.max_scan_rows:
        raise HTTPError(422, "limit_too_large", f"limit {limit} is over the maximum scan page of "
                        f"{ctx.settings.max_scan_rows} rows (follow next to page)")
    columns = parse_columns(params)
    _check_columns(ds, columns)
    bounds = {k: parse_key(ds, params[k], k) if k in params else None for k in ("start", "end", "after")}
    prefix = params.get("prefix")
    if prefix is not None and ds.schema.key_column.type != "string":
        raise HTTPError(422, "bad_parameter", "prefix needs a string key column")
    _check_cursor(bounds, prefix)
    canonical = sorted({**params, "limit": str(limit)}.items())
    if fmt == "arrow":
        return _scan_arrow(ctx, ds, name, limit, prefix, columns, bounds, canonical)
    body = render.scan_page(ds, limit=limit, prefix=prefix, columns=columns,
                            max_bytes=ctx.settings.max_response_bytes, **bounds)
    return Reply.json(200, body, [_version_header(ds)], etag(ds, "scan", name, canonical))


def _scan_arrow(ctx: Context, ds: Dataset, name: str, limit: int, prefix: str | None, columns: list[str] | None,
                bounds: dict[str, Any], canonical: list[tuple[str, str]]) -> Reply:
    """A scan page as an Arrow stream; its cursor, percent-encoded as ``after=`` takes it, in the
    ``rodata-next`` header (absent on the last page)."""
    _need_arrow()
    batches, cursor = render.scan_batches(ds, limit=limit, prefix=prefix, columns=columns, **bounds)
    stream = arrow.scan_arrow(ds, batches, arrow.scan_names(ds, columns), max_bytes=ctx.settings.max_response_bytes)
    headers = [_version_header(ds)]
    if cursor is not None:
        headers.append((b"rodata-next", quote(str(cursor), safe="").encode("ascii")))
    return _arrow_reply(stream, headers, etag(ds, "scan", name, [*canonical, ("format", "arrow")]))


def _check_cursor(bounds: dict[str, Any], prefix: str | None) -> None:
    """422 ``cursor_out_of_range`` for an `after` this scan can never have given as its ``next``:
    below `start`, at or past `end`, or a key without the `prefix` (after = start is paging)."""
    after, start, end = bounds["after"], bounds["start"], bounds["end"]
    if after is None:
        return
    # Keys compare as the dataset orders them: int64 by value, strings by code point (= UTF-8 bytes).
    if start is not None and after < start:
        raise HTTPError(422, "cursor_out_of_range", f"after {after!r:.80} is below start {start!r:.80}: "
                        "a cursor is the next of a page of the same scan")
    if end is not None and after >= end:
        raise HTTPError(422, "cursor_out_of_range", f"after {after!r:.80} is at or past end {end!r:.80}: "
                        "a cursor is the next of a page of the same scan")
    if prefix is not None and not after.startswith(prefix):
        raise HTTPError(422, "cursor_out_of_range", f"after {after!r:.80} does not start with prefix "
                        f"{prefix!r:.80}: a cursor is the next of a page of the same scan")


def datasets(ctx: Context, query: bytes = b"") -> Reply:
    """``GET /v1/datasets``: the datasets served that the request's token may read."""
    check_no_parameters(query)
    if not ctx.catalog.ready:
        raise HTTPError(503, "not_ready", "datasets are still being loaded")
    readable = READABLE.get()  # the request's token's scope (None: no access control, every dataset)
    docs = [render.describe(ds) for name, ds in sorted(ctx.catalog.datasets.items())
            if readable is None or readable(name)]
    return Reply.json(200, render.dumps({"datasets": docs}))


def dataset_detail(ctx: Context, name: str, query: bytes = b"") -> Reply:
    """``GET /v1/datasets/{name}``."""
    check_no_parameters(query)
    ds = dataset_or_error(ctx, name)
    return Reply.json(200, render.dumps(render.describe(ds, detail=True)), [_version_header(ds)],
                      etag(ds, "dataset", name))


def healthz(ctx: Context, query: bytes = b"") -> Reply:
    """``GET /healthz``: 200 once loaded while a dataset is serving (with ``require_all_datasets``:
    while every dataset with a CURRENT is), else 503; the body says why."""
    check_no_parameters(query)
    doc = ctx.catalog.health(require_all=ctx.settings.require_all_datasets)
    return Reply.json(200 if doc["status"] == "ok" else 503, render.dumps(doc))


_LIVE = Reply.json(200, b'{"status":"ok"}')


def livez(ctx: Context, query: bytes = b"") -> Reply:
    """``GET /livez``: 200 while the event loop runs."""
    check_no_parameters(query)
    return _LIVE


def metrics(ctx: Context, query: bytes = b"") -> Reply:
    """``GET /metrics``: the Prometheus text exposition."""
    check_no_parameters(query)
    if ctx.metrics is None:
        raise RuntimeError("this context has no metrics")
    body = ctx.metrics.render()
    return Reply(200, (body,), [(b"content-length", b"%d" % len(body)), (b"content-type", _METRICS_TYPE)])
