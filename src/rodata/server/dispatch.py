"""Matching requests against the route table, and the one decoding of path segments.

:class:`Router` matches a raw path with one split and dict lookups (never a regex walk); the
raw-ASGI fast path uses it for the hot routes.  :func:`decode_segment` is the one decoding of a
matched path parameter, whichever path matched it; :func:`call` calls a route's handler with
the decoded values, the same way for every route."""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter
from typing import Any
from urllib.parse import unquote_to_bytes

from rodata.server import handlers
from rodata.server.errors import HTTPError, Reply
from rodata.server.handlers import Context
from rodata.server.routes import Route

__all__ = ["Router", "call", "decode_segment", "handler_of"]


def decode_segment(raw: bytes | str) -> str:
    """A matched path segment, percent-decoded, as text (a str is the raw path read as latin-1);
    422 ``bad_path`` when it is not UTF-8 after percent-decoding."""
    if isinstance(raw, str):
        raw = raw.encode("latin-1")
    if b"%" in raw:
        raw = unquote_to_bytes(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(422, "bad_path", "a path segment is not valid UTF-8 after percent-decoding") from None


def handler_of(route: Route) -> Any:
    """The function of :mod:`rodata.server.handlers` that answers `route`."""
    return getattr(handlers, route.handler)


def call(route: Route, ctx: Context, raw_params: Iterable[bytes | str], query: bytes, body: bytes | None = None,
         fn: Any = None) -> Reply:
    """``handler(ctx, *decoded path values, [body,] query)``: the one way every handler is called
    (`fn`: the handler, when the caller holds it already)."""
    try:
        values = [decode_segment(raw) for raw in raw_params]
    except HTTPError:
        # A fault of the query string is told first, whatever the path holds: a parameter the
        # route does not take is always answered 422 unknown_parameter, naming it.
        handlers.parse_query(query, route.query_names)
        raise
    if fn is None:
        fn = handler_of(route)
    if route.body:
        reply: Reply = fn(ctx, *values, body, query)
    else:
        reply = fn(ctx, *values, query)
    return reply


class _Shape:
    """Routes whose patterns have the same segment count and the same literal positions."""

    __slots__ = ("at", "literals", "params", "table")

    def __init__(self, literal_at: tuple[int, ...], param_at: tuple[int, ...]) -> None:
        self.at = literal_at
        self.literals = itemgetter(*literal_at)
        self.params = itemgetter(*param_at) if param_at else None
        # literal segments -> method -> (route, handler, whether each parameter may be empty)
        self.table: dict[Any, dict[str, tuple[Route, Any, tuple[bool, ...]]]] = {}


class Router:
    """Raw path and method -> ``(route, handler, raw parameter segments)``, for the given routes.

    The path is split on ``/`` once; a dict keyed by the literal segments finds the route.  A
    ``{name}`` segment must not be empty; a ``{name:path}`` tail is one segment here, empty or
    not (a path with more segments is left to the framework, which answers it 404).  ``HEAD``
    matches the ``GET`` routes."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._shapes: dict[int, list[_Shape]] = {}
        for route in routes:
            self._add(route)

    def _add(self, route: Route) -> None:
        count = len(route.segments) + 1  # the empty text before the leading slash
        literal_at = (0, *(i + 1 for i, s in enumerate(route.segments) if not s.param))
        param_at = tuple(i + 1 for i, s in enumerate(route.segments) if s.param)
        shapes = self._shapes.setdefault(count, [])
        shape = next((s for s in shapes if s.at == literal_at), None)
        if shape is None:
            shape = _Shape(literal_at, param_at)
            shapes.append(shape)
        sample = [b""] * count
        for i, segment in zip(literal_at[1:], (s for s in route.segments if not s.param), strict=True):
            sample[i] = segment.text.encode()
        empty_ok = tuple(s.tail for s in route.segments if s.param)
        methods = shape.table.setdefault(shape.literals(sample), {})
        entry = (route, handler_of(route), empty_ok)
        for method in route.methods:
            methods[method] = entry
            if method == "GET":
                methods.setdefault("HEAD", entry)

    def match(self, raw_path: bytes, method: str) -> tuple[Route, Any, tuple[bytes, ...]] | None:
        """The route `raw_path` (as sent, still percent-encoded) and `method` ask for, its handler
        and its raw parameter segments; None when no route of this router matches."""
        parts = raw_path.split(b"/")
        shapes = self._shapes.get(len(parts))
        if shapes is None:
            return None
        for shape in shapes:
            methods = shape.table.get(shape.literals(parts))
            if methods is None:
                continue
            entry = methods.get(method)
            if entry is None:
                return None
            params = () if shape.params is None else shape.params(parts)
            if not isinstance(params, tuple):
                params = (params,)
            for value, may_be_empty in zip(params, entry[2], strict=True):
                if not value and not may_be_empty:
                    return None
            return entry[0], entry[1], params
        return None

