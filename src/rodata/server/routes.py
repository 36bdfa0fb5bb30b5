"""The route table: every route of the HTTP API, once, as plain data.

Each :class:`Route` says its methods, its path pattern, the handler that answers it (a function
of :mod:`rodata.server.handlers`, by name), whether it is hot (answered below the web framework),
the query parameters it takes and its OpenAPI description.  From this one table are made:

- the hot-route dispatcher (:class:`rodata.server.dispatch.Router`, a dict lookup per request;
  a compiled HTTP protocol reads :data:`HOT` the same way: each route's `methods`, its
  `segments` and whether it takes a `body`),
- the FastAPI routes (:func:`rodata.server.app.create_app`), and so ``/openapi.json`` and ``/docs``,
- each route's set of query parameters (any other is 422 ``unknown_parameter``),
- the route labels of the metrics.

A pattern is ``/``-separated segments, each a literal or a parameter: ``{name}`` is one non-empty
segment; ``{name:path}`` (last segment only) is one segment that may be empty (a key or a column
may be the empty string), and a request with more segments after it is 404 ``not_found``.  Both
are matched on the raw path, so a percent-encoded slash stays inside its segment; the parameter
values are percent-decoded once (:func:`rodata.server.dispatch.decode_segment`) before any handler
sees them.  Descriptions may name settings: ``{max_scan_rows}`` in a text, :class:`Setting` in a
schema (filled in from the server's :class:`~rodata.server.settings.Settings`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BY_NAME", "HOT", "ROUTES", "Param", "Route", "Segment", "Setting"]


@dataclass(frozen=True)
class Setting:
    """A value in an OpenAPI schema taken from the server's settings (e.g. a maximum)."""

    name: str


@dataclass(frozen=True)
class Param:
    """A query parameter (or, with ``where="header"``, a request header) a route takes."""

    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    where: str = "query"


@dataclass(frozen=True)
class Segment:
    """One segment of a path pattern: a literal (``param`` False, `text` the literal) or a
    parameter (`text` its name; `tail` for ``{name:path}``, which may be empty)."""

    text: str
    param: bool = False
    tail: bool = False


