"""Small process utilities shared by the store and the ETL: whether a process is alive (orphaned
workers, staging directories of older rodata) and directories owned by a lock held for the owner's
whole life (staging and spill directories).

A *locked directory* ``<prefix><id>/`` (``.staging-<pid>-<random>``) comes with a lock file
``<prefix minus its dash>.lock-<id>`` beside it (``.staging.lock-<pid>-<random>``), on which its owner
holds an exclusive ``flock`` from before the directory exists until after it is removed.  Whoever
can take that lock knows the owner is gone, however it went (SIGKILL, an evicted pod, a host that
died): no process id is asked, so PID 1 in every container, a reused pid or another host on the same
filesystem cannot make a dead owner look alive, nor a live one dead.  The lock file is put in place
already locked (created under a temporary name, locked, then renamed), so no cleaner can ever take
the lock of a directory whose owner is still setting it up."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["clean_locked_dirs", "lock_file_of", "locked_dir", "pid_alive", "try_lock"]

_NEW_SUFFIX = ".new"  # a lock file being put in place (locked, not yet renamed)

# The lock files this process holds.  On NFS, flock is emulated by the server's byte-range locks,
# which one process never conflicts with itself on (and which closing any descriptor of the file
# may drop): so this process never tries, nor opens, a lock file of its own.
_held: set[str] = set()
_held_guard = threading.Lock()


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (also when it belongs to another user)."""
    if pid <= 0:  # os.kill(0 or -N, ...) would signal a process group, not ask about one process
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # OverflowError: a number no pid can be
        return False
    except PermissionError:
        return True
    return True


def try_lock(path: str | os.PathLike[str], *, create: bool = True) -> int | None:
    """An exclusive ``flock`` on `path` taken without waiting: the open descriptor holding it, or
    None when another process holds it (or, with ``create=False``, when there is no such file)."""
    flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)  # NFS: a lock needs a writable open
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:
        if create:
            raise
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _is_held_here(path: Path) -> bool:
    with _held_guard:
        return os.fspath(path) in _held


def _lock_prefix(prefix: str) -> str:
    return prefix.rstrip("-") + ".lock-"


def lock_file_of(path: str | os.PathLike[str], prefix: str) -> Path:
    """The lock file of the locked directory `path` (named with `prefix`)."""
    p = Path(path)
    return p.with_name(_lock_prefix(prefix) + p.name[len(prefix):])


def _new_lock(parent: Path, prefix: str) -> tuple[Path, int]:
    """A fresh name under `parent` and the descriptor locking its lock file, put in place locked."""
    while True:
        name = f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
        lock = lock_file_of(parent / name, prefix)
        new = lock.with_name(lock.name + _NEW_SUFFIX)
        try:
            fd = os.open(new, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if (parent / name).exists() or lock.exists():
                raise FileExistsError(name)  # a leftover of an earlier process of this pid: another name
            os.rename(new, lock)  # ENOENT: a cleaner took the new file for a dead owner's (it was not locked yet)
        except FileExistsError:
            with contextlib.suppress(OSError):
                os.unlink(new)
            os.close(fd)
            continue
        except (BlockingIOError, FileNotFoundError):  # a cleaner has it, and removes it
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(new)
            raise
        return parent / name, fd


@contextlib.contextmanager
def locked_dir(parent: str | os.PathLike[str], prefix: str) -> Iterator[Path]:
    """A new private directory ``parent/<prefix><pid>-<random>`` owned by this process: its lock is
    held until it is removed on leaving (whatever happens inside).  Call :func:`clean_locked_dirs`
    first to remove those of owners that are gone."""
    root = Path(parent)
    path, fd = _new_lock(root, prefix)
    lock = lock_file_of(path, prefix)
    with _held_guard:
        _held.add(os.fspath(lock))
    try:
        path.mkdir()
        yield path
    finally:
        try:
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():  # else the lock file stays: the next cleaner removes what is left
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(lock)
        finally:
            with _held_guard:
                _held.discard(os.fspath(lock))
            os.close(fd)


def clean_locked_dirs(parent: str | os.PathLike[str], prefix: str) -> list[str]:
    """Remove the locked directories under `parent` named with `prefix` whose owner is gone (their
    lock can be taken), and their lock files; returns the names removed.  A directory whose owner
    holds its lock is never touched, nor is anything without a lock file."""
    root = Path(parent)
    removed: list[str] = []
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return removed
    locks = _lock_prefix(prefix)
    for entry in names:
        if not entry.startswith(locks):
            continue
        owned = prefix + entry[len(locks):].removesuffix(_NEW_SUFFIX)
        if _remove_if_unlocked(root / entry, root / owned):
            removed.append(owned)
    return removed


def _remove_if_unlocked(lock: Path, path: Path) -> bool:
    """Take `lock` if its owner is gone; then remove `path` and the lock file.  False when the owner
    still holds it, the lock file went meanwhile, or it is not ours to open."""
    if _is_held_here(lock):
        return False
    try:
        fd = try_lock(lock, create=False)
    except OSError:  # another user's, or a filesystem without locks: whose it is cannot be told
        return False
    if fd is None:
        return False
    try:
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            return False  # not all of it could be removed: the lock file stays, to try again
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        return True
    finally:
        os.close(fd)
