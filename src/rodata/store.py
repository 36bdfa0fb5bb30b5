"""The data root on disk: datasets, versions, manifests, CURRENT and the publish protocol.

A version becomes visible only when CURRENT is renamed to name it, after every
file of it was written, fsynced and verified (docs/FORMAT.md, "Versions and the manifest")."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from rodata._files import read_regular
from rodata._process import clean_locked_dirs, lock_file_of, locked_dir, pid_alive, try_lock
from rodata.errors import (
    BuildInProgressError,
    DatasetNotFoundError,
    FormatError,
    PublishError,
    PublishGuardError,
    RodataError,
    UsageError,
)
from rodata.manifest import MANIFEST_FORMAT, MAX_MANIFEST_BYTES, VERSION_RE, Manifest, parse_manifest
from rodata.schema import Schema

__all__ = [
    "BUILD_LOCK",
    "MANIFEST_FORMAT",
    "BuildInProgressError",
    "Version",
    "build_lock",
    "current_version",
    "dataset_path",
    "list_datasets",
    "list_versions",
    "publish",
    "read_manifest",
    "staging_dir",
]

CURRENT = "CURRENT"
HISTORY = "HISTORY"
MANIFEST = "manifest.json"
#: The one dataset-name rule, for writers and readers alike.
DATASET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_VERSION_RE = VERSION_RE
_STAGING_PREFIX = ".staging-"
#: Held by the one build (or write) of a dataset that may run at a time (docs/FORMAT.md, "Publishing").
BUILD_LOCK = ".build.lock"
#: A staging directory of an older rodata (no lock file beside it) untouched this long is abandoned,
#: even when a process of its pid is alive (PID 1 of a container always is).
LEGACY_STALE_AFTER = 24 * 3600.0
_LEGACY_RE = re.compile(r"\.staging-(\d+)-.*")
_MAX_CURRENT_BYTES = 4096
_MAX_HISTORY_BYTES = 16 * 1024 * 1024  # ~900,000 swaps
_MAX_HOLDER_BYTES = 4096


@dataclass(frozen=True)
class Version:
    """A published version of a dataset."""

    dataset: str
    name: str
    path: Path
    rows: int
    manifest: Manifest

    @property
    def sequence(self) -> int:
        """The version's number (``v000012-...`` -> 12)."""
        return _seq(self.name)


def is_dataset_name(name: object) -> bool:
    """True for a valid dataset name (the whole name: no trailing newline slips through)."""
    return isinstance(name, str) and DATASET_RE.fullmatch(name) is not None


def check_dataset_name(name: str) -> str:
    """Return `name` if it is a valid dataset name, else raise :class:`UsageError` saying why."""
    if not is_dataset_name(name):
        raise UsageError(
            f"bad dataset name {name!r}: 1-128 characters of letters, digits, '_', '.', '-', not starting with '.'"
        )
    return name


def dataset_path(data_root: str | os.PathLike[str], dataset: str) -> Path:
    """``DATA_ROOT/<dataset>`` for a valid dataset name."""
    return Path(data_root) / check_dataset_name(dataset)


def path_kind(path: str | os.PathLike[str]) -> Literal["segment", "dataset", "version"]:
    """What `path` holds: a single ``.seg`` file, a dataset directory (it has CURRENT) or a version
    directory (it has a manifest); :class:`DatasetNotFoundError` for anything else."""
    p = Path(path)
    if p.is_file():
        return "segment"
    # exists(), not is_file(): a CURRENT or manifest that is not a regular file is a fault of that
    # dataset or version, which reading it reports (FormatError), not a path that holds nothing
    if (p / CURRENT).exists():
        return "dataset"
    if (p / MANIFEST).exists():
        return "version"
    raise DatasetNotFoundError(f"{p}: not a dataset (no CURRENT), a version (no manifest.json) or a .seg file")


def is_version_name(name: str) -> bool:
    """True for names of the form ``v000012-1a2b3c4d``."""
    return _VERSION_RE.fullmatch(name) is not None


def list_datasets(data_root: str | os.PathLike[str]) -> list[str]:
    """Names of the datasets under `data_root` that have a live version."""
    root = Path(data_root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"{root}: no such data root")
    return sorted(p.name for p in root.iterdir() if is_dataset_name(p.name) and (p / CURRENT).is_file())


