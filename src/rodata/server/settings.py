"""Server settings: limits, polling, start-up behaviour.  Every one can be set by an environment
variable (``RODATA_<NAME>``), and most by a ``rodata serve`` flag."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from rodata.catalog import verify_mode
from rodata.errors import UsageError

__all__ = ["Settings"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """Limits and behaviour of one server process (defaults in parentheses).

    - ``max_lookup_keys`` (100,000): keys in one batch lookup; more is 413.
    - ``max_scan_rows`` (10,000): rows in one scan page; a larger ``limit`` is 422.
    - ``default_scan_rows`` (1,000): rows in a scan page when ``limit`` is not given.
    - ``max_body_bytes`` (16 MiB): size of a request body; more is 413.
    - ``max_column_bytes`` (64 MiB): bytes in one column slice (raw and npy: exactly; JSON: the size
      bound computed before the body is built, see :mod:`rodata.sizes`); more is 413.
    - ``max_column_json_rows`` (100,000): rows in one JSON column slice; more is 413.
    - ``max_response_bytes`` (64 MiB): the size bound of a lookup answer (JSON or npz) or a scan
      page, computed before it is built; more is 413 ``response_too_large``.
    - ``poll_interval`` (1.0 s): how often each dataset's CURRENT is read.
    - ``verify`` (``full``): what is checked before a version is served: ``full`` (every checksum,
      every byte deep-validated), ``recorded`` (headers, manifest and the verdicts recorded beside
      the version, rodata.validation) or ``off`` (structure only); true means ``full``, false ``off``.
    - ``require_all_datasets`` (off): ``/healthz`` is 503 while any dataset with a CURRENT serves no
      version at all.
    - ``max_concurrency`` (none): requests in progress at once; more are answered 503 ``overloaded``
      at once (probes exempt).  0 means no limit, like none.
    - ``prefault`` (off): read each version into the page cache before it is served.
    - ``drain_seconds`` (20 s): how long SIGTERM waits for requests in flight.
    - ``keep_alive_timeout`` (5 s): an idle keep-alive connection is closed after this long.
    - ``request_timeout`` (10 s): a lookup, scan page or column slice (answered off the event loop)
      not made within this long is 503 ``timeout``.
    - ``access_log`` (off), ``log_level`` (info).
    - ``fast_path`` (on): answer row, lookup and column requests on the connection (the compiled
      protocol), not through the ASGI application.
    - ``tokens_file`` (none): the tokens file of access control (:mod:`rodata.server.tokens`);
      without one every route is open.
    """

    max_lookup_keys: int = 100_000
    max_scan_rows: int = 10_000
    default_scan_rows: int = 1_000
    max_body_bytes: int = 16 * 1024 * 1024
    max_column_bytes: int = 64 * 1024 * 1024
    max_column_json_rows: int = 100_000
    max_response_bytes: int = 64 * 1024 * 1024
    poll_interval: float = 1.0
    verify: str | bool = "full"
    require_all_datasets: bool = False
    prefault: bool = False
    drain_seconds: float = 20.0
    keep_alive_timeout: float = 5.0
    request_timeout: float = 10.0
    access_log: bool = False
    log_level: str = "info"
    fast_path: bool = True
    tokens_file: str | None = None
    max_concurrency: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "verify", verify_mode(self.verify))
        if self.max_concurrency is not None:
            if isinstance(self.max_concurrency, bool) or not isinstance(self.max_concurrency, int) \
                    or self.max_concurrency < 0:
                raise UsageError(f"setting max_concurrency must be 0 (no limit) or more, not {self.max_concurrency!r}")
            if self.max_concurrency == 0:
                object.__setattr__(self, "max_concurrency", None)
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
                raise UsageError(f"setting {f.name} must be positive, not {value!r}")
        if self.default_scan_rows > self.max_scan_rows:
            object.__setattr__(self, "default_scan_rows", self.max_scan_rows)
        if self.log_level.lower() not in ("critical", "error", "warning", "info", "debug"):
            raise UsageError(f"unknown log level {self.log_level!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``RODATA_<NAME>`` environment variables, then `overrides` (None values ignored)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"RODATA_{f.name.upper()}")
            if raw is not None and raw.strip() != "":
                values[f.name] = _parse(f.name, raw.strip(), _KINDS.get(f.name) or type(getattr(cls(), f.name)))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


#: Settings whose default's type is not the type of their values.
_KINDS: dict[str, type] = {"max_concurrency": int, "verify": str}


def _parse(name: str, raw: str, kind: type) -> Any:
    env = f"RODATA_{name.upper()}"
    if kind is bool:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise UsageError(f"{env}={raw!r}: expected true or false")
    if kind is int:
        try:
            return int(raw.replace("_", ""))
        except ValueError:
            raise UsageError(f"{env}={raw!r}: expected an integer") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise UsageError(f"{env}={raw!r}: expected a number") from None
    return raw
