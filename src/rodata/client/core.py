"""Every client call as a generator of requests, with no I/O: the one implementation that
``rodata.Client`` and ``rodata.AsyncClient`` drive.

A call yields a :class:`~rodata.client.wire.Request`, is sent back the
:class:`~rodata.client.wire.Response` and finally returns its result; the driver moves the messages
(with the fleet's retries) and nothing else.  Answers are decoded with the schema of the version
that gave them (``x-rodata-version``), learnt from ``/v1/datasets/{name}`` once per version."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import orjson

from rodata._keys import coerce_keys, first_non_string
from rodata._version import __version__
from rodata.client import decode
from rodata.client.batch import RemoteBatch
from rodata.client.wire import Fleet, Request, Response, check, error_from, fleet_urls, key_segment, query, segment
from rodata.errors import ClientError, UsageError
from rodata.schema import Schema

__all__ = ["Core", "Op", "Remote", "Scan"]

T = TypeVar("T")
#: A call: yields requests, is sent their answers, returns its result.
Op = Generator[Request, Response, T]

#: How many times a call asks again when a new version was swapped in between two of its requests.
_VERSION_ATTEMPTS = 4
#: Versions whose schema is kept, over all datasets.
_CACHE_SIZE = 256
_BINARY = "application/octet-stream"


@dataclass(frozen=True)
class Remote:
    """One dataset version as a server describes it."""

    name: str
    version: str | None
    schema: Schema
    description: dict[str, Any]

    @property
    def string_keys(self) -> bool:
        """True when the key column is a string."""
        return self.schema.key_column.type == "string"

    def split(self, names: Sequence[str]) -> tuple[list[str], list[str]]:
        """(fixed-width, strings and bytes) among `names`; a name the schema lacks counts as fixed, so
        that the server's answer names it (422 ``unknown_column``)."""
        fixed = [n for n in names if n not in self.schema or self.schema[n].fixed_width]
        return fixed, [n for n in names if n in self.schema and not self.schema[n].fixed_width]


def _changing(name: str) -> ClientError:
    return ClientError(f"dataset {name!r}: the version changed under every one of {_VERSION_ATTEMPTS} attempts",
                       status=None, code="version_changing")


