"""Access control's decisions: the tokens file, read and checked strictly, and the :class:`Gate`
that says, for one request, whether its bearer token may have the answer.

The file (``rodata serve --tokens FILE``) is JSON::

    {"tokens": [{"name": "svc-a", "sha256": "<hex SHA-256 of the token>", "datasets": ["flights", "users-*"]}]}

Each entry of ``datasets`` is a glob pattern (:func:`fnmatch.fnmatchcase`) over dataset names;
``"*"`` is every dataset; the entry ``"metrics"`` is not a pattern but the scope that allows
``/metrics`` (``"*"`` does not).  Only digests are held: a token is never stored, logged or compared
as it is.  The gate watches the file (its resolved target's device, inode, mtime and size, which an
atomic rename and a Kubernetes Secret's ``..data`` swap both change) from a daemon thread and swaps
in an immutable snapshot of the new tokens; a file that does not read or does not check keeps the
previous tokens and logs an error naming the file, never its contents.

This module knows nothing of HTTP routing (:mod:`rodata.server.auth` wraps the ASGI application
with it; the compiled protocol calls :meth:`Gate.decide` itself), so that the handlers can read
:data:`READABLE` without an import circle."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from collections.abc import Callable
from contextvars import ContextVar
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from rodata._poller import Poller
from rodata.errors import UsageError
from rodata.server.errors import Reply, error_reply

__all__ = ["DATASET_ROUTES", "FORBIDDEN", "OPEN_ROUTES", "READABLE", "UNAUTHORIZED", "Gate", "Principal",
           "read_tokens"]

log = logging.getLogger("rodata.server")

#: The datasets the request's token may read, for ``GET /v1/datasets`` (set by the ASGI side for
#: the request it lets through; None when the server has no tokens: every dataset).
READABLE: ContextVar[Callable[[str], bool] | None] = ContextVar("rodata_readable", default=None)

#: Routes anyone may ask: the probes and the documentation.
OPEN_ROUTES = frozenset(("livez", "healthz", "docs"))
#: Routes that read one dataset, named by their ``{name}`` segment.
DATASET_ROUTES = frozenset(("dataset", "row", "lookup", "column", "scan"))
METRICS_SCOPE = "metrics"

_CHALLENGE = (b"www-authenticate", b"Bearer")


def _unauthorized(message: str) -> Reply:
    reply = error_reply(401, "unauthorized", message)
    reply.headers.append(_CHALLENGE)
    return reply


#: No ``Authorization`` header, or not a bearer token.
UNAUTHORIZED = _unauthorized("this server needs a bearer token: Authorization: Bearer <token>")
#: A bearer token the tokens file does not hold.
UNKNOWN_TOKEN = _unauthorized("the bearer token is not valid")
#: A dataset out of the token's scope: one answer, whether or not the dataset exists.
FORBIDDEN = error_reply(403, "forbidden", "the token's scope does not include this dataset")
FORBIDDEN_METRICS = error_reply(403, "forbidden", "the token's scope does not include metrics")

_HEX = re.compile(r"[0-9a-fA-F]{64}")
_ENTRY_FIELDS = frozenset(("name", "sha256", "datasets"))
_CACHED_HEADERS = 1024  # distinct Authorization values remembered (each a valid token)
_CACHED_DECISIONS = 4096  # decisions remembered per token
_UNSET: Any = object()
_UNREADABLE = (-1,)  # the watch key of a file that cannot be read at all


class Principal:
    """One token of the file: its name, its digest, and what it may read (decisions remembered
    per dataset name, in a bounded dict dropped with the snapshot it belongs to)."""

    __slots__ = ("decisions", "digest", "exact", "metrics", "name", "patterns")

    def __init__(self, name: str, digest: bytes, scopes: list[str]) -> None:
        self.name = name
        self.digest = digest
        self.metrics = METRICS_SCOPE in scopes
        globs = [s for s in scopes if s != METRICS_SCOPE]
        self.exact = frozenset(s for s in globs if not _is_glob(s))
        self.patterns = tuple(s for s in globs if _is_glob(s))
        self.decisions: dict[str, Reply | None] = {}

    def allows(self, dataset: str) -> bool:
        """Whether this token may read `dataset` (whether or not it exists)."""
        return dataset in self.exact or any(fnmatchcase(dataset, p) for p in self.patterns)

    def decide(self, dataset: str) -> Reply | None:
        """None when `dataset` is in scope, else the 403; remembered."""
        decision = None if self.allows(dataset) else FORBIDDEN
        if len(self.decisions) >= _CACHED_DECISIONS:  # names that match nothing must not grow it without end
            self.decisions.clear()
        self.decisions[dataset] = decision
        return decision


def _is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


class _Snapshot:
    """The tokens of one reading of the file, never changed after it is made (only the caches of
    its decisions grow): a new reading is a new snapshot, swapped in with one assignment."""

    __slots__ = ("by_digest", "by_header", "count")

    def __init__(self, principals: list[Principal]) -> None:
        self.by_digest = {p.digest: p for p in principals}
        self.count = len(principals)
        # Authorization values already authenticated -> their token (only valid tokens: an unknown
        # one is hashed each time, so that a flood of guesses cannot push the real ones out).
        self.by_header: dict[bytes, Principal] = {}

    def authenticate(self, authorization: bytes) -> Principal | None:
        """The token an ``Authorization`` value carries (``Bearer <token>``, the scheme in any
        case), or None when it carries none or one the file does not hold."""
        scheme, space, rest = authorization.strip(b" \t").partition(b" ")
        if not space or scheme.lower() != b"bearer":
            return None
        token = rest.strip(b" \t")
        if not token:
            return None
        digest = hashlib.sha256(token).digest()
        # The dict is keyed by digests: finding an entry compares the presented token's digest
        # (its hash first, then its bytes), never the token itself, so the time it takes tells
        # an attacker at most how a wrong guess's SHA-256 relates to a stored digest, which does
        # not help to find a token (preimage resistance).  The constant-time comparison then
        # confirms the entry, so the decision itself never rests on a short-circuiting compare.
        # (The by_header cache in front is keyed by the raw value: a lookup only compares bytes
        # with an entry whose 64-bit keyed string hash is equal, which a guess does not reach.)
        principal = self.by_digest.get(digest)
        if principal is None or not hmac.compare_digest(principal.digest, digest):
            return None
        if len(self.by_header) >= _CACHED_HEADERS:
            self.by_header.clear()
        self.by_header[authorization] = principal
        return principal


class Gate:
    """Who may ask what, from a tokens file re-read when it changes (:meth:`start` watches it)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Read `path` now; UsageError (naming the file and the fault) when it is broken."""
        self.path = Path(path)
        key, principals = read_tokens(self.path)
        self._key = key
        self._failed_key: tuple[int, ...] | None = None
        self._state = _Snapshot(principals)
        self._poller = Poller("rodata-tokens", self.refresh, what=f"tokens file {self.path}: watching failed",
                              log=log)

    @property
    def tokens(self) -> int:
        """How many tokens the snapshot in use holds."""
        return self._state.count

    def decide(self, authorization: bytes | None, route: str, dataset: str | None) -> Reply | None:
        """None when the request may be answered, else its answer (401 or 403).

        `authorization`: the request's first ``Authorization`` header value (None when absent);
        `route`: the route table's name of the route it matched (``row``, ``lookup``, ``column``,
        ``scan``, ``dataset``, ``datasets``, ``metrics``, ``healthz``, ``livez``), ``docs`` for
        the documentation, ``other`` for anything else; `dataset`: the decoded ``{name}`` segment
        of a dataset route (for ``other``, the one of a path under ``/v1/datasets/``, if any)."""
        if route in OPEN_ROUTES:
            return None
        if authorization is None:
            return UNAUTHORIZED
        state = self._state  # one read: a reload swaps the snapshot and its caches together
        principal = state.by_header.get(authorization)
        if principal is None:
            principal = state.authenticate(authorization)
            if principal is None:
                return UNKNOWN_TOKEN
        if route == METRICS_SCOPE:
            return None if principal.metrics else FORBIDDEN_METRICS
        if dataset is None:
            # A dataset route always names its dataset: never let one through without.
            return FORBIDDEN if route in DATASET_ROUTES else None
        decision = principal.decisions.get(dataset, _UNSET)
        if decision is _UNSET:
            return principal.decide(dataset)
        return decision  # type: ignore[no-any-return]

    def readable(self, authorization: bytes | None) -> Callable[[str], bool]:
        """Which datasets the token of `authorization` may read (none for no valid token)."""
        principal = None
        if authorization is not None:
            state = self._state
            principal = state.by_header.get(authorization) or state.authenticate(authorization)
        return principal.allows if principal is not None else _nothing

    # -- watching the file -----------------------------------------------------------------

    def refresh(self) -> bool:
        """Read the file again if it changed; True when a new snapshot was swapped in.  A file
        that does not read or check keeps the tokens in use and logs one error naming it (once
        per broken version of the file)."""
        try:
            key = _stat_key(os.stat(self.path))
        except OSError as exc:
            return self._failed(_UNREADABLE, f"tokens file {self.path}: cannot read it: {exc.strerror or exc}")
        if key == self._key:
            self._failed_key = None
            return False
        if key == self._failed_key:
            return False
        try:
            key, principals = read_tokens(self.path)
        except UsageError as exc:
            return self._failed(key, str(exc))
        self._state = _Snapshot(principals)
        self._key = key
        self._failed_key = None
        log.info("tokens file %s reloaded: %d tokens", self.path, len(principals),
                 extra={"event": "tokens_reloaded", "file": str(self.path), "tokens": len(principals)})
        return True

    def _failed(self, key: tuple[int, ...], reason: str) -> bool:
        if key != self._failed_key:
            self._failed_key = key
            log.error("%s; the previous tokens are kept", reason,
                      extra={"event": "tokens_error", "file": str(self.path)})
        return False

    def start(self, poll_interval: float) -> None:
        """Watch the file every `poll_interval` seconds, in a daemon thread."""
        self._poller.start(poll_interval)

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop watching."""
        self._poller.stop(timeout)


