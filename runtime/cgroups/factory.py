"""Pick the cgroup manager for this host: pure v2, hybrid (v1 controllers beside an empty unified hierarchy: use
v1, as runc does) or pure v1. Detection reads /proc/self/mountinfo once per process."""
from __future__ import annotations

import enum
import functools
from pathlib import Path

from runtime.cgroups.base import CgroupManager, remove_tree
from runtime.cgroups.v1 import V1Manager, v1_mounts
from runtime.cgroups.v2 import V2Manager, v2_mountpoint
from runtime.errors import Unsupported

__all__ = ["CgroupMode", "detect_mode", "new_manager", "remove_parent"]


class CgroupMode(enum.Enum):
    V1 = "v1"
    HYBRID = "hybrid"
    V2 = "v2"


def detect_mode(mountinfo: str = "/proc/self/mountinfo") -> CgroupMode:
    """v2 when only the unified hierarchy is mounted; hybrid when it sits beside v1 controller hierarchies."""
    return _detect(mountinfo)


@functools.lru_cache(maxsize=4)
def _detect(mountinfo: str) -> CgroupMode:
    v1 = v1_mounts(mountinfo)
    v2 = v2_mountpoint(mountinfo)
    if v1 and v2 is not None:
        return CgroupMode.HYBRID
    if v1:
        return CgroupMode.V1
    if v2 is not None:
        return CgroupMode.V2
    raise Unsupported("no cgroup filesystem is mounted (neither v1 controllers nor cgroup2)")


def new_manager(name: str, parent: str = "pycompose", mode: CgroupMode | None = None) -> CgroupManager:
    """The manager for cgroup ``<parent>/<name>`` on this host (nothing is created until ``create()``)."""
    mode = mode or detect_mode()
    if mode is CgroupMode.V2:
        return V2Manager(name, parent)
    return V1Manager(name, parent)


def remove_parent(parent: str, mode: CgroupMode | None = None, timeout: float = 5.0) -> None:
    """Remove the (empty) parent cgroup and everything below it in every hierarchy; for tests and uninstall."""
    parent = parent.strip("/")
    if not parent or ".." in parent.split("/"):
        raise ValueError(f"refusing to remove cgroup parent {parent!r}")
    mode = mode or detect_mode()
    roots: list[Path] = []
    if mode is CgroupMode.V2:
        mnt = v2_mountpoint()
        roots = [mnt] if mnt is not None else []
    else:
        roots = list(dict.fromkeys(v1_mounts().values()))
    for root in roots:
        remove_tree(root / parent, timeout)
