"""``create_app``: the FastAPI application with every route of the HTTP contract.

The application object is a :class:`fastapi.FastAPI`; its ``__call__`` sends
row, lookup and column requests to the raw-ASGI fast path first (see
:mod:`rodata.server.fastpath`), and everything else through FastAPI.  ``HEAD``
is answered on every GET route (the GET answer's status and headers, no body),
on both paths.  The catalog starts with the application's lifespan: ``/livez``
answers as soon as the loop runs, ``/healthz`` turns 200 once every dataset was
mapped and verified."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import Enum
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
from rodata.server import handlers, schemas
from rodata.server.conditional import revalidated
from rodata.server.errors import HTTPError, Reply, error_reply, reply_for_exception
from rodata.server.fastpath import FastPath, Receive, Scope, Send, internal_error, read_body, send_reply
from rodata.server.handlers import Context
from rodata.server.logs import log_access
from rodata.server.metrics import CONTENT_TYPE, Metrics
from rodata.server.settings import Settings

__all__ = ["RodataAPI", "create_app"]

log = logging.getLogger("rodata.server")

_DESCRIPTION = """Read-only datasets served from memory-mapped files.

Errors always have the shape `{"error": {"code": "...", "message": "..."}}`.
Keys in paths are typed by the dataset's key column: int64 in decimal, or a percent-encoded string."""

_ROUTE_LABELS = {
    "/v1/datasets": "datasets",
    "/v1/datasets/{name}": "dataset",
    "/v1/datasets/{name}/scan": "scan",
    "/v1/datasets/{name}/rows/{key:path}": "row",
    "/v1/datasets/{name}/lookup": "lookup",
    "/v1/datasets/{name}/columns/{column:path}": "column",
    "/healthz": "healthz",
    "/livez": "livez",
    "/metrics": "metrics",
    "/docs": "docs",
    "/openapi.json": "docs",
    "/": "docs",
}
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
    """The FastAPI application, with the raw-ASGI fast path in front of it."""

    ctx: Context
    catalog: Catalog
    metrics: Metrics
    _entry: Any

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._entry(scope, receive, send)

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
    unless given) is loaded and watched from the application's lifespan."""
    settings = settings or Settings.from_env()
    catalog = catalog or Catalog(data_root, verify=settings.verify, prefault=settings.prefault)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        catalog.start(settings.poll_interval)
        watch = asyncio.get_running_loop().create_task(_warn_if_empty(catalog))
        try:
            yield
        finally:
            watch.cancel()
            catalog.stop()

    app = RodataAPI(title="rodata", version=__version__, description=_DESCRIPTION, lifespan=lifespan,
                    docs_url=None, redoc_url=None, **_no_telemetry())
    app.router.redirect_slashes = False
    app.ctx = Context(catalog, settings)
    app.catalog = catalog
    app.metrics = Metrics(catalog)
    app._entry = FastPath(app.ctx, app.metrics, app.framework) if settings.fast_path else app.framework
    _add_error_handlers(app)
    _add_routes(app, app.ctx, settings)
    _add_docs(app)
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


def _reply(request: Request, fn: Any, *args: Any) -> ReplyResponse:
    """The route's answer, or its 304 when the request's If-None-Match names its ETag."""
    reply = handlers.guarded(fn, *args)
    if reply.etag is not None:
        reply = revalidated(reply, request.scope["headers"])
    return ReplyResponse(reply)


def _query(request: Request) -> bytes:
    query: bytes = request.scope["query_string"]
    return query


def _raw_segments(request: Request) -> list[bytes]:
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
    return raw[len(b"/v1/datasets/"):].split(b"/")


def _not_found() -> ReplyResponse:
    return ReplyResponse(error_reply(404, "not_found", "no such route"))


