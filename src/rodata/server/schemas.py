"""The OpenAPI description of the routes: response models, query parameters and request bodies.

The routes build their answers themselves (see :mod:`rodata.server.handlers`);
these models only document them, so that ``/openapi.json`` and ``/docs``
describe every route, its parameters and each status it answers with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rodata.server.settings import Settings

__all__ = [
    "ColumnInfo",
    "DatasetDetail",
    "DatasetInfo",
    "DatasetList",
    "ErrorBody",
    "Health",
    "LookupRows",
    "ScanPage",
    "column_parameters",
    "dataset_parameters",
    "errors",
    "lookup_body",
    "not_modified",
    "row_parameters",
    "scan_parameters",
]


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable, machine-readable error code, e.g. key_not_found")
    message: str = Field(description="What went wrong, for people")


class ErrorBody(BaseModel):
    """Every error answer has this shape."""

    error: ErrorDetail


class ColumnInfo(BaseModel):
    name: str
    type: str = Field(description="int8..uint64, float32, float64, bool, timestamp, date, string, bytes or "
                                  "vector[DIM]")
    nullable: bool


class DatasetInfo(BaseModel):
    name: str
    version: str | None = Field(description="The version served (a directory name like v000012-1a2b3c4d)")
    rows: int
    key: str = Field(description="The key column")
    columns: list[ColumnInfo]


class PartInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    file: str
    rows: int
    bytes: int | None = None
    min_key: int | str | None = None
    max_key: int | str | None = None


class DatasetDetail(DatasetInfo):
    bytes: int = Field(description="Bytes mapped")
    created_at: str | None = None
    parts: list[PartInfo]
    build: dict[str, Any] = Field(description="How the version was built (from its manifest)")


class DatasetList(BaseModel):
    datasets: list[DatasetInfo]


class LookupRows(BaseModel):
    rows: list[dict[str, Any] | None] = Field(description="One row (an object) or null per key, in the order "
                                                          "of the keys given")


class ScanPage(BaseModel):
    rows: list[dict[str, Any]] = Field(description="Rows in key order")
    next: int | str | None = Field(description="Cursor: repeat the request with after=<next> for the next "
                                               "page; null on the last page")


class RefusedVersion(BaseModel):
    version: str
    reason: str


class DatasetHealth(BaseModel):
    name: str
    state: str = Field(description="serving or unavailable")
    version: str | None
    rows: int | None
    swaps: int
    refused: list[RefusedVersion]
    error: str | None


class Health(BaseModel):
    status: str = Field(description="loading (first load not done), ok, or unavailable (no dataset serving)")
    ready: bool
    datasets: list[DatasetHealth]


_ERROR_TEXT = {
    400: "Malformed request (the body is not JSON)",
    404: "No such dataset, key or route",
    413: "Over a configured limit (keys per lookup, body size, slice size)",
    422: "Invalid parameter, key, column or body; a query parameter the route does not take",
    503: "Datasets are still being loaded",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries of error statuses, all with :class:`ErrorBody`."""
    return {status: {"model": ErrorBody, "description": _ERROR_TEXT[status]} for status in statuses}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def not_modified() -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry of a 304 (the routes whose answers carry an ETag)."""
    return {304: {"description": "Not modified: If-None-Match names this answer's ETag (headers, no body)"}}


_COLUMNS = _query("columns", "Comma-separated column names to return (all when absent); an unknown one is 422",
                  {"type": "string"})
_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                  "description": "ETags of answers already held: 304 when one is this answer's (the same "
                                 "version and request)"}


def dataset_parameters() -> dict[str, Any]:
    """``openapi_extra`` of the dataset description route."""
    return {"parameters": [_IF_NONE_MATCH]}


def row_parameters() -> dict[str, Any]:
    """``openapi_extra`` of the row route."""
    return {"parameters": [_COLUMNS, _IF_NONE_MATCH]}


def scan_parameters(settings: Settings) -> dict[str, Any]:
    """``openapi_extra`` of the scan route."""
    key = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    return {"parameters": [
        _query("start", "First key (inclusive)", key),
        _query("end", "Last key (exclusive)", key),
        _query("prefix", "Keys starting with this (string keys only)", {"type": "string"}),
        _query("after", "Cursor: only keys after this one (the previous page's next; below start, at or past "
                        "end, or without the prefix is 422)", key),
        _query("limit", f"Rows per page (default {settings.default_scan_rows}, at most {settings.max_scan_rows})",
               {"type": "integer", "minimum": 1, "maximum": settings.max_scan_rows}),
        _COLUMNS,
        _IF_NONE_MATCH,
    ]}


def column_parameters(settings: Settings) -> dict[str, Any]:
    """``openapi_extra`` of the column route, with its binary answers."""
    return {
        "parameters": [
            _query("offset", "First row (an offset past the end is 422)", {"type": "integer", "minimum": 0}),
            _query("limit", "Rows (a limit past the end is clipped)", {"type": "integer", "minimum": 0}),
            _query("format", "raw (default for fixed-width columns), npy, or json (the only form for string "
                             "and bytes columns)", {"type": "string", "enum": ["raw", "npy", "json"]}),
            _IF_NONE_MATCH,
        ],
        "responses": {"200": {"description": (
            "raw: the little-endian values as they are mapped (headers x-rodata-dtype, x-rodata-shape); "
            f"npy: a .npy file; json: an array with nulls. At most {settings.max_column_bytes} bytes "
            f"(binary) or {settings.max_column_json_rows} rows (JSON) per request."),
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "application/x-npy": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": {"type": "array", "items": {}}},
            }}},
    }


def lookup_body(settings: Settings) -> dict[str, Any]:
    """``openapi_extra`` of the lookup route: its request body and the binary answer."""
    schema = {
        "type": "object",
        "required": ["keys"],
        "additionalProperties": False,
        "properties": {
            "keys": {"type": "array", "maxItems": settings.max_lookup_keys,
                     "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                     "description": "Keys of the dataset's key type (int64 or string)"},
            "columns": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                        "description": "Columns to return (all when absent)"},
            "format": {"type": "string", "enum": ["json", "npz"], "default": "json",
                       "description": "npz: a NumPy archive with found, values/<column> and valid/<column> "
                                      "(fixed-width columns only)"},
        },
    }
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": {"200": {"content": {"application/x-npz": {"schema": {"type": "string", "format": "binary"}}}}},
    }