@dataclass(frozen=True)
class Route:
    """One route: how it is matched, what answers it, how it is documented.

    `name` labels its metrics; `handler` names its function in :mod:`rodata.server.handlers`,
    called as ``handler(ctx, *path values, [body, content type,] query, [accept])``.  `body`: the
    handler takes the request body (read up to ``max_body_bytes``) and its content type.
    `offload`: it is answered off the event loop, within ``--request-timeout``
    (:mod:`rodata.server.offload`: its answers may read many pages of the mapping).
    `arrow`: it answers Arrow streams too, and its handler takes the request's ``Accept`` value
    last (``format=arrow`` or that header asks for them).  `etag`: its answers carry an ETag (documented
    as the 304 and the ``If-None-Match`` header).  `errors`: the error statuses it documents;
    `model` (a name in :mod:`rodata.server.schemas`) or `ok`: its OpenAPI 200 response;
    `responses`: other statuses it documents; `openapi`: further fields of its OpenAPI
    operation (``requestBody``; content types added to a response); `operation`: the name its
    OpenAPI operation id starts with (`name` when empty; generated clients name methods by it)."""

    name: str
    methods: tuple[str, ...]
    path: str
    handler: str
    summary: str
    tag: str = "datasets"
    hot: bool = False
    offload: bool = False
    query: tuple[Param, ...] = ()
    body: bool = False
    arrow: bool = False
    etag: bool = False
    errors: tuple[int, ...] = (422,)
    model: str | None = None
    ok: dict[str, Any] | None = None
    responses: dict[int, dict[str, Any]] = field(default_factory=dict)
    openapi: dict[str, Any] = field(default_factory=dict)
    operation: str = ""
    segments: tuple[Segment, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", _segments(self.path))

    @property
    def params(self) -> tuple[str, ...]:
        """The path parameters' names, in order."""
        return tuple(s.text for s in self.segments if s.param)

    @property
    def query_names(self) -> frozenset[str]:
        """The query parameters it takes (any other is 422 ``unknown_parameter``)."""
        return frozenset(p.name for p in self.query if p.where == "query")


def _segments(path: str) -> tuple[Segment, ...]:
    if not path.startswith("/"):
        raise ValueError(f"a route path starts with '/': {path!r}")
    out = []
    parts = path[1:].split("/")
    for i, part in enumerate(parts):
        if part.startswith("{") and part.endswith("}"):
            name, _, kind = part[1:-1].partition(":")
            if kind not in ("", "path") or (kind == "path" and i != len(parts) - 1):
                raise ValueError(f"{path!r}: only the last segment may be {{name:path}}")
            out.append(Segment(name, param=True, tail=kind == "path"))
        else:
            out.append(Segment(part))
    return tuple(out)


_COLUMNS = Param("columns", "Comma-separated column names to return (all when absent); an unknown one is 422")
_KEY_SCHEMA: dict[str, Any] = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
_JSON_OBJECT = {"description": "The row as a JSON object",
                "content": {"application/json": {"schema": {"type": "object"}}}}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_ARROW_TYPE = "application/vnd.apache.arrow.stream"
_ARROW = {_ARROW_TYPE: {"schema": {"type": "string", "format": "binary",
                                   "description": "An Arrow IPC stream (pyarrow.ipc.open_stream reads it)"}}}
_ARROW_HOW = (f"arrow: an Arrow IPC stream ({_ARROW_TYPE}); without format, an Accept header naming "
              f"{_ARROW_TYPE} asks for it too")
_NO_ARROW = {406: {"description": "Arrow asked for (format=arrow or Accept), and this server has no pyarrow "
                                  "(arrow_unavailable)",
                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}}

_LOOKUP_BODY = {
    "type": "object",
    "required": ["keys"],
    "additionalProperties": False,
    "properties": {
        "keys": {"type": "array", "maxItems": Setting("max_lookup_keys"),
                 "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                 "description": "Keys of the dataset's key type (int64 or string)"},
        "columns": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                    "description": "Columns to return (all when absent)"},
        "format": {"type": "string", "enum": ["json", "npz", "arrow"], "default": "json",
                   "description": "npz: a NumPy archive with found, values/<column> and valid/<column> "
                                  "(fixed-width columns only); arrow: an Arrow IPC stream, a bool found column "
                                  "then the columns, aligned with the keys (absent rows and nulls are nulls)"},
    },
}

_LOOKUP_BODIES = ("JSON keys (application/json, or any content type but application/octet-stream): an object "
                  "with keys, columns and format, and no query parameters. Binary keys "
                  "(application/octet-stream): little-endian int64 keys, 8 bytes each, for datasets keyed by "
                  "int64 (otherwise 415; a length that is not a multiple of 8 is 400 malformed_keys), with "
                  "columns and format as query parameters.")
_LOOKUP_QUERY = (
    Param("columns", "With binary keys only (JSON keys give them in the body): comma-separated column names to "
                     "return (all when absent; with npz, every fixed-width column); an unknown one is 422"),
    Param("format", "With binary keys only: json (default), npz (a NumPy archive with found, values/<column> "
                    "and valid/<column>; fixed-width columns only) or " + _ARROW_HOW + " (a bool found column, then "
                    "the columns aligned with the keys)", {"type": "string", "enum": ["json", "npz", "arrow"]}),
)

#: Every route, in the order the documentation lists them.
ROUTES: tuple[Route, ...] = (
    Route("livez", ("GET",), "/livez", "livez", "Liveness: 200 while the event loop runs", tag="operations"),
    Route("healthz", ("GET",), "/healthz", "healthz", "Readiness: every dataset's state", tag="operations",
          model="Health", responses={503: {"model": "Health", "description": "Loading, or no dataset serving"}}),
    Route("metrics", ("GET",), "/metrics", "metrics", "Prometheus metrics", tag="operations",
          ok={"content": {"text/plain": {"schema": {"type": "string"}}}}),
    Route("datasets", ("GET",), "/v1/datasets", "datasets", "Every dataset served", errors=(422, 503),
          model="DatasetList", operation="list_datasets"),
    Route("dataset", ("GET",), "/v1/datasets/{name}", "dataset_detail",
          "One dataset: schema, parts, build information", etag=True, errors=(404, 422, 503), model="DatasetDetail"),
    Route("row", ("GET",), "/v1/datasets/{name}/rows/{key:path}", "row", "One row by key", hot=True,
          query=(_COLUMNS,), etag=True, errors=(404, 422, 503), ok=_JSON_OBJECT),
    Route("lookup", ("POST",), "/v1/datasets/{name}/lookup", "lookup", "Many rows by key", hot=True, offload=True,
          body=True,
          arrow=True, errors=(400, 404, 413, 422, 503), model="LookupRows", query=_LOOKUP_QUERY,
          responses={415: {"description": "Binary keys for a dataset whose key column is not int64",
                           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
                     **_NO_ARROW},
          openapi={"requestBody": {"required": True, "description": _LOOKUP_BODIES, "content": {
                       "application/json": {"schema": _LOOKUP_BODY},
                       "application/octet-stream": {"schema": {
                           "type": "string", "format": "binary", "maxLength": Setting("max_body_bytes"),
                           "description": "Keys as little-endian int64, 8 bytes each (at most {max_lookup_keys} "
                                          "keys)"}}}},
                   "responses": {"200": {"content": {"application/x-npz": _BINARY, **_ARROW}}}}),
    Route("scan", ("GET",), "/v1/datasets/{name}/scan", "scan", "Rows in key order, page by page", offload=True,
          etag=True,
          arrow=True, errors=(404, 422, 503), model="ScanPage", responses=_NO_ARROW, query=(
              Param("start", "First key (inclusive)", _KEY_SCHEMA),
              Param("end", "Last key (exclusive)", _KEY_SCHEMA),
              Param("prefix", "Keys starting with this (string keys only)"),
              Param("after", "Cursor: only keys after this one (the previous page's next; below start, at or "
                             "past end, or without the prefix is 422)", _KEY_SCHEMA),
              Param("limit", "Rows per page (default {default_scan_rows}, at most {max_scan_rows})",
                    {"type": "integer", "minimum": 1, "maximum": Setting("max_scan_rows")}),
              _COLUMNS,
              Param("format", "json (default) or " + _ARROW_HOW + "; the cursor is then the rodata-next header "
                              "(percent-encoded, absent on the last page)",
                    {"type": "string", "enum": ["json", "arrow"]})),
          openapi={"responses": {"200": {"content": _ARROW}}}),
    Route("column", ("GET",), "/v1/datasets/{name}/columns/{column:path}", "column", "A slice of one column",
          offload=True,
          hot=True, arrow=True, etag=True, errors=(404, 413, 422, 503), responses=_NO_ARROW, query=(
              Param("offset", "First row (an offset past the end is 422)", {"type": "integer", "minimum": 0}),
              Param("limit", "Rows (a limit past the end is clipped)", {"type": "integer", "minimum": 0}),
              Param("format", "raw (default for fixed-width columns), npy, json (the default for string and bytes "
                              "columns) or " + _ARROW_HOW + " (any column type)",
                    {"type": "string", "enum": ["raw", "npy", "json", "arrow"]})),
          openapi={"responses": {"200": {"description": (
              "raw: the little-endian values as they are mapped (headers x-rodata-dtype, x-rodata-shape); "
              "npy: a .npy file; json: an array with nulls; arrow: an Arrow IPC stream of one column named "
              "as the column. At most {max_column_bytes} bytes (binary, Arrow) or {max_column_json_rows} rows "
              "(JSON) per request."),
              "content": {"application/octet-stream": _BINARY, "application/x-npy": _BINARY,
                          "application/json": {"schema": {"type": "array", "items": {}}}, **_ARROW}}}}),
)

#: The routes by name.
BY_NAME: dict[str, Route] = {route.name: route for route in ROUTES}
#: The hot routes: answered below the web framework (the raw-ASGI fast path, or a compiled protocol).
HOT: tuple[Route, ...] = tuple(route for route in ROUTES if route.hot)