def current_version(dataset_dir: str | os.PathLike[str]) -> str | None:
    """The version name CURRENT holds, or None when nothing was published yet."""
    path = Path(dataset_dir) / CURRENT
    try:
        text = read_regular(path, _MAX_CURRENT_BYTES).decode("ascii").strip()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not a version name: {exc}") from None
    if not is_version_name(text):
        raise FormatError(f"{path}: {text[:80]!r} is not a version name")
    return text


def read_manifest(version_dir: str | os.PathLike[str]) -> Manifest:
    """The checked, typed manifest of a version directory (whose name its ``version`` must be)."""
    d = Path(version_dir)
    path = d / MANIFEST
    try:
        raw = read_regular(path, MAX_MANIFEST_BYTES)
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{path}: no manifest (not a version directory)") from None
    return parse_manifest(raw, source=str(path), version=d.name)


def list_versions(dataset_dir: str | os.PathLike[str]) -> list[str]:
    """Published version names of a dataset, oldest first."""
    d = Path(dataset_dir)
    if not d.is_dir():
        raise DatasetNotFoundError(f"{d}: no such dataset")
    names = [p.name for p in d.iterdir() if is_version_name(p.name) and p.is_dir()]
    return sorted(names, key=_seq)


def load_version(dataset_dir: str | os.PathLike[str], name: str) -> Version:
    """The :class:`Version` named `name` of a dataset."""
    d = Path(dataset_dir)
    if not is_version_name(name):
        raise DatasetNotFoundError(f"{name!r} is not a version name")
    manifest = read_manifest(d / name)
    return Version(d.name, name, d / name, manifest.rows, manifest)


