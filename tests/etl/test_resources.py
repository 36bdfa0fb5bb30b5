"""CPUs and memory a process may use: affinity and cgroup v1/v2 limits, on fake /proc and cgroup trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rodata.etl import resources


def fake(tmp_path: Path, cgroup_lines: str, files: dict[str, str]) -> tuple[str, str]:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text(cgroup_lines)
    (proc / "meminfo").write_text("MemTotal:       16384000 kB\nMemFree: 1 kB\n")
    cg = tmp_path / "cgroup"
    for rel, text in files.items():
        (cg / rel).parent.mkdir(parents=True, exist_ok=True)
        (cg / rel).write_text(text)
    cg.mkdir(exist_ok=True)
    return str(proc), str(cg)


def test_cgroup_v2_quota_of_a_pod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc, cg = fake(tmp_path, "0::/kubepods/pod1/ctr\n", {
        "kubepods/pod1/ctr/cpu.max": "400000 100000\n",
        "kubepods/pod1/cpu.max": "max 100000\n",
        "kubepods/pod1/ctr/memory.max": "2147483648\n",
    })
    assert resources.cgroup_cpu_limit(proc_root=proc, cgroup_root=cg) == 4.0
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))  # a 64-core node
    assert resources.available_cpus(proc_root=proc, cgroup_root=cg) == 4
    assert resources.cgroup_memory_limit(proc_root=proc, cgroup_root=cg) == 2 << 30
    assert resources.available_memory(proc_root=proc, cgroup_root=cg) == 2 << 30


def test_cgroup_v2_ancestor_limit_applies(tmp_path: Path) -> None:
    proc, cg = fake(tmp_path, "0::/a/b\n", {"a/b/cpu.max": "max 100000\n", "a/cpu.max": "150000 100000\n"})
    assert resources.cgroup_cpu_limit(proc_root=proc, cgroup_root=cg) == 1.5
    assert resources.available_cpus(proc_root=proc, cgroup_root=cg) == 1  # rounded down, at least one


def test_cgroup_v2_namespace_sees_its_own_root(tmp_path: Path) -> None:
    proc, cg = fake(tmp_path, "0::/\n", {"cpu.max": "200000 100000\n"})
    assert resources.cgroup_cpu_limit(proc_root=proc, cgroup_root=cg) == 2.0


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    proc, cg = fake(tmp_path, "4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n", {
        "cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "300000\n",
        "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
        "memory/docker/abc/memory.limit_in_bytes": "1073741824\n",
    })
    assert resources.cgroup_cpu_limit(proc_root=proc, cgroup_root=cg) == 3.0
    assert resources.cgroup_memory_limit(proc_root=proc, cgroup_root=cg) == 1 << 30


def test_cgroup_v1_unlimited(tmp_path: Path) -> None:
    proc, cg = fake(tmp_path, "4:cpu:/\n3:memory:/\n", {
        "cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n",
        "memory/memory.limit_in_bytes": "9223372036854771712\n",
    })
    assert resources.cgroup_cpu_limit(proc_root=proc, cgroup_root=cg) is None
    assert resources.cgroup_memory_limit(proc_root=proc, cgroup_root=cg) is None
    assert resources.available_memory(proc_root=proc, cgroup_root=cg) == 16384000 * 1024


def test_no_cgroup_means_the_affinity_mask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc, cg = fake(tmp_path, "", {})
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert resources.available_cpus(proc_root=proc, cgroup_root=cg) == 3


def test_default_memory_limit_is_half_of_what_is_available() -> None:
    assert resources.default_memory_limit() == max(64 << 20, resources.available_memory() // 2)
