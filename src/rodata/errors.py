"""One error hierarchy: every error rodata raises on purpose is a :class:`RodataError`."""

from __future__ import annotations

__all__ = [
    "BadInputError",
    "BuildInProgressError",
    "ClientError",
    "DatasetNotFoundError",
    "DuplicateKeyError",
    "FormatError",
    "KeyTypeError",
    "PublishError",
    "PublishGuardError",
    "RodataError",
    "SchemaError",
    "UnknownColumnError",
    "UsageError",
]


class RodataError(Exception):
    """Base class of every error rodata raises on purpose."""


class FormatError(RodataError):
    """A segment, manifest or version on disk is malformed, truncated or corrupt."""


class SchemaError(RodataError, ValueError):
    """Columns or a schema description that rodata cannot store."""


class UsageError(RodataError, ValueError):
    """A command or call that names something that is not there, or asks for something impossible:
    a bad argument value (hence also a ``ValueError``); the command line's exit status 2."""


class UnknownColumnError(RodataError, KeyError):
    """A column name that the dataset does not have."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class KeyTypeError(RodataError, TypeError):
    """A key whose type does not match the dataset's key column."""


class DuplicateKeyError(RodataError, ValueError):
    """Two rows share one key."""

    def __init__(self, message: str, key: object = None) -> None:
        super().__init__(message)
        self.key = key


class DatasetNotFoundError(RodataError, FileNotFoundError):
    """No dataset, version or live version at the given path."""


class PublishError(RodataError):
    """A new version could not be published; the live version is untouched."""


class BuildInProgressError(PublishError):
    """Another process is building (or writing) this dataset: one build at a time per dataset.
    Nothing was done; the command line's exit status 1."""


class PublishGuardError(PublishError):
    """A new version was refused by the publish guard: its schema differs from the live version's, or
    it holds fewer than half its rows, and the caller did not say that this is meant."""


class BadInputError(RodataError, ValueError):
    """A malformed input record; names file, line and column where known."""

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None, column: int | None = None
    ) -> None:
        where = ":".join(str(p) for p in (path, line, column) if p is not None)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line
        self.column = column
        self.reason = message


class ClientError(RodataError):
    """An error answer of a rodata server (``rodata.Client``): `status` is the HTTP status (None when
    no server answered at all), `code` and `message` come from the server's error body
    (``{"error": {"code", "message"}}``); ``code="unavailable"`` when no base URL gave an answer."""

    def __init__(self, message: str, *, status: int | None, code: str, url: str | None = None) -> None:
        where = f" from {url}" if url else ""
        head = f"HTTP {status} {code}" if status is not None else code
        super().__init__(f"{head}{where}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.url = url

    def __reduce__(self) -> tuple[object, ...]:  # keyword-only arguments: pickle them by name
        return (_client_error, (self.message, self.status, self.code, self.url))


def _client_error(message: str, status: int | None, code: str, url: str | None) -> ClientError:
    return ClientError(message, status=status, code=code, url=url)
