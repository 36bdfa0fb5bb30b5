"""Structured logs: one JSON object per line on stderr, for rodata's and uvicorn's loggers."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

__all__ = ["JSONFormatter", "configure", "log_config"]

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
            "uvicorn.access": {"handlers": ["stderr"], "level": "INFO" if access_log else "WARNING",
                               "propagate": False},
        },
    }


def configure(level: str = "info", access_log: bool = False) -> None:
    """Apply :func:`log_config` now (for commands that log before uvicorn starts)."""
    import logging.config

    logging.config.dictConfig(log_config(level, access_log))
