"""How many CPUs and how much memory this process may really use.

A container's limits are not what ``os.cpu_count()`` says: a pod limited to 4 CPUs on
a 64-core node sees 64 cores but gets 4 CPUs' worth of time.  Both the CPU affinity mask
and the cgroup CPU quota (``cpu.max`` in cgroup v2, ``cpu.cfs_quota_us`` in v1) count."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["available_cpus", "available_memory", "cgroup_cpu_limit", "cgroup_memory_limit", "default_memory_limit"]

_PROC = "/proc"
_CGROUP = "/sys/fs/cgroup"
_MIN_MEMORY_LIMIT = 64 << 20
_UNLIMITED = 1 << 62


def available_cpus(*, proc_root: str = _PROC, cgroup_root: str = _CGROUP) -> int:
    """The CPUs this process may use: its affinity mask, further capped by a cgroup CPU quota
    (rounded down, at least 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_limit(proc_root=proc_root, cgroup_root=cgroup_root)
    if quota is not None:
        cpus = min(cpus, max(1, int(quota)))
    return max(1, cpus)


def _cgroup_paths(proc_root: str) -> dict[str, str]:
    """controller -> cgroup path of this process ("" is the cgroup v2 unified hierarchy)."""
    paths: dict[str, str] = {}
    try:
        text = Path(proc_root, "self", "cgroup").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return paths
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _candidate_dirs(base: Path, path: str) -> list[Path]:
    """The cgroup's own directory and its ancestors (limits of every ancestor apply); when the
    cgroup path is not visible (a container with its own cgroup namespace) the mount itself."""
    rel = path.strip("/")
    dirs = []
    parts = rel.split("/") if rel else []
    for i in range(len(parts), -1, -1):
        d = base.joinpath(*parts[:i])
        if d.is_dir():
            dirs.append(d)
    if base not in dirs and base.is_dir():
        dirs.append(base)
    return dirs


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def cgroup_cpu_limit(*, proc_root: str = _PROC, cgroup_root: str = _CGROUP) -> float | None:
    """The CPU quota in CPUs (``400000 100000`` -> 4.0), the smallest along the cgroup's
    ancestors, or None when there is none."""
    paths = _cgroup_paths(proc_root)
    root = Path(cgroup_root)
    limits: list[float] = []
    if "" in paths:  # cgroup v2
        for d in _candidate_dirs(root, paths[""]):
            text = _read(d / "cpu.max")
            if text:
                fields = text.split()
                if len(fields) == 2 and fields[0] != "max":
                    limits.extend(_ratio(fields[0], fields[1]))
    v1 = next(((k, v) for k, v in paths.items() if "cpu" in k.split(",")), None)
    if v1 is not None:  # cgroup v1: the cpu controller may be mounted under several names
        controller, path = v1
        for mount in dict.fromkeys((controller, "cpu", "cpu,cpuacct", "cpuacct,cpu")):
            for d in _candidate_dirs(root / mount, path):
                quota, period = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
                if quota and period:
                    limits.extend(_ratio(quota, period))
    return min(limits) if limits else None


def _ratio(quota: str, period: str) -> list[float]:
    try:
        q, p = int(quota), int(period)
    except ValueError:
        return []
    return [q / p] if q > 0 and p > 0 else []


def cgroup_memory_limit(*, proc_root: str = _PROC, cgroup_root: str = _CGROUP) -> int | None:
    """The cgroup memory limit in bytes (``memory.max``, v1 ``memory.limit_in_bytes``), or None."""
    paths = _cgroup_paths(proc_root)
    root = Path(cgroup_root)
    limits: list[int] = []
    if "" in paths:
        for d in _candidate_dirs(root, paths[""]):
            text = _read(d / "memory.max")
            if text and text.isdigit():
                limits.append(int(text))
    if "memory" in paths:
        for d in _candidate_dirs(root / "memory", paths["memory"]):
            text = _read(d / "memory.limit_in_bytes")
            if text and text.isdigit() and int(text) < _UNLIMITED:
                limits.append(int(text))
    return min(limits) if limits else None


def available_memory(*, proc_root: str = _PROC, cgroup_root: str = _CGROUP) -> int:
    """Memory this process may use: physical memory (MemTotal) capped by a cgroup limit."""
    total = _UNLIMITED
    text = _read(Path(proc_root, "meminfo"))
    for line in (text or "").splitlines():
        if line.startswith("MemTotal:"):
            fields = line.split()
            if len(fields) >= 2 and fields[1].isdigit():
                total = int(fields[1]) * 1024
    if total == _UNLIMITED:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            total = 4 << 30
    limit = cgroup_memory_limit(proc_root=proc_root, cgroup_root=cgroup_root)
    return min(total, limit) if limit else total


def default_memory_limit() -> int:
    """The build's working-memory budget when none is given: half of the memory available."""
    return max(_MIN_MEMORY_LIMIT, available_memory() // 2)
