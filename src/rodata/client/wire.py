"""What the client sends and receives, and the fleet's retry plan, with no I/O at all.

``rodata.Client`` and ``rodata.AsyncClient`` both move these messages over httpx; everything that
decides what to send, whether an answer is usable and which base URL to try next lives here, once."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import orjson

from rodata.errors import ClientError, KeyTypeError, UsageError

__all__ = [
    "Request",
    "Response",
    "Trial",
    "check",
    "error_from",
    "fleet_urls",
    "key_segment",
    "query",
    "segment",
]

#: Statuses that mean "this server cannot answer now": try again, elsewhere.
RETRY_STATUSES = frozenset((503,))


@dataclass(frozen=True)
class Request:
    """One HTTP request: the target is the path and query, already encoded, without the base URL."""

    method: str
    target: str
    body: bytes | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Response:
    """One HTTP answer; `headers` looks names up in any case (httpx's headers do)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str  # the base URL that answered

    @property
    def version(self) -> str | None:
        """The dataset version that answered (``x-rodata-version``), None for answers about no dataset."""
        return self.headers.get("x-rodata-version")


def segment(text: str) -> str:
    """One path segment, percent-encoded (``/`` included)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def key_segment(key: Any) -> str:
    """A key as the rows route takes it: an integer in decimal, a string percent-encoded."""
    if isinstance(key, str):
        return segment(key)
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    if hasattr(key, "dtype") and getattr(key.dtype, "kind", "") in "iu" and getattr(key, "ndim", 1) == 0:
        return str(int(key))  # a numpy integer scalar
    raise KeyTypeError(f"key {key!r:.80} is neither an integer nor a string")


def query(params: Mapping[str, Any]) -> str:
    """``?a=1&b=x`` from the parameters that are not None (lists joined by commas), or ``""``."""
    parts = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            text = ",".join(segment(str(v)) for v in value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = segment(str(value))
        parts.append(f"{name}={text}")
    return "?" + "&".join(parts) if parts else ""


def _redacted(url: str) -> str:
    """`url` without any user or password in it (they never appear in messages or reprs)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def fleet_urls(urls: str | Sequence[str]) -> tuple[str, ...]:
    """The base URLs of a fleet (one URL is a fleet of one), without trailing slashes."""
    items = (urls,) if isinstance(urls, str) else tuple(urls)
    if not items:
        raise UsageError("a client needs at least one base URL")
    out = []
    for url in items:
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise UsageError(f"not an http(s) base URL: {_redacted(str(url))!r}")
        out.append(url.rstrip("/"))
    return tuple(out)


def error_from(reply: Response) -> ClientError:
    """The :class:`ClientError` of an error answer, from its ``{"error": {"code", "message"}}`` body
    (or, for a body of another shape, say a proxy's page, ``http_<status>`` and its first bytes)."""
    code, message = f"http_{reply.status}", reply.body[:200].decode("utf-8", "replace").strip()
    try:
        doc = orjson.loads(reply.body)
        error = doc["error"]
        code, message = str(error["code"]), str(error["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        pass
    return ClientError(message, status=reply.status, code=code, url=_redacted(reply.url))


def check(reply: Response) -> Response:
    """`reply` itself when it is a success (2xx), else its :class:`ClientError`."""
    if 200 <= reply.status < 300:
        return reply
    raise error_from(reply)


class Trial:
    """The attempts of one request over a fleet: which base URL to try next and how long to wait first.

    Round 0 tries every URL once, starting from the one that last answered, moving on at once when a
    URL fails (a connection error, a timeout, a 503).  Each of the `retries` rounds after it waits
    ``backoff * 2**(round - 1)`` seconds (at most `max_backoff`), times a random factor in [0.5, 1.5)
    so that clients do not retry in step, then tries every URL again."""

    def __init__(self, fleet: Fleet) -> None:
        self._fleet = fleet
        self._failures: dict[str, str] = {}

    def __iter__(self) -> Iterator[tuple[str, float]]:
        fleet = self._fleet
        urls, start = fleet.urls, fleet.preferred
        for round_ in range(fleet.retries + 1):
            for i in range(len(urls)):
                wait = fleet.delay(round_) if round_ and not i else 0.0
                yield urls[(start + i) % len(urls)], wait

    def failed(self, url: str, why: str) -> None:
        """`url` gave no usable answer, for the reason `why`."""
        self._failures[url] = why

    def accept(self, reply: Response) -> bool:
        """True when `reply` is an answer to hand back (anything but a 503); False: try elsewhere."""
        if reply.status in RETRY_STATUSES:
            error = error_from(reply)
            self.failed(reply.url, f"HTTP {reply.status} {error.code}: {error.message}")
            return False
        self._fleet.answered(reply.url)
        return True

    def unavailable(self) -> ClientError:
        """The error when every attempt failed: ``status=None``, ``code="unavailable"``, each URL's
        last failure in the message."""
        fleet = self._fleet
        attempts = len(fleet.urls) * (fleet.retries + 1)
        reasons = "; ".join(f"{_redacted(url)}: {why}" for url, why in self._failures.items())
        return ClientError(f"no server answered after {attempts} attempts ({reasons})", status=None,
                           code="unavailable")


class Fleet:
    """The base URLs of a client, the retry settings, and which URL answered last."""

    def __init__(self, urls: tuple[str, ...], retries: int, backoff: float, max_backoff: float,
                 rng: random.Random | None = None) -> None:
        if retries < 0 or backoff < 0 or max_backoff < 0:
            raise UsageError("retries, backoff and max_backoff must not be negative")
        self.urls = urls
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.preferred = 0
        self._rng = rng or random.Random()

    def delay(self, round_: int) -> float:
        """Seconds to wait before retry round `round_` (1, 2, ...): exponential, capped, jittered."""
        base = min(self.max_backoff, self.backoff * 2.0 ** (round_ - 1))
        return base * self._rng.uniform(0.5, 1.5)

    def answered(self, url: str) -> None:
        """`url` answered: the next call starts there."""
        self.preferred = self.urls.index(url)

    def trial(self) -> Trial:
        """The attempts of one request."""
        return Trial(self)

    def describe(self) -> list[str]:
        """The base URLs as shown to people (without credentials)."""
        return [_redacted(u) for u in self.urls]