def _nothing(dataset: str) -> bool:
    return False


def _stat_key(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def read_tokens(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], list[Principal]]:
    """The tokens file at `path` checked: the (device, inode, mtime, size) of what was read and its
    tokens; UsageError naming the file and the fault (never a token, nor a digest)."""
    where = f"tokens file {path}"
    try:
        with open(path, "rb") as f:  # the stat of what is read, not of a later replacement
            key = _stat_key(os.fstat(f.fileno()))
            data = f.read()
    except OSError as exc:
        raise UsageError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return key, _principals(doc, where)


def _principals(doc: Any, where: str) -> list[Principal]:
    if not isinstance(doc, dict) or set(doc) != {"tokens"}:
        raise UsageError(f'{where}: expected an object with one field, "tokens" '
                         '({"tokens": [{"name": ..., "sha256": ..., "datasets": [...]}]})')
    entries = doc["tokens"]
    if not isinstance(entries, list):
        raise UsageError(f'{where}: "tokens" must be a list')
    out: list[Principal] = []
    seen: dict[bytes, int] = {}
    for i, entry in enumerate(entries):
        principal = _principal(entry, f"{where}: tokens[{i}]")
        first = seen.setdefault(principal.digest, i)
        if first != i:
            raise UsageError(f"{where}: tokens[{i}] ({principal.name!r}) has the same sha256 as tokens[{first}] "
                             f"({out[first].name!r}): each token once")
        out.append(principal)
    return out


def _principal(entry: Any, where: str) -> Principal:
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: expected an object with name, sha256 and datasets")
    missing = sorted(_ENTRY_FIELDS - set(entry))
    unknown = sorted(set(entry) - _ENTRY_FIELDS)
    if missing or unknown:
        what = [f"missing {', '.join(missing)}"] if missing else []
        what += [f"unknown field {', '.join(repr(u)[:80] for u in unknown)}"] if unknown else []
        raise UsageError(f"{where}: {'; '.join(what)} (the fields are name, sha256 and datasets)")
    name = entry["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise UsageError(f"{where}: name must be a non-empty string of at most 200 characters")
    where = f"{where} ({name!r})"
    digest = entry["sha256"]
    if not isinstance(digest, str) or not _HEX.fullmatch(digest):
        raise UsageError(f"{where}: sha256 must be the token's SHA-256 as 64 hexadecimal digits "
                         "(e.g. printf %s TOKEN | sha256sum)")
    scopes = entry["datasets"]
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes):
        raise UsageError(f'{where}: datasets must be a list of non-empty strings (dataset names, glob patterns, '
                         f'"*" for all, "{METRICS_SCOPE}" for /metrics)')
    return Principal(name, bytes.fromhex(digest), scopes)
