"""Access control on the ASGI side: :class:`AuthMiddleware`, a pure ASGI middleware that asks the
:class:`~rodata.server.tokens.Gate` about every request the application answers.

A request is matched against the route table (:class:`~rodata.server.dispatch.Router` over
:data:`~rodata.server.routes.ROUTES`, on the path the framework routes on) to know its route's
name and the dataset its ``{name}`` segment names; the gate's 401 or 403 is sent as it is, and
counted in the metrics (and the access log) under the route's label like any other answer.  For
``GET /v1/datasets`` the token's scope is handed to the handler through
:data:`~rodata.server.tokens.READABLE`.  The compiled protocol calls the same
:meth:`Gate.decide <rodata.server.tokens.Gate.decide>` for the hot routes it answers itself,
naming the dataset with :func:`dataset_name`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rodata.server.asgi import ASGIApp, Receive, Scope, Send, send_reply
from rodata.server.dispatch import Router, decode_name
from rodata.server.errors import HTTPError
from rodata.server.routes import ROUTES
from rodata.server.tokens import READABLE, Gate

__all__ = ["AuthMiddleware", "Gate", "dataset_name", "route_of"]

_ROUTER = Router(ROUTES)
_NAME_AT = {route.name: route.params.index("name") for route in ROUTES if "name" in route.params}
_DATASETS_PREFIX = b"/v1/datasets/"


def dataset_name(raw: bytes | str) -> str:
    """The dataset a raw ``{name}`` segment names: :func:`~rodata.server.dispatch.decode_name`,
    or, for a segment that is not UTF-8 after percent-decoding (no dataset is named so), the
    segment as sent read as latin-1, so that a token whose scope holds no such name is refused
    (403) and one that may read every dataset is told the route's own 422."""
    try:
        return decode_name(raw)
    except HTTPError:
        return raw if isinstance(raw, str) else raw.decode("latin-1")


def route_of(path: bytes, method: str) -> tuple[str, str | None]:
    """The route name `path` and `method` ask for, as :meth:`Gate.decide` takes it, and the
    dataset it names: a route of the table; ``docs`` for the documentation; else ``other``
    (with the dataset of a path under ``/v1/datasets/``, so that no path into a dataset is let
    through on a token without its scope)."""
    found = _ROUTER.match(path, method)
    if found is not None:
        route, _, params = found
        at = _NAME_AT.get(route.name)
        return route.name, None if at is None else dataset_name(params[at])
    if path in (b"/docs", b"/openapi.json", b"/") or path.startswith(b"/docs/static/"):
        return "docs", None
    if path.startswith(_DATASETS_PREFIX):
        name = path[len(_DATASETS_PREFIX):].partition(b"/")[0]
        if name:
            return "other", dataset_name(name)
    return "other", None


def _route_path(scope: Scope) -> str:
    """The path the framework routes on: ``scope["path"]`` (the raw path for /v1/ paths, see
    ``RodataAPI.framework``; else decoded) less the ``root_path``, as Starlette's routing reads it.
    The gate matches that one, so that no spelling of a path reaches a route under another
    route's rule."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root):]
    return path


def _authorization(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value  # type: ignore[no-any-return]
    return None


class AuthMiddleware:
    """Every HTTP request asked of the application passes the gate first.

    `labels` maps a route name to the framework's route object, set as the scope's ``route``
    when the gate answers, so that the answer is counted under that route's label."""

    def __init__(self, app: ASGIApp, gate: Gate, labels: Mapping[str, Any]) -> None:
        self.app = app
        self.gate = gate
        self.labels = labels

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _route_path(scope)
        try:
            raw = path.encode("latin-1")
        except UnicodeEncodeError:
            raw = path.encode("utf-8")
        route, dataset = route_of(raw, scope["method"])
        authorization = _authorization(scope)
        reply = self.gate.decide(authorization, route, dataset)
        if reply is not None:
            label = self.labels.get(route)
            if label is not None:
                scope["route"] = label
            await send_reply(send, reply)  # a HEAD request's body is dropped by the framework's send
            return
        if route != "datasets":
            await self.app(scope, receive, send)
            return
        token = READABLE.set(self.gate.readable(authorization))
        try:
            await self.app(scope, receive, send)
        finally:
            READABLE.reset(token)