def _add_routes(app: RodataAPI, ctx: Context, settings: Settings) -> None:
    tag_data: list[str | Enum] = ["datasets"]
    tag_ops: list[str | Enum] = ["operations"]

    @app.get("/livez", tags=tag_ops, summary="Liveness: 200 while the event loop runs",
             responses=schemas.errors(422))
    async def livez(request: Request) -> Response:
        return _reply(request, handlers.livez, _query(request))

    @app.get("/healthz", tags=tag_ops, summary="Readiness: every dataset's state",
             responses={200: {"model": schemas.Health}, 503: {"model": schemas.Health,
                                                              "description": "Loading, or no dataset serving"},
                        **schemas.errors(422)})
    async def healthz(request: Request) -> Response:
        return _reply(request, handlers.healthz, ctx, _query(request))

    @app.get("/metrics", tags=tag_ops, summary="Prometheus metrics",
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **schemas.errors(422)})
    async def metrics(request: Request) -> Response:
        try:
            handlers.check_no_parameters(_query(request))
        except HTTPError as exc:
            return ReplyResponse(exc.reply())
        body = app.metrics.render()
        return Response(body, media_type=CONTENT_TYPE)

    @app.get("/v1/datasets", tags=tag_data, summary="Every dataset served",
             responses={200: {"model": schemas.DatasetList}, **schemas.errors(422, 503)})
    async def list_datasets(request: Request) -> Response:
        return _reply(request, handlers.datasets, ctx, _query(request))

    @app.get("/v1/datasets/{name}", tags=tag_data, summary="One dataset: schema, parts, build information",
             responses={200: {"model": schemas.DatasetDetail}, **schemas.not_modified(),
                        **schemas.errors(404, 422, 503)},
             openapi_extra=schemas.dataset_parameters())
    async def dataset(name: str, request: Request) -> Response:
        parts = _raw_segments(request)
        if len(parts) != 1:
            return _not_found()
        return _reply(request, lambda: handlers.dataset_detail(ctx, handlers.segment(parts[0]), _query(request)))

    @app.get("/v1/datasets/{name}/rows/{key:path}", tags=tag_data, summary="One row by key",
             responses={200: {"description": "The row as a JSON object",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                        **schemas.not_modified(), **schemas.errors(404, 422, 503)},
             openapi_extra=schemas.row_parameters())
    async def row(name: str, key: str, request: Request) -> Response:
        parts = _raw_segments(request)
        if len(parts) != 3:
            return _not_found()
        return _reply(request, handlers.row, ctx, parts[0], parts[2], _query(request))

    @app.post("/v1/datasets/{name}/lookup", tags=tag_data, summary="Many rows by key",
              responses={200: {"model": schemas.LookupRows}, **schemas.errors(400, 404, 413, 422, 503)},
              openapi_extra=schemas.lookup_body(settings))
    async def lookup(name: str, request: Request) -> Response:
        try:
            body = await read_body(request.scope, request.receive, settings.max_body_bytes)
        except HTTPError as exc:
            return ReplyResponse(exc.reply())
        return _reply(request, handlers.lookup, ctx, _raw_segments(request)[0], body, _query(request))

    @app.get("/v1/datasets/{name}/scan", tags=tag_data, summary="Rows in key order, page by page",
             responses={200: {"model": schemas.ScanPage}, **schemas.not_modified(), **schemas.errors(404, 422, 503)},
             openapi_extra=schemas.scan_parameters(settings))
    async def scan(name: str, request: Request) -> Response:
        return _reply(request, lambda: handlers.scan(ctx, handlers.segment(_raw_segments(request)[0]),
                                                     _query(request)))

    @app.get("/v1/datasets/{name}/columns/{column:path}", tags=tag_data, summary="A slice of one column",
             responses={**schemas.not_modified(), **schemas.errors(404, 413, 422, 503)},
             openapi_extra=schemas.column_parameters(settings))
    async def column(name: str, column: str, request: Request) -> Response:
        parts = _raw_segments(request)
        if len(parts) != 3:
            return _not_found()
        return _reply(request, handlers.column, ctx, parts[0], parts[2], _query(request))


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
