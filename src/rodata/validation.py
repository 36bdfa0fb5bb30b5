"""``rodata.validate``: deep validation of a dataset, a version or a segment file, and its verdicts.

Checksums (what :func:`rodata.open` checks) plus every structural invariant that
docs/FORMAT.md states, over every byte ("Deep validation" there).  Every writer runs
it on what it wrote before publishing, and the server on every version before
serving it (``--verify full``).

A verdict is a deep validation's result recorded beside the version it checked
(docs/FORMAT.md, "Verdicts"): every writer records its own when it publishes, and
``rodata verify --deep --record`` records one per host.  A server in the ``recorded``
verification mode reads them instead of every byte of the version: one pass whose manifest
digest matches and no failed verdict is what serving needs (:func:`check_recorded`); a
version without any verdict is waited for (:class:`VerdictPending`)."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from rodata._files import read_regular
from rodata._version import __version__
from rodata.dataset import open as open_dataset
from rodata.errors import FormatError, RodataError
from rodata.manifest import MAX_MANIFEST_BYTES

__all__ = ["VERDICTS", "VERDICT_FORMAT", "ValidationReport", "Verdict", "VerdictPending", "check_recorded",
           "manifest_digest", "read_verdicts", "record", "validate", "verifier_name"]


@dataclass(frozen=True)
class ValidationReport:
    """What a deep validation checked: the version, its parts, rows and bytes, and how long it took."""

    path: str
    version: str | None
    parts: int
    rows: int
    bytes: int
    seconds: float


def validate(path: str | os.PathLike[str]) -> ValidationReport:
    """Deep-validate `path` (a dataset directory's live version, a version directory or a
    ``.seg`` file); raise :class:`rodata.FormatError` naming the file, section and byte offset
    of the first fault, else return what was checked."""
    started = time.perf_counter()
    with open_dataset(path, verify=True) as ds:
        ds.validate()
        parts = 1 if ds.manifest is None else len(ds.manifest.parts)  # a .seg file is one part
        return ValidationReport(str(path), ds.version, parts, len(ds), ds.nbytes,
                                round(time.perf_counter() - started, 6))


# -- verdicts -----------------------------------------------------------------------------

#: The directory of verdicts inside a version directory, one JSON file per verifier.
VERDICTS = "verdicts"
VERDICT_FORMAT = "rodata-verdict/1"
_MAX_VERDICT_BYTES = 64 * 1024
_MAX_VERDICTS = 256
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_DIGEST_RE = re.compile(r"[0-9a-f]{64}")


class VerdictPending(RodataError):
    """A version that has no verdict yet: not served in the ``recorded`` mode until one is recorded."""


@dataclass(frozen=True)
class Verdict:
    """One recorded verdict: who checked the version, what, when, with which rodata, and the result."""

    file: str
    by: str
    passed: bool
    manifest_sha256: str
    checked: tuple[str, ...]
    at: str
    rodata: str
    fault: str | None


def manifest_digest(version_dir: str | os.PathLike[str]) -> str:
    """The SHA-256 of the version's ``manifest.json``, in hex: what a verdict is bound to."""
    raw = read_regular(Path(version_dir) / "manifest.json", MAX_MANIFEST_BYTES)
    return hashlib.sha256(raw).hexdigest()


def verifier_name(prefix: str) -> str:
    """A verdict file's name for `prefix` on this host (``verify-<host>``): verifiers on other hosts
    record beside it, never over it."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:100] or "host"
    return f"{prefix}-{host}"


def record(version_dir: str | os.PathLike[str], name: str, *, by: str, passed: bool,
           digest: str | None = None, fault: str | None = None,
           checked: tuple[str, ...] = ("checksums", "deep"), details: dict[str, Any] | None = None) -> Path:
    """Write the verdict ``verdicts/<name>.json`` of `version_dir` (atomically and durably) and return its path.

    `digest` is the manifest digest that was validated (default: the manifest's now)."""
    if _NAME_RE.fullmatch(name) is None:
        raise ValueError(f"bad verdict name {name!r}")
    d = Path(version_dir)
    doc = {"format": VERDICT_FORMAT, "verdict": "pass" if passed else "fail", "by": by,
           "checked": list(checked), "manifest_sha256": digest or manifest_digest(d),
           "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rodata": __version__,
           "host": socket.gethostname(), "fault": fault, **(details or {})}
    folder = d / VERDICTS
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.json"
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    for sync in (folder, d):
        fd = os.open(sync, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return path


def read_verdicts(version_dir: str | os.PathLike[str]) -> list[Verdict]:
    """Every verdict recorded for the version, by file name; :class:`FormatError` for one that is not a verdict."""
    folder = Path(version_dir) / VERDICTS
    try:
        names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(".json") and not e.name.startswith("."))
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise FormatError(f"{folder}: not a directory") from None
    if len(names) > _MAX_VERDICTS:
        raise FormatError(f"{folder}: {len(names)} verdicts is more than the limit of {_MAX_VERDICTS}")
    return [_parse(folder / name) for name in names]


def _parse(path: Path) -> Verdict:
    try:
        doc = orjson.loads(read_regular(path, _MAX_VERDICT_BYTES))
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"{path}: not a verdict: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != VERDICT_FORMAT:
        raise FormatError(f"{path}: not a verdict (format {VERDICT_FORMAT!r} expected)")
    verdict, digest, checked = doc.get("verdict"), doc.get("manifest_sha256"), doc.get("checked", [])
    if verdict not in ("pass", "fail"):
        raise FormatError(f"{path}: verdict {verdict!r} is neither 'pass' nor 'fail'")
    if not isinstance(digest, str) or _DIGEST_RE.fullmatch(digest) is None:
        raise FormatError(f"{path}: manifest_sha256 is not a SHA-256 in hex")
    if not isinstance(checked, list) or not all(isinstance(c, str) for c in checked):
        raise FormatError(f"{path}: checked is not a list of names")
    fault = doc.get("fault")
    return Verdict(path.name, str(doc.get("by", "")), verdict == "pass", digest, tuple(checked),
                   str(doc.get("at", "")), str(doc.get("rodata", "")), None if fault is None else str(fault))


def check_recorded(version_dir: str | os.PathLike[str]) -> Verdict:
    """The passing verdict that lets the version be served without reading every byte.

    Raises :class:`FormatError` (the version is refused) for a failed verdict, a verdict bound to
    another manifest or one that is not a verdict, and :class:`VerdictPending` when none is recorded
    yet (or none of them checked more than the checksums)."""
    d = Path(version_dir)
    verdicts = read_verdicts(d)
    if not verdicts:
        raise VerdictPending(f"version {d.name}: no verdict recorded yet (rodata verify --deep --record records one)")
    digest = manifest_digest(d)
    for v in verdicts:
        if not v.passed:
            raise FormatError(f"{d}: failed verification by {v.by or v.file} at {v.at}: {v.fault or 'no reason'}")
        if v.manifest_sha256 != digest:
            raise FormatError(f"{d / VERDICTS / v.file}: recorded for another manifest (sha256 {v.manifest_sha256}, "
                              f"manifest.json is {digest})")
    deep = [v for v in verdicts if "deep" in v.checked]
    if not deep:
        raise VerdictPending(f"version {d.name}: no verdict of a deep validation recorded yet")
    return deep[0]
