"""Structured logs: one JSON object per line on stderr, for rodata's and uvicorn's loggers.

With ``--access-log`` every request is one line of the ``rodata.access`` logger
(:func:`log_access`), written by whichever path answered it (the fast path or
FastAPI); uvicorn's own access log stays off."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

__all__ = ["JSONFormatter", "configure", "log_access", "log_config"]

access_log = logging.getLogger("rodata.access")

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is logged as a field.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime",
                                                                                  "color_message", "taskName"}


class JSONFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...extra fields, "exc"?}``."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode("utf-8")


def log_config(level: str = "info", access_log: bool = False) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for rodata and uvicorn: JSON lines on stderr."""
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JSONFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {
            "rodata": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "rodata.access": {"handlers": ["stderr"], "level": "INFO" if access_log else "WARNING",
                              "propagate": False},
            # rodata writes the access log itself (with duration and bytes), for both paths.
            "uvicorn.access": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
    }


def configure(level: str = "info", access_log: bool = False) -> None:
    """Apply :func:`log_config` now (for commands that log before uvicorn starts)."""
    import logging.config

    logging.config.dictConfig(log_config(level, access_log))


def log_access(scope: Any, status: int, duration: float, nbytes: int) -> None:
    """One access log line: ``event`` ``access``, ``method``, ``path`` (as sent, still
    percent-encoded), ``query``, ``status``, ``duration`` (seconds), ``bytes`` (of the body sent)
    and ``client``."""
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else scope.get("path", "")
    query = scope.get("query_string", b"").decode("latin-1")
    client = scope.get("client")
    access_log.info("%s %s%s %d", scope["method"], path, "?" + query if query else "", status,
                    extra={"event": "access", "method": scope["method"], "path": path, "query": query,
                           "status": status, "duration": round(duration, 6), "bytes": nbytes,
                           "client": client[0] if client else None})
