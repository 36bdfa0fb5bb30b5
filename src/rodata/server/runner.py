"""Running the server: one uvicorn process, one event loop (uvloop), one core, and rodata's own
HTTP/1.1 protocol (:mod:`rodata.server._http`, compiled, over httptools): the hot routes are
answered on the connection, every other request by the ASGI application.

Capacity grows by adding replicas, never workers: a second worker would map the
same files again and compete for the same core."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from rodata.errors import RodataError
from rodata.server import auth, rowtargets
from rodata.server._http import Wire
from rodata.server.app import RodataAPI
from rodata.server.dispatch import Router
from rodata.server.logs import configure, log_config
from rodata.server.routes import HOT
from rodata.server.threads import limit_native_threads

__all__ = ["MultipleWorkersError", "bind", "check_single_worker", "run", "wire_for"]

log = logging.getLogger("rodata.server")

SCALE_MESSAGE = ("rodata serves with one process and one event loop per core; scale with replicas "
                 "(more pods or processes behind a load balancer), not workers")


class MultipleWorkersError(RodataError):
    """A configuration asked for more than one worker process."""


def check_single_worker(workers: int | None) -> None:
    """Refuse any request for several worker processes (a flag or ``WEB_CONCURRENCY``)."""
    env = os.environ.get("WEB_CONCURRENCY", "").strip()
    if workers is not None and workers != 1:
        raise MultipleWorkersError(f"--workers {workers} refused: {SCALE_MESSAGE}")
    if env and env != "1":
        raise MultipleWorkersError(f"WEB_CONCURRENCY={env} refused: {SCALE_MESSAGE}")


def wire_for(app: RodataAPI) -> Wire:
    """The compiled protocol's shared state for `app` (``http=wire_for(app).protocol``)."""
    settings = app.ctx.settings
    return Wire(app, Router(HOT), app.metrics.counters, keep_alive_timeout=settings.keep_alive_timeout,
                fast=settings.fast_path, row_target=rowtargets.row_target, row_etag=rowtargets.row_etag,
                gate=app.gate, dataset_name=auth.dataset_name)


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on `host`:`port` (port 0 picks a free one)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    # Listen now: connections made while the application starts wait in the backlog instead of
    # being refused.
    sock.listen(4096)
    return sock


def _protocol_class(wire: Wire) -> Any:
    # uvicorn calls its "protocol class" with keyword arguments only: a factory does.
    return wire.protocol


def run(app: RodataAPI, host: str, port: int, *, on_listen: Callable[[str, int], None] | None = None,
        stop_after: float | None = None) -> int:
    """Serve `app` until SIGTERM or SIGINT (or `stop_after` seconds), then drain requests in flight
    and return 0.  `on_listen(host, port)` is called once the address is bound."""
    settings = app.ctx.settings
    limit_native_threads(1)
    configure(settings.log_level, settings.access_log)
    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=_protocol_class(wire_for(app)),
        lifespan="on",
        workers=1,
        access_log=False,  # rodata logs each request itself (rodata.server.logs.log_access)
        log_config=log_config(settings.log_level, settings.access_log),
        server_header=False,
        timeout_graceful_shutdown=int(max(1.0, settings.drain_seconds)),
        backlog=4096,
    )
    server = uvicorn.Server(config)
    if stop_after is not None:
        timer = threading.Timer(stop_after, lambda: setattr(server, "should_exit", True))
        timer.daemon = True
        timer.start()
    # Before uvicorn takes the signals over (and after it hands them back, re-raising the one that
    # stopped it), SIGTERM and SIGINT just ask the server to stop: the process then exits with 0.
    def stop_quietly(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop_quietly) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        log.info("listening on http://%s:%d", bound_host, bound_port,
                 extra={"event": "listening", "host": bound_host, "port": bound_port, "pid": os.getpid(),
                        "data_root": str(app.catalog.data_root), "fast_path": settings.fast_path})
        if on_listen is not None:
            on_listen(bound_host, bound_port)
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    log.info("stopped", extra={"event": "stopped"})
    return 0 if server.started else 1
