"""What this host's cgroups can enforce, under the names of Docker's ``/info`` (``MemoryLimit``, ``SwapLimit``,
``CpuCfsQuota``, ...), with Docker's warnings for what is missing. Read from the root of each hierarchy."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from runtime.cgroups.factory import CgroupMode, detect_mode
from runtime.cgroups.v1 import v1_mounts
from runtime.cgroups.v2 import v2_mountpoint

__all__ = ["host_features", "feature_warnings"]


@functools.cache
def host_features() -> dict[str, Any]:
    """``CgroupDriver``, ``CgroupVersion`` and the limit booleans of ``docker info``."""
    mode = detect_mode()
    out: dict[str, Any]
    if mode is CgroupMode.V2:
        root = v2_mountpoint() or Path("/sys/fs/cgroup")
        have = set((root / "cgroup.controllers").read_text().split())
        memory = "memory" in have
        out = {
            "MemoryLimit": memory, "SwapLimit": memory and _swap_accounting_v2(root),
            "CpuCfsPeriod": "cpu" in have, "CpuCfsQuota": "cpu" in have, "CPUShares": "cpu" in have,
            "CPUSet": "cpuset" in have, "PidsLimit": "pids" in have, "OomKillDisable": False,
            "BlkioWeight": "io" in have,
        }
    else:
        mounts = v1_mounts()
        mem, cpu = mounts.get("memory"), mounts.get("cpu")
        blkio = mounts.get("blkio")
        out = {
            "MemoryLimit": mem is not None,
            "SwapLimit": mem is not None and (mem / "memory.memsw.limit_in_bytes").exists(),
            "CpuCfsPeriod": cpu is not None and (cpu / "cpu.cfs_period_us").exists(),
            "CpuCfsQuota": cpu is not None and (cpu / "cpu.cfs_quota_us").exists(),
            "CPUShares": cpu is not None and (cpu / "cpu.shares").exists(),
            "CPUSet": "cpuset" in mounts, "PidsLimit": "pids" in mounts,
            "OomKillDisable": mem is not None and (mem / "memory.oom_control").exists(),
            "BlkioWeight": blkio is not None,
        }
    out.update({"KernelMemory": False, "KernelMemoryTCP": False, "CgroupDriver": "cgroupfs",
                "CgroupVersion": "2" if mode is CgroupMode.V2 else "1"})
    return out


def feature_warnings() -> list[str]:
    """Docker's ``docker info`` warnings for limits this host cannot enforce."""
    f = host_features()
    names = (("MemoryLimit", "memory limit"), ("SwapLimit", "swap limit"), ("CpuCfsQuota", "cpu cfs quota"),
             ("CpuCfsPeriod", "cpu cfs period"), ("CPUShares", "cpu shares"), ("CPUSet", "cpuset"),
             ("PidsLimit", "pids limit"))
    return [f"WARNING: No {label} support" for key, label in names if not f[key]]


def _swap_accounting_v2(root: Path) -> bool:
    """memory.swap.max exists in non-root cgroups only: look for any child that has it."""
    for child in root.iterdir():
        if child.is_dir() and (child / "memory.swap.max").exists():
            return True
    return False
