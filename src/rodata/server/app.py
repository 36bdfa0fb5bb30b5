"""``create_app``: the FastAPI application with every route of the HTTP contract.

The application object is a :class:`fastapi.FastAPI` answering every route of the
table.  Under ``rodata serve`` the hot routes (row, lookup, column) are answered
before ASGI, by the compiled protocol (:mod:`rodata.server.runner`), and only the
rest reaches the application; with the fast path off (and in-process), every
route is answered here.  ``HEAD`` is answered on every GET route (the GET
answer's status and headers, no body), on both paths.  The catalog starts with the application's lifespan: ``/livez``
answers as soon as the loop runs, ``/healthz`` turns 200 once every dataset was
mapped and verified."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from time import perf_counter
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from rodata._version import __version__
from rodata.catalog import Catalog
from rodata.server import dispatch, handlers, schemas
from rodata.server.asgi import Receive, Scope, Send, internal_error, read_body, send_reply
from rodata.server.auth import AuthMiddleware
from rodata.server.conditional import revalidated
from rodata.server.errors import HTTPError, Reply, error_reply, reply_for_exception
from rodata.server.handlers import Context
from rodata.server.logs import log_access
from rodata.server.metrics import Metrics
from rodata.server.routes import ROUTES, Route
from rodata.server.settings import Settings
from rodata.server.tokens import Gate

__all__ = ["RodataAPI", "create_app"]

log = logging.getLogger("rodata.server")

_DESCRIPTION = """Read-only datasets served from memory-mapped files.

Errors always have the shape `{"error": {"code": "...", "message": "..."}}`.
Keys in paths are typed by the dataset's key column: int64 in decimal, or a percent-encoded string."""

_ROUTE_LABELS = {**{route.path: route.name for route in ROUTES}, "/docs": "docs", "/openapi.json": "docs", "/": "docs"}
_NOTHING, _STARTED, _COMPLETE = 0, 1, 2  # how much of an answer was sent
_HANDLED = "rodata.handled_error"  # the scope key naming the error a handler already answered (and logged)
_STATUS_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
                 415: "unsupported_media_type", 422: "bad_request"}


class ReplyResponse(Response):
    """A :class:`Reply` as a Starlette response (sent exactly as the fast path sends it)."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.status_code = reply.status
        self.background = None
        self.body = b""
        self.raw_headers = reply.headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_reply(send, self.reply)


class RodataAPI(FastAPI):
    """The FastAPI application, counting every request it answers in the metrics."""

    ctx: Context
    catalog: Catalog
    metrics: Metrics
    gate: Gate | None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.framework(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a request through FastAPI, counting it in the metrics (and the access log)."""
        if scope["type"] != "http":
            await FastAPI.__call__(self, scope, receive, send)
            return
        started = perf_counter()
        status = 500
        sent = _NOTHING
        nbytes = 0
        logged = scope
        head = scope["method"] == "HEAD"
        if head:
            # Every GET route answers HEAD: route it as the GET it stands for (in a copy: the
            # server's own scope still says HEAD) and send the headers without the body.
            scope = {**scope, "method": "GET"}
        raw = scope.get("raw_path")
        if raw and raw.startswith(b"/v1/"):
            # The dataset routes read their segments from the raw path (an encoded slash stays
            # inside its segment); they are matched on it too, as the fast path matches them, so
            # that a segment decoding to a slash or a newline finds the same route both ways.
            scope["path"] = raw.decode("latin-1")

        async def send_counted(message: Any) -> None:
            nonlocal status, sent, nbytes
            if message["type"] == "http.response.start":
                status = message["status"]
                sent = _STARTED
            elif message["type"] == "http.response.body":
                more = message.get("more_body", False)
                if head:
                    if more:
                        return
                    message = {"type": "http.response.body", "body": b""}
                body = message.get("body", b"")
                nbytes += body.nbytes if isinstance(body, memoryview) else len(body)
                if not more:
                    sent = _COMPLETE
            await send(message)

        try:
            await FastAPI.__call__(self, scope, receive, send_counted)
        except Exception as exc:
            # Starlette raises the error again after its handler answered it.  Letting it reach
            # the server would make it close the connection after a complete answer (without
            # saying so): keep the connection instead, and answer here if nothing was sent.
            if sent == _STARTED:
                raise  # half a body: only closing the connection can end this answer
            if scope.get(_HANDLED) is not exc:
                reply = internal_error(exc)
                if sent == _NOTHING:
                    status = reply.status
                    await send_reply(send, reply, head)
        finally:
            route = getattr(scope.get("route"), "path", None)
            duration = perf_counter() - started
            self.metrics.observe(_ROUTE_LABELS.get(route or "", "other"), status, duration)
            if self.ctx.settings.access_log:
                log_access(logged, status, duration, nbytes)