class Core:
    """The state a client keeps (the fleet, the schemas learnt) and its calls, as :data:`Op` s."""

    def __init__(self, urls: str | Sequence[str], *, token: str | None, retries: int, backoff: float,
                 max_backoff: float) -> None:
        self.fleet = Fleet(fleet_urls(urls), retries, backoff, max_backoff)
        self.headers = {"user-agent": f"rodata-client/{__version__}"}
        if token is not None:
            if not isinstance(token, str) or not token or any(c in token for c in "\r\n"):
                raise UsageError("token must be a non-empty string on one line")
            self.headers["authorization"] = f"Bearer {token}"
        self._remotes: dict[tuple[str, str | None], Remote] = {}
        self._latest: dict[str, Remote] = {}

    # -- schemas -------------------------------------------------------------------------

    def describe(self, name: str) -> Op[Remote]:
        """Ask for dataset `name`'s description and remember its schema under its version."""
        reply = check((yield Request("GET", f"/v1/datasets/{segment(name)}")))
        doc = orjson.loads(reply.body)
        try:
            schema = Schema.from_json(doc["columns"], doc["key"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ClientError(f"dataset {name!r}: the server's description cannot be read: {exc}",
                              status=reply.status, code="bad_answer") from None
        remote = Remote(name, doc.get("version"), schema, doc)
        if len(self._remotes) >= _CACHE_SIZE:
            self._remotes.clear()
        self._remotes[(name, remote.version)] = remote
        self._latest[name] = remote
        return remote

    def current(self, name: str) -> Op[Remote]:
        """The latest version of `name` this client knows of (asking when it knows none)."""
        known = self._latest.get(name)
        if known is not None:
            return known
        return (yield from self.describe(name))

    def _remote_for(self, name: str, reply: Response) -> Op[Remote | None]:
        """The version that gave `reply`; None when a newer one was swapped in before it could be
        described (the caller asks again)."""
        known = self._remotes.get((name, reply.version))
        if known is not None:
            self._latest[name] = known
            return known
        remote = yield from self.describe(name)
        return remote if remote.version == reply.version else None

    # -- calls ---------------------------------------------------------------------------

    def datasets(self) -> Op[list[dict[str, Any]]]:
        """``GET /v1/datasets``: every dataset's description."""
        reply = check((yield Request("GET", "/v1/datasets")))
        out: list[dict[str, Any]] = orjson.loads(reply.body)["datasets"]
        return out

    def get(self, name: str, key: Any, columns: Sequence[str] | None) -> Op[dict[str, Any] | None]:
        """One row, decoded as the library reads it, or None when no row has `key`."""
        wanted = _names(columns)
        if wanted == []:  # no column: the server takes no empty projection, so ask for the key alone
            wanted = [(yield from self.current(name)).schema.key]
        target = f"/v1/datasets/{segment(name)}/rows/{key_segment(key)}" + query({"columns": wanted})
        for _ in range(_VERSION_ATTEMPTS):
            reply = yield Request("GET", target)
            if reply.status == 404 and error_from(reply).code == "key_not_found":
                return None
            check(reply)
            remote = yield from self._remote_for(name, reply)
            if remote is None:
                continue
            doc = orjson.loads(reply.body)
            if columns is not None and not len(columns):
                return {}
            row = decode.row(remote.schema, doc)
            unsure = decode.uncertain(remote.schema, doc)
            if not unsure:
                return row
            keys: Any = [key] if remote.string_keys else np.array([key], dtype="<i8")
            exact, arrays = yield from self._npz(remote, keys, unsure)
            if exact.version != reply.version or not arrays["found"][0]:
                continue
            for column in unsure:
                row[column] = decode.value_from_arrays(remote.schema[column], arrays[f"values/{column}"],
                                                       arrays.get(f"valid/{column}"), 0)
            return row
        raise _changing(name)

    def get_many(self, name: str, keys: Any, columns: Sequence[str] | None) -> Op[RemoteBatch]:
        """Many keys at once: fixed-width columns as npz (int64 keys sent as binary), strings and
        bytes as JSON, both from the same version."""
        remote = yield from self.current(name)
        wanted = _names(columns)
        for _ in range(_VERSION_ATTEMPTS):
            names = list(remote.schema.names) if wanted is None else wanted
            coerced = _keys(remote, keys)
            # no column at all: ask for the key column (the found mask is the answer)
            fixed, var = remote.split(names or [remote.schema.key])
            arrays: dict[str, np.ndarray[Any, Any]] = {}
            replies: list[Response] = []
            if fixed:
                reply, arrays = yield from self._npz(remote, coerced, fixed)
                replies.append(reply)
            rows: list[Any] = []
            if var or not fixed:
                reply, rows = yield from self._json_lookup(remote, coerced, var)
                replies.append(reply)
            answered = yield from self._remote_for(name, replies[0])
            if answered is None or any(r.version != replies[0].version for r in replies):
                continue
            if answered.schema != remote.schema:
                remote = answered
                continue
            found = arrays["found"] if fixed else _found(rows)
            return _batch(answered, names, found, arrays, rows, var)
        raise _changing(name)

    def _npz(self, remote: Remote, keys: Any, columns: Sequence[str]) -> Op[tuple[Response, dict[str, Any]]]:
        """An npz lookup of `columns` for `keys` (an int64 array or a list of strings)."""
        path = f"/v1/datasets/{segment(remote.name)}/lookup"
        if remote.string_keys:
            body = orjson.dumps({"keys": keys, "columns": list(columns), "format": "npz"})
            request = Request("POST", path, body, "application/json")
        else:
            request = Request("POST", path + query({"format": "npz", "columns": list(columns)}),
                              np.ascontiguousarray(keys, dtype="<i8").tobytes(), _BINARY)
        reply = check((yield request))
        return reply, decode.npz(reply.body)

    def _json_lookup(self, remote: Remote, keys: Any, columns: Sequence[str]) -> Op[tuple[Response, list[Any]]]:
        """A JSON lookup of `columns` for `keys`: the rows (None where absent)."""
        path = f"/v1/datasets/{segment(remote.name)}/lookup"
        if remote.string_keys:
            body = orjson.dumps({"keys": keys, "columns": list(columns)})
            request = Request("POST", path, body, "application/json")
        else:
            request = Request("POST", path + query({"format": "json", "columns": list(columns)}),
                              np.ascontiguousarray(keys, dtype="<i8").tobytes(), _BINARY)
        reply = check((yield request))
        rows: list[Any] = orjson.loads(reply.body)["rows"]
        return reply, rows

    def column(self, name: str, column: str, offset: int, limit: int | None) -> Op[Any]:
        """Rows [offset, offset + limit) of one column: a read-only numpy array for fixed-width
        types (nulls read as 0), a list of str/bytes/None for strings and bytes."""
        if offset < 0 or (limit is not None and limit < 0):
            raise UsageError("offset and limit must not be negative")
        target = f"/v1/datasets/{segment(name)}/columns/{segment(column)}" + query(
            {"offset": offset or None, "limit": limit})
        for _ in range(_VERSION_ATTEMPTS):
            reply = check((yield Request("GET", target)))
            if reply.headers.get("content-type", "").startswith(_BINARY):
                return decode.column_body(reply.body, reply.headers)
            remote = yield from self._remote_for(name, reply)
            if remote is None:
                continue
            return decode.var_values(remote.schema[column], orjson.loads(reply.body))
        raise _changing(name)

    def scan(self, name: str, *, start: Any, end: Any, prefix: str | None, columns: Sequence[str] | None,
             page: int | None) -> Scan:
        """A scan's state: its pages are asked for one at a time (:meth:`Scan.page`)."""
        if page is not None and page < 1:
            raise UsageError("page must be positive")
        return Scan(self, name, {"start": start, "end": end, "prefix": prefix, "limit": page}, _names(columns))


class Scan:
    """Where a scan is: the parameters, the cursor of the next page, and whether it is done."""

    def __init__(self, core: Core, name: str, params: dict[str, Any], columns: list[str] | None) -> None:
        self.core = core
        self.name = name
        self.params = params
        self.columns = columns
        self.after: Any = None
        self.done = False

    def page(self) -> Op[RemoteBatch | None]:
        """The next page (None when it is empty): the rows in JSON (the key and the strings and
        bytes asked for), the fixed-width columns as npz for the page's keys, from the same version."""
        core = self.core
        remote = yield from core.current(self.name)
        path = f"/v1/datasets/{segment(self.name)}/scan"
        for _ in range(_VERSION_ATTEMPTS):
            names = list(remote.schema.names) if self.columns is None else self.columns
            fixed, var = remote.split(names)
            key = remote.schema.key
            fixed = [n for n in fixed if n != key]
            unknown = [n for n in names if n not in remote.schema]  # for the server to name, even on no rows
            in_json = [key, *(n for n in var if n != key), *unknown]
            params = {**self.params, "after": self.after, "columns": in_json}
            reply = check((yield Request("GET", path + query(params))))
            answered = yield from core._remote_for(self.name, reply)
            if answered is None or answered.schema != remote.schema:
                remote = answered or remote
                continue
            doc = orjson.loads(reply.body)
            rows = doc["rows"]
            keys: Any = [r[key] for r in rows]
            if not remote.string_keys:
                keys = np.array(keys, dtype=np.int64)
            arrays: dict[str, Any] = {}
            if fixed and len(rows):
                exact, arrays = yield from core._npz(remote, keys, fixed)
                if exact.version != reply.version or not arrays["found"].all():
                    continue
            if key in names and key not in var:
                arrays[f"values/{key}"] = _readonly(keys) if not remote.string_keys else keys
            found = np.ones(len(rows), dtype=bool)
            found.flags.writeable = False
            batch = _batch(remote, names, found, arrays, rows, [*var, key] if remote.string_keys else var)
            self.after = doc.get("next")
            self.done = self.after is None
            return batch if len(rows) else None
        raise _changing(self.name)


def _names(columns: Sequence[str] | None) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str):  # a bare name would be read as its letters
        return [columns]
    return list(columns)


def _keys(remote: Remote, keys: Any) -> Any:
    """The keys in the form the wire takes: a contiguous int64 array, or a list of str."""
    coerced = coerce_keys(remote.schema, keys)
    if isinstance(coerced, list) and not all(type(k) is str for k in coerced):
        raise first_non_string(coerced)
    return coerced


def _found(rows: list[Any]) -> np.ndarray[Any, Any]:
    found = np.fromiter((r is not None for r in rows), dtype=bool, count=len(rows))
    found.flags.writeable = False
    return found


def _readonly(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    array.flags.writeable = False
    return array


def _batch(remote: Remote, names: Sequence[str], found: np.ndarray[Any, Any], arrays: dict[str, Any],
           rows: list[Any], var: Sequence[str]) -> RemoteBatch:
    """A batch from an npz answer's `arrays` (fixed-width columns) and JSON `rows` (the `var` ones)."""
    values: dict[str, Any] = {}
    valid: dict[str, np.ndarray[Any, Any]] = {}
    for name in names:
        if name in var:
            column = remote.schema[name]
            values[name] = decode.var_values(column, [None if r is None else r[name] for r in rows])
        elif f"values/{name}" in arrays:
            values[name] = arrays[f"values/{name}"]
            mask = arrays.get(f"valid/{name}")
            if mask is not None:
                valid[name] = _readonly(mask & found)
    return RemoteBatch(remote.schema, names, found, values, valid, remote.version)
