"""Conditional requests: the ETags of immutable answers and ``If-None-Match``.

A published version never changes, so an answer about one version (a row, a scan
page, a column slice, a dataset's description) is the same bytes every time the
same request is made to it.  Its ETag is therefore built from what determines
the answer, never from the body: the version's name, the rodata release (an
answer's encoding may change between releases), the route and the request in a
canonical form (decoded path segments; the query parameters by name, each at
its effective value).  A new version gets new ETags; the same request answered
by another replica of the same version gets the same one.

``If-None-Match`` is honoured with the weak comparison RFC 9110 asks for: a
listed tag (with or without ``W/``) equal to the answer's, or ``*``, turns the
answer into a 304 that carries its headers without the body's own
(``content-type``, ``content-length``)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import orjson

from rodata._version import __version__
from rodata.dataset import Dataset
from rodata.server.errors import Reply

__all__ = ["etag", "matches", "not_modified", "revalidated", "row_etag"]

# The release is part of every tag: the same version may be encoded differently by another release.
_SEED = zlib.crc32(f"rodata {__version__}".encode())
_PREFIXES: dict[str, bytes] = {}
_BODY_HEADERS = frozenset((b"content-type", b"content-length"))
_EMPTY = (b"",)


def _prefix(version: str) -> bytes:
    prefix = _PREFIXES.get(version)
    if prefix is None:
        if len(_PREFIXES) > 256:  # versions come and go
            _PREFIXES.clear()
        prefix = _PREFIXES[version] = b'"' + version.encode("ascii", "replace") + b"."
    return prefix


def etag(ds: Dataset, *request: object) -> bytes | None:
    """The strong ETag of an answer of `ds` to `request` (the route and its canonical inputs:
    strings, numbers, None, lists of them), or None when the dataset has no version name.

    ``"<version>.~<crc32 of the release and the request, in hex>"``: cheap (no hash of the
    body), and never the same for two versions whatever the request."""
    version = ds.version
    if version is None:
        return None
    return _prefix(version) + b'~%x"' % zlib.crc32(orjson.dumps(request), _SEED)


def row_etag(ds: Dataset, key: str, columns: str | None) -> bytes | None:
    """:func:`etag` of a row answer, for the hot route, from the key as the handler has it (the
    path segment percent-decoded, so that two spellings of one key share a tag) and the
    ``columns`` parameter.  A plain key (ASCII letters and digits, as most are) is written as it
    is, ``"<version>.<key>"``; any other is a CRC, ``"<version>.~<hex>"``.

    The dataset's name is not needed: a version name belongs to one published version (a
    sequence number and a random token), and a copy of a dataset holds the same rows."""
    version = ds.version
    prefix = _PREFIXES.get(version) if version is not None else None
    if prefix is None:
        if version is None:
            return None
        prefix = _prefix(version)
    raw = key.encode("utf-8", "surrogateescape")
    if columns is None and len(raw) <= 40 and raw.isalnum():
        return prefix + raw + b'"'
    crc = zlib.crc32(raw, _SEED)
    if columns is not None:
        # Chained from a state flipped by one bit: the key "ab" with columns "c" and the key "a"
        # with columns "bc" stay apart.
        crc = zlib.crc32(columns.encode("utf-8", "surrogateescape"), crc ^ 1)
    return prefix + b'~%x"' % crc


def matches(value: bytes, tag: bytes) -> bool:
    """True when an ``If-None-Match`` header `value` names `tag` (weak comparison) or is ``*``."""
    if value == tag:  # the usual header: the one tag the client holds
        return True
    for item in value.split(b","):
        item = item.strip()
        if item.startswith(b"W/"):
            item = item[2:]
        if item == tag or item == b"*":
            return True
    return False


def not_modified(reply: Reply) -> Reply:
    """The 304 answer standing for `reply`: its headers (the ETag among them) without the body's."""
    headers = [(name, value) for name, value in reply.headers if name not in _BODY_HEADERS]
    return Reply(304, _EMPTY, headers)


def revalidated(reply: Reply, request_headers: Iterable[tuple[bytes, bytes]]) -> Reply:
    """`reply`, or its 304 when the request's ``If-None-Match`` matches its ETag (only a 200 has one)."""
    tag = reply.etag
    if tag is None:
        return reply
    for name, value in request_headers:
        if name == b"if-none-match" and matches(value, tag):
            return not_modified(reply)
    return reply
