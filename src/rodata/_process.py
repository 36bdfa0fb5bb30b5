"""Small process utilities shared by the store (stale staging directories) and the ETL (orphaned workers)."""

from __future__ import annotations

import os

__all__ = ["pid_alive"]


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