@contextlib.contextmanager
def locked(dataset_dir: Path) -> Iterator[None]:
    """An exclusive advisory lock per dataset: publishes and rollbacks never interleave."""
    fd = os.open(dataset_dir / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def clean_stale_staging(dataset_dir: Path) -> list[str]:
    """Remove the staging directories of writers that are gone (a crash, SIGKILL, an evicted pod):
    those whose lock (``.staging.lock-<pid>-<random>`` beside them) can be taken.  A staging directory of an older
    rodata, which has no lock file, is removed when no process of its pid is alive here or when
    nothing in it changed for :data:`LEGACY_STALE_AFTER`; any other ``.staging-*`` entry (those of
    rodata.parts) is left alone."""
    removed = clean_locked_dirs(dataset_dir, _STAGING_PREFIX)
    try:
        entries = sorted(os.listdir(dataset_dir))
    except FileNotFoundError:
        return removed
    for name in entries:
        match = _LEGACY_RE.fullmatch(name)
        if match is None or not match.group(1).isascii():
            continue  # not named by a build of ours: whose it is cannot be told, so it stays
        path = dataset_dir / name
        # Asked now, not from the listing: the lock file of a new staging directory is there before it.
        if lock_file_of(path, _STAGING_PREFIX).exists() or not path.is_dir():
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and (not pid_alive(pid) or _untouched_for(path, LEGACY_STALE_AFTER)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
    return removed


def _untouched_for(path: Path, seconds: float) -> bool:
    """Nothing in `path` (itself and its entries) was modified in the last `seconds`."""
    try:
        touched = max([path.stat().st_mtime, *(e.stat().st_mtime for e in path.iterdir())])
    except OSError:
        return False  # removed meanwhile, or not ours to look into
    return time.time() - touched > seconds


@contextlib.contextmanager
def staging_dir(data_root: str | os.PathLike[str], dataset: str, *, exclusive: bool = True) -> Iterator[Path]:
    """A private directory inside the dataset to write a new version into, owned by a lock held
    until it is removed on leaving (whatever happens); stale ones of writers that are gone are
    removed first.

    With `exclusive` (the default) the dataset's build lock is held too (:func:`build_lock`):
    another process building the dataset makes this fail at once with
    :class:`BuildInProgressError`.  A dry run, which publishes nothing, passes ``exclusive=False``."""
    d = dataset_path(data_root, dataset)
    d.mkdir(parents=True, exist_ok=True)
    with build_lock(d) if exclusive else contextlib.nullcontext():
        clean_stale_staging(d)
        with locked_dir(d, _STAGING_PREFIX) as path:
            yield path


# The build locks this process holds: dataset directory -> [descriptor, holders].  Threads of one
# process share its lock (their publishes are serialized by the publish lock), and a writer that
# nests staging directories (standard input spooled, then built) takes it once.
_builds: dict[str, list[int]] = {}
_builds_guard = threading.Lock()


@contextlib.contextmanager
def build_lock(dataset_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the dataset's build lock (``DATA_ROOT/<dataset>/.build.lock``, an exclusive ``flock``)
    for as long as the block runs: one build or write of a dataset at a time, across processes and
    hosts sharing the filesystem.  Taken without waiting: held by another process, it raises
    :class:`BuildInProgressError` naming the holder (pid, host, since when).  Re-entrant within a
    process.  The lock file is removed on release."""
    d = Path(dataset_dir)
    key = os.path.realpath(d)
    with _builds_guard:
        entry = _builds.get(key)
        if entry is None:
            entry = _builds[key] = [_take_build_lock(d), 0]
        entry[1] += 1
    try:
        yield
    finally:
        with _builds_guard:
            entry[1] -= 1
            if entry[1] == 0:
                del _builds[key]
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(d / BUILD_LOCK)  # ours: no one else can take or replace it while we hold it
                os.close(entry[0])


def _take_build_lock(d: Path) -> int:
    path = d / BUILD_LOCK
    for _ in range(64):
        fd = try_lock(path)
        if fd is None:
            raise BuildInProgressError(_busy_message(d, path))
        try:  # the file a holder removed on release may be what we locked: only the one at the path counts
            current = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            current = False
        if current:
            holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, orjson.dumps(holder) + b"\n", 0)
            return fd
        os.close(fd)
    raise BuildInProgressError(f"{path}: the build lock keeps changing hands; try again")


def _busy_message(d: Path, path: Path) -> str:
    """Who holds the build lock, as far as its file tells."""
    who = ""
    try:
        doc = orjson.loads(read_regular(path, _MAX_HOLDER_BYTES))
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(doc["since"])))
        who = f" (pid {int(doc['pid'])} on host {str(doc['host'])[:255]}, since {since})"
    except (OSError, RodataError, ValueError, TypeError, KeyError, orjson.JSONDecodeError):
        pass  # being written, or not ours to read: the lock alone says enough
    return (f"{d.name}: another build of this dataset is running{who}, holding {path}; one build at a time "
            "per dataset: let it finish (or stop it), then build again")


def swap_current(d: Path, name: str) -> None:
    """Make `name` live (atomic rename of CURRENT), then record it in HISTORY.  Called under the lock."""
    tmp = d / f".{CURRENT}.{os.getpid()}.tmp"
    _write_durably(tmp, (name + "\n").encode("ascii"))
    os.replace(tmp, d / CURRENT)
    _fsync_dir(d)
    _append_history(d, name)


def _append_history(d: Path, name: str) -> None:
    fd = os.open(d / HISTORY, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, (name + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def history(dataset_dir: str | os.PathLike[str]) -> list[str]:
    """The versions that went live, oldest first (HISTORY); empty for a dataset published before it existed."""
    path = Path(dataset_dir) / HISTORY
    try:
        text = read_regular(path, _MAX_HISTORY_BYTES).decode("ascii")
    except FileNotFoundError:
        return []
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not a list of version names: {exc}") from None
    names = text.split()
    bad = next((n for n in names if not is_version_name(n)), None)
    if bad is not None:
        raise FormatError(f"{path}: {bad[:80]!r} is not a version name")
    return names


def previous_live(dataset_dir: str | os.PathLike[str], live: str | None) -> str | None:
    """The version that was live before `live`, by HISTORY, among the versions still kept."""
    d = Path(dataset_dir)
    kept = set(list_versions(d))
    past = history(d)
    if past and past[-1] == live:
        past = past[:-1]
    for name in reversed(past):
        if name != live and name in kept:
            return name
    return None


def publish(
    staging: Path, dataset: str, manifest: dict[str, Any], *, keep_versions: int = 3,
    allow_schema_change: bool = False, allow_shrink: bool = False,
    before_live: Callable[[Path, Manifest], None] | None = None,
) -> Version:
    """Move a fully written and verified staging directory into place and make it live.

    `manifest` gets its ``version`` field here.  Afterwards versions are pruned to those
    :func:`retained_versions` keeps (the newest `keep_versions`, those live in the last
    `keep_versions` swaps of HISTORY, the live one and the one before it).  The publish guard
    refuses a version whose schema differs from the live one's or that holds fewer than
    half its rows (:class:`PublishGuardError`) unless `allow_schema_change` /
    `allow_shrink` say it is meant.  `before_live(staging, manifest)` is called once the manifest
    is written (durably) and before the version moves into place: what it writes into `staging`
    (the writer's verdict) is there before anything can serve the version."""
    if keep_versions < 1:
        raise UsageError("keep_versions must be at least 1")
    d = staging.parent
    with locked(d):
        existing = list_versions(d)
        seq = _seq(existing[-1]) + 1 if existing else 1
        name = f"v{seq:06d}-{secrets.token_hex(4)}"
        raw = orjson.dumps(dict(manifest, version=name, format=MANIFEST_FORMAT, dataset=dataset),
                           option=orjson.OPT_INDENT_2)
        # The writer's own manifest goes through the reader's checks: what cannot be read is never published.
        typed = parse_manifest(raw, source=str(staging / MANIFEST), version=name)
        guard(d, typed, allow_schema_change=allow_schema_change, allow_shrink=allow_shrink)
        _write_durably(staging / MANIFEST, raw)
        _fsync_dir(staging)
        if before_live is not None:
            before_live(staging, typed)
        try:
            os.rename(staging, d / name)
        except OSError as exc:
            raise PublishError(f"{d / name}: cannot move the new version into place: {exc}") from exc
        _fsync_dir(d)
        swap_current(d, name)
        _prune(d, keep_versions)
    return Version(dataset, name, d / name, typed.rows, typed)


def guard(dataset_dir: Path, new: Manifest, *, allow_schema_change: bool, allow_shrink: bool) -> None:
    """The publish guard: nothing goes live by surprise.  Refuses `new` when its schema differs from
    the live version's (a column added or dropped, a type or the key changed; nullability and column
    order alone do not count) or when it holds fewer than half the live version's rows, unless the
    matching flag says it is meant.  Each flag opens only its own guard.  A dataset with no live
    version, or whose live version cannot be read, has nothing to guard."""
    try:
        live_name = current_version(dataset_dir)
        live = read_manifest(dataset_dir / live_name) if live_name else None
    except (RodataError, OSError):
        return
    if live is None:
        return
    name = dataset_dir.name
    if not allow_schema_change:
        change = schema_change(live.schema, new.schema)
        if change is not None:
            raise PublishGuardError(
                f"refusing to publish {name}: {change} against the live version {live.version} "
                "(pass --allow-schema-change, or allow_schema_change=True, if this is meant)")
    if not allow_shrink and new.rows * 2 < live.rows:
        raise PublishGuardError(
            f"refusing to publish {name}: {new.rows:,} rows is fewer than half the live version {live.version}'s "
            f"{live.rows:,} (pass --allow-shrink, or allow_shrink=True, if this is meant)")


def schema_change(old: Schema, new: Schema) -> str | None:
    """The first difference between two schemas that the publish guard counts, in words, or None."""
    if old.key != new.key:
        return f"the key column changed from {old.key!r} to {new.key!r}"
    before = {c.name: c for c in old.columns}
    after = {c.name: c for c in new.columns}
    for column in old.columns:
        if column.name not in after:
            return f"column {column.name!r} was dropped"
    for column in new.columns:
        if column.name not in before:
            return f"column {column.name!r} ({column.type_name}) was added"
        if before[column.name].type_name != column.type_name:
            return (f"column {column.name!r} changed type from {before[column.name].type_name} "
                    f"to {column.type_name}")
    return None


def retained_versions(dataset_dir: str | os.PathLike[str], keep: int) -> set[str]:
    """The versions pruning keeps: the newest `keep` by number, every version named in the last
    `keep` lines of HISTORY (live recently: pods still polling may serve it, and it is where a
    rollback goes), the live one and the one live before it."""
    d = Path(dataset_dir)
    live = current_version(d)
    recent = history(d)[-keep:]
    return {*list_versions(d)[-keep:], *recent, *(v for v in (live, previous_live(d, live)) if v)}


def _prune(d: Path, keep: int) -> None:
    """Remove the versions :func:`retained_versions` does not keep; with a HISTORY that cannot be
    read, none (what was live recently cannot be told)."""
    try:
        spare = retained_versions(d, keep)
    except FormatError:
        return
    for name in list_versions(d):
        if name not in spare:
            shutil.rmtree(d / name, ignore_errors=True)


def numbered_before(versions: list[str], live: str | None) -> str | None:
    """The newest of `versions` numbered before `live` (all when `live` is None), or None."""
    older = [v for v in versions if live is None or _seq(v) < _seq(live)]
    return older[-1] if older else None


def _seq(name: str) -> int:
    match = _VERSION_RE.fullmatch(name)
    return int(match.group(1)) if match else -1
