"""The OpenAPI description of the routes: the response models, and each route's description made
from its entry in the route table (:mod:`rodata.server.routes`).

The routes build their answers themselves (see :mod:`rodata.server.handlers`);
these models only document them, so that ``/openapi.json`` and ``/docs``
describe every route, its parameters and each status it answers with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rodata.server.routes import Param, Route, Setting
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
    "errors",
    "operation",
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


def _filled(value: Any, settings: Settings) -> Any:
    """`value` with every :class:`Setting` replaced by the setting, and ``{name}`` in texts by it."""
    if isinstance(value, Setting):
        return getattr(settings, value.name)
    if isinstance(value, str):
        return value.format_map(vars(settings)) if "{" in value else value
    if isinstance(value, dict):
        return {k: _filled(v, settings) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_filled(v, settings) for v in value]
    return value


def _response(doc: dict[str, Any]) -> dict[str, Any]:
    """A ``responses=`` entry, its model named in the table made the model class."""
    if "model" not in doc:
        return doc
    return {**doc, "model": _MODELS[doc["model"]]}


def _parameter(param: Param) -> dict[str, Any]:
    if param.where == "header":
        return {"name": param.name, "in": "header", "required": False, "schema": param.schema,
                "description": param.description}
    return {"name": param.name, "in": "query", "required": False, "description": param.description,
            "schema": param.schema}


_IF_NONE_MATCH = Param("If-None-Match", "ETags of answers already held: 304 when one is this answer's (the same "
                                        "version and request)", where="header")
_NOT_MODIFIED = {"description": "Not modified: If-None-Match names this answer's ETag (headers, no body)"}
_MODELS: dict[str, type[BaseModel]] = {model.__name__: model for model in (
    DatasetDetail, DatasetList, Health, LookupRows, ScanPage)}


def operation(route: Route, settings: Settings) -> dict[str, Any]:
    """The OpenAPI arguments of `route` for FastAPI's ``add_api_route``: ``tags``, ``summary``,
    ``responses`` and ``openapi_extra`` (its query parameters and the rest of its description)."""
    responses: dict[int | str, dict[str, Any]] = {}
    if route.model is not None:
        responses[200] = {"model": _MODELS[route.model]}
    elif route.ok is not None:
        responses[200] = route.ok
    responses.update({status: _response(doc) for status, doc in route.responses.items()})
    if route.etag:
        responses[304] = _NOT_MODIFIED
    responses.update(errors(*route.errors))
    extra = dict(route.openapi)
    params = [*route.query, _IF_NONE_MATCH] if route.etag else list(route.query)
    if params:
        extra["parameters"] = [_parameter(p) for p in params]
    return {"tags": [route.tag], "summary": route.summary, "responses": responses,
            "openapi_extra": _filled(extra, settings) if extra else None}
