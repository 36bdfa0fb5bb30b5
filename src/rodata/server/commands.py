"""The ``rodata serve`` and ``rodata demo`` subcommands."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from rodata._exit import EXIT_USAGE
from rodata._help import add_command, add_data_root
from rodata.errors import RodataError, UsageError

__all__ = ["register"]


def _env_port(default: int) -> int:
    raw = os.environ.get("RODATA_PORT", "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        return -1  # reported as a usage error by the command
    return int(raw)


def register(subparsers: Any) -> None:
    """Add ``serve`` and ``demo`` to the ``rodata`` command."""
    serve = add_command(
        subparsers, "serve", "serve every dataset under a data root over HTTP",
        "Serve every dataset under DIR over HTTP: one process, one event loop, one core. Scale with "
        "replicas, not workers. Every version is mapped and deep-validated before it is served (or, with "
        "--verify recorded, its recorded verdict checked), and a new one swapped in as its CURRENT changes. "
        "Settings also come from RODATA_* environment variables "
        "(see docs/server.md).",
        ["rodata serve --data-root /srv/data", "rodata serve --data-root /srv/data --host 0.0.0.0 --port 8080",
         "RODATA_DATA_ROOT=/srv/data rodata serve --access-log"])
    add_data_root(serve)
    _add_listen_flags(serve)
    serve.add_argument("--poll-interval", metavar="SECONDS", type=float, default=None,
                       help="seconds between reads of each dataset's CURRENT (env RODATA_POLL_INTERVAL, 1.0)")
    serve.add_argument("--max-lookup-keys", metavar="N", type=int, default=None,
                       help="keys per lookup (env RODATA_MAX_LOOKUP_KEYS, 100000)")
    serve.add_argument("--max-scan-rows", metavar="N", type=int, default=None,
                       help="rows per scan page (env RODATA_MAX_SCAN_ROWS, 10000)")
    serve.add_argument("--max-body-bytes", metavar="BYTES", type=int, default=None,
                       help="request body size (env RODATA_MAX_BODY_BYTES, 16 MiB)")
    serve.add_argument("--max-column-bytes", metavar="BYTES", type=int, default=None,
                       help="bytes per column slice, JSON included (env RODATA_MAX_COLUMN_BYTES, 64 MiB)")
    serve.add_argument("--max-response-bytes", metavar="BYTES", type=int, default=None,
                       help="bytes per lookup answer or scan page (env RODATA_MAX_RESPONSE_BYTES, 64 MiB)")
    serve.add_argument("--tokens", metavar="FILE", default=None,
                       help="the tokens file: every route but the probes and /docs then needs "
                            "Authorization: Bearer <token> (see docs/server.md, Access control; "
                            "env RODATA_TOKENS_FILE; default: open)")
    serve.add_argument("--no-fast-path", action="store_true",
                       help="answer every route through the ASGI application (FastAPI), the reference the "
                            "compiled fast path must equal "
                            "(env RODATA_FAST_PATH=0)")
    serve.add_argument("--prefault", action="store_true", default=None,
                       help="read each version into the page cache before serving it (env RODATA_PREFAULT)")
    serve.add_argument("--access-log", action="store_true", default=None,
                       help="log every request (env RODATA_ACCESS_LOG; off by default)")
    serve.add_argument("--log-level", default=None, choices=["debug", "info", "warning", "error"], metavar="LEVEL",
                       help="debug, info, warning or error (env RODATA_LOG_LEVEL, info)")
    serve.add_argument("--keep-alive-timeout", metavar="SECONDS", type=float, default=None,
                       help="close a keep-alive connection idle this long; set it above the load balancer's "
                            "idle timeout (env RODATA_KEEP_ALIVE_TIMEOUT, 5)")
    serve.add_argument("--verify", choices=["full", "recorded"], default=None, metavar="full|recorded",
                       help="full: every byte of each version deep-validated by this server; recorded: the "
                            "headers, manifest and the verdicts recorded beside the version (rodata verify "
                            "--deep --record), a version without one waited for (env RODATA_VERIFY, full)")
    serve.add_argument("--require-all-datasets", action="store_true", default=None,
                       help="/healthz is 503 while any dataset with a CURRENT serves no version at all "
                            "(env RODATA_REQUIRE_ALL_DATASETS)")
    serve.add_argument("--max-concurrency", metavar="N", type=int, default=None,
                       help="requests in progress at once; more are answered 503 overloaded at once, probes "
                            "exempt (env RODATA_MAX_CONCURRENCY; 0 or unset: no limit)")
    serve.add_argument("--request-timeout", metavar="SECONDS", type=float, default=None,
                       help="a lookup, scan page or column slice not answered within this long is 503 timeout "
                            "(answered off the event loop; env RODATA_REQUEST_TIMEOUT, 10)")
    serve.add_argument("--drain-seconds", metavar="SECONDS", type=float, default=None,
                       help="how long SIGTERM waits for requests in flight (env RODATA_DRAIN_SECONDS, 20)")
    serve.add_argument("--workers", metavar="N", type=int, default=None,
                       help="must be 1: one process serves one core; scale with replicas")
    serve.set_defaults(func=_serve)

    demo = add_command(
        subparsers, "demo", "build a sample dataset on all cores, serve it and print example requests",
        "Generate a sample CSV (first run only) in $RODATA_DEMO_DIR or ./rodata-demo, build it with the ETL, "
        "serve it and print curl commands to try. The port is checked before anything is built.",
        ["rodata demo", "rodata demo --port 0 --seconds 60", "rodata demo --dir /tmp/demo --no-serve"])
    demo.add_argument("--dir", metavar="DIR", default=os.environ.get("RODATA_DEMO_DIR", "rodata-demo"),
                      help="working directory for the sample and its data root (env RODATA_DEMO_DIR)")
    demo.add_argument("--rows", type=int, default=200_000, metavar="N", help="rows in the sample (first run only)")
    _add_listen_flags(demo)
    demo.add_argument("--no-serve", action="store_true", help="build and print the examples, do not serve")
    demo.add_argument("--seconds", type=float, default=None, metavar="SECONDS",
                      help="stop serving after this many seconds (default: until Ctrl-C or SIGTERM)")
    demo.set_defaults(func=_demo)


def _add_listen_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", metavar="HOST", default=os.environ.get("RODATA_HOST", "127.0.0.1"),
                        help="address to listen on (env RODATA_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, metavar="PORT", default=_env_port(8080),
                        help="port to listen on, 0 for any free one (env RODATA_PORT, 8080)")


def _usage(message: str) -> int:
    print(f"rodata: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _serve(args: argparse.Namespace) -> int:
    from rodata.server.runner import MultipleWorkersError, check_single_worker

    try:
        check_single_worker(args.workers)
    except MultipleWorkersError as exc:
        return _usage(str(exc))
    if not args.data_root:
        return _usage("serve needs --data-root DIR (or RODATA_DATA_ROOT)")
    if not os.path.isdir(args.data_root):
        return _usage(f"--data-root {args.data_root}: no such directory")
    if not 0 <= args.port <= 65535:
        return _usage("the port (--port or RODATA_PORT) must be a number from 0 to 65535")
    from rodata.server.settings import Settings

    try:
        settings = Settings.from_env(
            poll_interval=args.poll_interval, max_lookup_keys=args.max_lookup_keys,
            max_scan_rows=args.max_scan_rows, max_body_bytes=args.max_body_bytes,
            max_column_bytes=args.max_column_bytes, max_response_bytes=args.max_response_bytes,
            prefault=args.prefault, access_log=args.access_log,
            log_level=args.log_level, drain_seconds=args.drain_seconds,
            keep_alive_timeout=args.keep_alive_timeout, request_timeout=args.request_timeout, verify=args.verify,
            require_all_datasets=args.require_all_datasets, max_concurrency=args.max_concurrency,
            fast_path=False if args.no_fast_path else None, tokens_file=args.tokens)
    except UsageError as exc:
        return _usage(str(exc))
    from rodata.server.app import create_app
    from rodata.server.runner import run

    try:
        app = create_app(args.data_root, settings=settings)  # a broken tokens file: a usage error
    except UsageError as exc:
        return _usage(str(exc))
    try:
        return run(app, args.host, args.port, on_listen=_warn_if_open(app.gate is None))
    except OSError as exc:
        raise RodataError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}: pick another --port "
                          "(0 picks a free one) or --host") from None


def _warn_if_open(open_access: bool) -> Callable[[str, int], None]:
    """What to do once listening: without tokens, warn when the address is not loopback only."""

    def on_listen(host: str, port: int) -> None:
        if open_access and not _loopback(host):
            logging.getLogger("rodata.server").warning(
                "serving without access control on %s:%d: anyone who can reach it reads every dataset "
                "(pass --tokens FILE, see docs/server.md)", host, port,
                extra={"event": "open_access", "host": host, "port": port})

    return on_listen


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.partition("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


def _demo(args: argparse.Namespace) -> int:
    from rodata.server.demo import run_demo

    if not 0 <= args.port <= 65535:
        return _usage("the port (--port or RODATA_PORT) must be a number from 0 to 65535")
    if args.rows < 1:
        return _usage("--rows must be positive")
    return run_demo(args.dir, rows=args.rows, host=args.host, port=args.port, serve=not args.no_serve,
                    seconds=args.seconds)
