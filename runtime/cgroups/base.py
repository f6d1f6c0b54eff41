"""One interface over cgroup v1 and v2: the ``CgroupManager`` protocol and the OOM watch it hands out.

A manager owns one container's cgroup: ``create()`` it, ``add(pid)``, ``apply(resources)``, ``freeze()``/``thaw()``,
read ``stats()`` (the keys of Docker's ``/containers/{id}/stats``), watch for OOM kills, ``kill_all()`` and
``destroy()``. Every method raises the typed errors of ``runtime.errors``; a missing kernel feature in ``apply`` is
a warning returned to the caller (Docker warns and discards such a limit), anything else is an error.
``Resources`` (the container's limits, from ``runtime.resources``) and the helpers of ``convert`` are re-exported
here for callers that know them from this module.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.cgroups.devices import DEFAULT_DEVICES, DeviceRule
from runtime.cgroups.fs import (
    drain_eventfd, host_memory, iter_pid_files, move_pid, online_cpus, read_int, read_keyed, read_pids, read_text,
    remove_tree, signal_all, system_cpu_usage, wait_for, write_text,
)
from runtime.cgroups.convert import (
    DEFAULT_CPU_PERIOD, Resources, blkio_weight_to_io_weight, check_resources, cpus_to_quota, memswap_to_v2_swap,
    resources_from, shares_to_weight,
)
from runtime.errors import InvalidArgument

__all__ = [
    "CgroupManager", "OomWatch",
    "Resources", "DEFAULT_CPU_PERIOD", "check_resources", "resources_from", "cpus_to_quota", "shares_to_weight",
    "blkio_weight_to_io_weight", "memswap_to_v2_swap",
    "system_cpu_usage", "online_cpus", "host_memory", "wait_for", "read_text", "write_text", "read_int",
    "read_keyed", "iter_pid_files", "signal_all", "drain_eventfd", "remove_tree", "move_pid", "read_pids",
]


@dataclass
class OomWatch:
    """A readable fd that becomes ready when the cgroup sees an OOM event (for ``select``/``add_reader``).

    ``drain()`` consumes the readiness and returns ``True`` if anything was pending; ``close()`` releases the fd.
    The fd also becomes ready once when the cgroup is removed.
    """

    fd: int
    _drain: Callable[[int], bool]
    _extra_fds: tuple[int, ...] = ()

    def fileno(self) -> int:
        return self.fd

    def drain(self) -> bool:
        return self._drain(self.fd)

    def close(self) -> None:
        for fd in (self.fd, *self._extra_fds):
            try:
                os.close(fd)
            except OSError:
                pass
        self.fd = -1

    def __enter__(self) -> OomWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CgroupManager(ABC):
    """One container's cgroup, on whichever cgroup version the host runs."""

    version: int

    def __init__(self, name: str, parent: str = "pycompose") -> None:
        if not name or "/" in name or name in (".", ".."):
            raise InvalidArgument(f"invalid cgroup name {name!r}")
        parent = parent.strip("/")
        if any(part in ("", ".", "..") for part in parent.split("/")) and parent:
            raise InvalidArgument(f"invalid cgroup parent {parent!r}")
        self.name = name
        self.parent = parent

    @property
    def relpath(self) -> str:
        """The cgroup's path below the hierarchy root, e.g. ``pycompose/<id>``."""
        return f"{self.parent}/{self.name}" if self.parent else self.name

    @abstractmethod
    def paths(self) -> dict[str, Path]:
        """Directory per controller (v1) or ``{"": dir}`` (v2)."""

    @abstractmethod
    def exists(self) -> bool: ...

    @abstractmethod
    def create(self, devices: Sequence[DeviceRule] | None = DEFAULT_DEVICES) -> None:
        """Make the cgroup (and its parents); idempotent. A newly made cgroup gets the device policy ``devices``
        (default: Docker's; ``ALL`` from ``devices.ALLOW_ALL`` for privileged containers; ``None``: none)."""

    @abstractmethod
    def set_devices(self, devices: Sequence[DeviceRule]) -> None:
        """Replace the device policy: deny everything but what ``devices`` allows."""

    @abstractmethod
    def add(self, pid: int) -> None:
        """Move process ``pid`` (all its threads) into the cgroup."""

    @abstractmethod
    def apply(self, resources: Resources) -> list[str]:
        """Check and write the limits (``InvalidArgument`` for what Docker refuses); returns warnings for limits
        this kernel cannot enforce (then discarded)."""

    @abstractmethod
    def freeze(self, timeout: float = 5.0) -> None:
        """Freeze every process and wait until the kernel reports the cgroup frozen."""

    @abstractmethod
    def thaw(self, timeout: float = 5.0) -> None: ...

    @abstractmethod
    def frozen(self) -> bool: ...

    @abstractmethod
    def pids(self) -> list[int]:
        """Every process in the cgroup and its descendants."""

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """``memory_stats``, ``cpu_stats``, ``pids_stats``, ``blkio_stats`` shaped as Docker's stats API."""

    @abstractmethod
    def oom_kill_count(self) -> int:
        """How many processes the kernel's OOM killer killed in this cgroup."""

    @abstractmethod
    def oom_watch(self) -> OomWatch:
        """An fd that becomes readable on each OOM event in the cgroup."""

    @abstractmethod
    def kill_all(self, sig: int = 9) -> None:
        """Send ``sig`` to every process in the cgroup (SIGKILL atomically where the kernel can)."""

    def _signal_frozen(self, sig: int) -> None:
        """Send ``sig`` to every process with the cgroup frozen, so none forks a child the signal misses."""
        self.freeze()
        try:
            signal_all(self.pids(), sig)
        finally:
            self.thaw()

    @abstractmethod
    def destroy(self, timeout: float = 5.0) -> None:
        """Kill nothing; wait until the cgroup is empty, then remove its directories. Idempotent."""