def create_app(data_root: str | os.PathLike[str], *, settings: Settings | None = None,
               catalog: Catalog | None = None) -> RodataAPI:
    """The application serving every dataset under `data_root`.

    `settings` default to :meth:`Settings.from_env`.  The catalog (created here
    unless given) is loaded and watched from the application's lifespan.  With
    ``settings.tokens_file`` every request passes the gate (``app.gate``, a
    :class:`~rodata.server.tokens.Gate`, also given to the compiled protocol; None
    without tokens): a broken file is a UsageError here, and the file is watched
    from the lifespan."""
    settings = settings or Settings.from_env()
    gate = Gate(settings.tokens_file) if settings.tokens_file else None
    catalog = catalog or Catalog(data_root, verify=settings.verify, prefault=settings.prefault)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        catalog.start(settings.poll_interval)
        if gate is not None:
            log.info("access control: %d tokens from %s", gate.tokens, gate.path,
                     extra={"event": "tokens_loaded", "file": str(gate.path), "tokens": gate.tokens})
            gate.start(settings.poll_interval)
        watch = asyncio.get_running_loop().create_task(_warn_if_empty(catalog))
        try:
            yield
        finally:
            watch.cancel()
            if gate is not None:
                gate.stop()
            catalog.stop()

    app = RodataAPI(title="rodata", version=__version__, description=_DESCRIPTION, lifespan=lifespan,
                    docs_url=None, redoc_url=None, **_no_telemetry())
    app.router.redirect_slashes = False
    app.metrics = Metrics(catalog)
    app.ctx = Context(catalog, settings, app.metrics)
    app.catalog = catalog
    app.gate = gate
    _add_error_handlers(app)
    _add_routes(app, app.ctx, settings)
    _add_docs(app)
    if gate is not None:
        # A refused request is counted under its route's label: the framework's route object of
        # each route of the table, which the gate's middleware puts in the scope as routing would.
        by_path = {getattr(r, "path", None): r for r in app.router.routes}
        app.add_middleware(AuthMiddleware, gate=gate, labels={r.name: by_path[r.path] for r in ROUTES})
    return app


async def _warn_if_empty(catalog: Catalog) -> None:
    """One warning once the first load is done, when the data root holds no dataset at all."""
    while not catalog.ready:
        await asyncio.sleep(0.05)
    if catalog.states():
        return
    root = Path(catalog.data_root)
    hint = (f"; {root} is itself a dataset: pass its parent as the data root" if (root / "CURRENT").exists()
            else " (a dataset is a directory with a CURRENT file, made by rodata build or rodata.write)")
    log.warning("the data root %s holds no dataset%s", root, hint,
                extra={"event": "no_datasets", "data_root": str(root)})


def _no_telemetry() -> dict[str, Any]:
    """FastAPI's per-request telemetry off (where this FastAPI has it)."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False,
                          "auto_configure": False}}


def _add_routes(app: RodataAPI, ctx: Context, settings: Settings) -> None:
    """One FastAPI route per entry of the route table (HEAD is routed as GET by ``framework``)."""
    for route in ROUTES:
        app.add_api_route(route.path, _endpoint(route, ctx, settings), methods=list(route.methods),
                          name=route.operation or route.name, **schemas.operation(route, settings))


def _endpoint(route: Route, ctx: Context, settings: Settings) -> Any:
    """The FastAPI endpoint of `route`: its path parameters (matched on the raw path, so still
    percent-encoded) given to the route's handler the one way (:func:`dispatch.invoker`)."""
    invoke = dispatch.invoker(route)
    tail = route.segments[-1].text if route.segments[-1].tail else None

    def first(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
        """The value of the first header `name` (ASGI gives names in lower case), b"" when absent."""
        for key, value in headers:
            if key == name:
                return value
        return b""

    offload = route.offload

    async def endpoint(request: Request, **raw: str) -> Response:
        if tail is not None and "/" in raw[tail]:
            return ReplyResponse(error_reply(404, "not_found", "no such route"))
        query: bytes = request.scope["query_string"]
        body = None
        content_type = accept = b""
        if route.body:
            try:
                body = await read_body(request.scope, request.receive, settings.max_body_bytes)
            except HTTPError as exc:
                return ReplyResponse(exc.reply())
            content_type = first(request.scope["headers"], b"content-type")  # a lookup's keys: JSON or binary
        if route.arrow:
            accept = first(request.scope["headers"], b"accept")  # which may ask for an Arrow answer
        args = (invoke, ctx, [raw[p] for p in route.params], query, body, content_type, accept)
        # An answer that may read many pages is made off the loop, within the time bound.
        reply = await ctx.offload.run(handlers.guarded, *args) if offload else handlers.guarded(*args)
        if reply.etag is not None:
            reply = revalidated(reply, request.scope["headers"])
        return ReplyResponse(reply)

    # FastAPI reads the path parameters from the signature (and documents them from it).
    params = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)]
    params += [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, annotation=str) for p in route.params]
    endpoint.__signature__ = inspect.Signature(params, return_annotation=Response)  # type: ignore[attr-defined]
    endpoint.__name__ = route.name
    return endpoint


def _add_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPError):
            return ReplyResponse(exc.reply())
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        return ReplyResponse(error_reply(exc.status_code, code, message))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return ReplyResponse(error_reply(422, "bad_request", f"{where}: {first.get('msg', 'invalid request')}"))

    async def unexpected(request: Request, exc: Exception) -> Response:
        mapped = reply_for_exception(exc)
        request.scope[_HANDLED] = exc
        return ReplyResponse(mapped if mapped is not None else internal_error(exc))

    app.add_exception_handler(HTTPError, http_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)


def _static_dir() -> Path:
    """Swagger UI's files, shipped by the fastapi-offline package (no CDN: /docs works offline)."""
    return Path(str(resources.files("fastapi_offline") / "static"))


def _add_docs(app: FastAPI) -> None:
    app.mount("/docs/static", StaticFiles(directory=_static_dir()), name="docs-static")

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        location = (request.scope.get("root_path", "") + "/docs").encode("latin-1", "replace")
        return ReplyResponse(Reply(307, (b"",), [(b"location", location), (b"content-length", b"0")]))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="rodata - API",
                                   swagger_js_url="/docs/static/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/static/swagger-ui.css",
                                   swagger_favicon_url="/docs/static/favicon.png")
