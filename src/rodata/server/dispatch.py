"""Matching requests against the route table, and the one decoding of path segments.

:class:`Router` matches a raw path with one split and dict lookups (never a regex walk); the
raw-ASGI fast path uses it for the hot routes.  :func:`decode_segment` is the one decoding of a
matched path parameter, whichever path matched it; :func:`invoker` calls a route's handler with
the decoded values, the same way for every route."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes

from rodata.server import handlers
from rodata.server.errors import HTTPError, Reply
from rodata.server.handlers import Context
from rodata.server.routes import Route

__all__ = ["Invoke", "Router", "decode_name", "decode_segment", "handler_of", "invoker"]


_NAMES: dict[bytes | str, str] = {}


def decode_segment(raw: bytes | str) -> str:
    """A matched path segment, percent-decoded, as text (a str is the raw path read as latin-1);
    422 ``bad_path`` when it is not UTF-8 after percent-decoding."""
    data = raw.encode("latin-1") if isinstance(raw, str) else raw
    if b"%" in data:
        data = unquote_to_bytes(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(422, "bad_path", "a path segment is not valid UTF-8 after percent-decoding") from None


def decode_name(raw: bytes | str) -> str:
    """:func:`decode_segment` of a ``{name}`` segment, remembered: such a segment names a thing
    (a dataset), and the same few come in every request; a ``{name:path}`` tail may be a key, and
    is decoded afresh."""
    text = _NAMES.get(raw)
    if text is None:
        text = decode_segment(raw)
        if len(_NAMES) >= 1024:  # names that match nothing must not grow it without end
            _NAMES.clear()
        _NAMES[raw] = text
    return text


def handler_of(route: Route) -> Any:
    """The function of :mod:`rodata.server.handlers` that answers `route`."""
    return getattr(handlers, route.handler)


class Invoke(Protocol):
    """``invoke(ctx, raw path parameters, query, body, content_type=b"", accept=b"")``: a route's
    handler called the one way (`content_type`: the request's raw first ``content-type`` value,
    `accept`: its raw first ``Accept`` value, each ``b""`` when absent; only routes with a body
    read the first, only routes that answer Arrow the second)."""

    def __call__(self, ctx: Context, raw: Sequence[bytes | str], query: bytes, body: bytes | None,
                 content_type: bytes = b"", accept: bytes = b"") -> Reply: ...


def invoker(route: Route) -> Invoke:
    """How `route` is answered: its raw path parameters percent-decoded (:func:`decode_segment`),
    then ``handler(ctx, *values, [body, content_type,] query, [accept])``, the same way for every
    route and whichever path matched it (`accept` for the routes that answer Arrow).  A fault of
    the query string is told before a path segment that does not decode: a parameter the request
    does not take is always 422 ``unknown_parameter``."""
    fn = handler_of(route)
    allowed = route.query_names
    has_body = route.body
    arrow = route.arrow

    decoders = tuple(decode_segment if s.tail else decode_name for s in route.segments if s.param)

    def values(raw: Sequence[bytes | str], query: bytes, content_type: bytes) -> list[str]:
        try:
            return [decode(value) for decode, value in zip(decoders, raw, strict=True)]
        except HTTPError:
            handlers.parse_query(query, handlers.query_names(route, content_type))
            raise

    # One function per shape of call, without a loop for the usual route of two parameters.
    if has_body:
        def invoke(ctx: Context, raw: Sequence[bytes | str], query: bytes, body: bytes | None,
                   content_type: bytes = b"", accept: bytes = b"") -> Reply:
            if arrow:
                return fn(ctx, *values(raw, query, content_type), body, content_type, query,  # type: ignore[no-any-return]
                          accept)
            return fn(ctx, *values(raw, query, content_type), body, content_type, query)  # type: ignore[no-any-return]
    elif len(decoders) != 2:
        def invoke(ctx: Context, raw: Sequence[bytes | str], query: bytes, body: bytes | None,
                   content_type: bytes = b"", accept: bytes = b"") -> Reply:
            if arrow:
                return fn(ctx, *values(raw, query, content_type), query, accept)  # type: ignore[no-any-return]
            return fn(ctx, *values(raw, query, content_type), query)  # type: ignore[no-any-return]
    else:
        decode_first, decode_second = decoders

        def invoke(ctx: Context, raw: Sequence[bytes | str], query: bytes, body: bytes | None,
                   content_type: bytes = b"", accept: bytes = b"") -> Reply:
            try:
                first, second = decode_first(raw[0]), decode_second(raw[1])
            except HTTPError:
                handlers.parse_query(query, allowed)
                raise
            if arrow:
                return fn(ctx, first, second, query, accept)  # type: ignore[no-any-return]
            return fn(ctx, first, second, query)  # type: ignore[no-any-return]

    return invoke


class _Shape:
    """Routes whose patterns have the same segment count and the same literal positions."""

    __slots__ = ("at", "literals", "params", "table")

    def __init__(self, literal_at: tuple[int, ...], param_at: tuple[int, ...]) -> None:
        self.at = literal_at
        self.literals = itemgetter(*literal_at)
        # Always a tuple, even for one parameter (itemgetter of one index gives the item itself).
        self.params: Callable[[list[bytes]], tuple[bytes, ...]] = (
            itemgetter(*param_at) if len(param_at) > 1 else _one(param_at[0]) if param_at else _none)
        # literal segments -> method -> (route, invoke, the parameters that must not be empty)
        self.table: dict[Any, dict[str, tuple[Route, Invoke, tuple[int, ...]]]] = {}


def _one(index: int) -> Callable[[list[bytes]], tuple[bytes, ...]]:
    def one(parts: list[bytes]) -> tuple[bytes, ...]:
        return (parts[index],)
    return one


def _none(parts: list[bytes]) -> tuple[bytes, ...]:
    return ()


class Router:
    """Raw path and method -> ``(route, invoke, raw parameter segments)``, for the given routes.

    The path is split on ``/`` once; a dict keyed by the literal segments finds the route.  A
    ``{name}`` segment must not be empty; a ``{name:path}`` tail is one segment here, empty or
    not (a path with more segments is left to the framework, which answers it 404).  ``HEAD``
    matches the ``GET`` routes."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._shapes: dict[int, tuple[_Shape, ...]] = {}
        for route in routes:
            self._add(route)
        # The usual case, one shape per segment count, without a loop.
        self._single = {count: shapes[0] for count, shapes in self._shapes.items() if len(shapes) == 1}

    def _add(self, route: Route) -> None:
        count = len(route.segments) + 1  # the empty text before the leading slash
        literal_at = (0, *(i + 1 for i, s in enumerate(route.segments) if not s.param))
        param_at = tuple(i + 1 for i, s in enumerate(route.segments) if s.param)
        shapes = self._shapes.get(count, ())
        shape = next((s for s in shapes if s.at == literal_at), None)
        if shape is None:
            shape = _Shape(literal_at, param_at)
            self._shapes[count] = (*shapes, shape)
        sample = [b""] * count
        for i, segment in zip(literal_at[1:], (s for s in route.segments if not s.param), strict=True):
            sample[i] = segment.text.encode()
        required = tuple(i for i, s in enumerate(s for s in route.segments if s.param) if not s.tail)
        methods = shape.table.setdefault(shape.literals(sample), {})
        entry = (route, invoker(route), required)
        for method in route.methods:
            methods[method] = entry
            if method == "GET":
                methods.setdefault("HEAD", entry)

    def match(self, raw_path: bytes, method: str) -> tuple[Route, Invoke, tuple[bytes, ...]] | None:
        """The route `raw_path` (as sent, still percent-encoded) and `method` ask for, how to
        answer it, and its raw parameter segments; None when no route of this router matches."""
        parts = raw_path.split(b"/")
        shape = self._single.get(len(parts))
        if shape is not None:  # one shape of this many segments: the common case
            return _match(shape, parts, method)
        for shape in self._shapes.get(len(parts), ()):
            found = _match(shape, parts, method)
            if found is not None:
                return found
        return None


def _match(shape: _Shape, parts: list[bytes], method: str) -> tuple[Route, Invoke, tuple[bytes, ...]] | None:
    methods = shape.table.get(shape.literals(parts))
    if methods is None:
        return None
    entry = methods.get(method)
    if entry is None:
        return None
    params = shape.params(parts)
    for i in entry[2]:
        if not params[i]:
            return None
    return entry[0], entry[1], params
