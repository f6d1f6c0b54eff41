"""One interface over cgroup v1 and v2: the ``CgroupManager`` protocol, the ``Resources`` it applies, and the
unit conversions both versions share (Docker's ``cpus`` to a CFS quota, v1 shares to a v2 weight, as runc does).

A manager owns one container's cgroup: ``create()`` it, ``add(pid)``, ``apply(resources)``, ``freeze()``/``thaw()``,
read ``stats()`` (the keys of Docker's ``/containers/{id}/stats``), watch for OOM kills, ``kill_all()`` and
``destroy()``. Every method raises the typed errors of ``runtime.errors``; a missing kernel feature in ``apply`` is
a warning returned to the caller (Docker warns and discards such a limit), anything else is an error.
"""
from __future__ import annotations

import errno
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from runtime.cgroups.devices import DEFAULT_DEVICES, DeviceRule
from runtime.errors import InvalidArgument, InvalidState, NotFound

__all__ = [
    "Resources", "CgroupManager", "OomWatch", "DEFAULT_CPU_PERIOD", "resources_from", "cpus_to_quota",
    "shares_to_weight", "blkio_weight_to_io_weight", "memswap_to_v2_swap", "system_cpu_usage", "online_cpus",
    "host_memory", "wait_for", "read_text", "write_text", "read_int", "read_keyed", "iter_pid_files",
    "signal_all", "drain_eventfd", "remove_tree",
]

DEFAULT_CPU_PERIOD = 100_000  # µs, the kernel's and Docker's default CFS period


@dataclass(frozen=True)
class Resources:
    """Limits for one cgroup, named as in the Engine API's HostConfig. ``0``/``""`` means "not set".

    ``memory_swap`` is Docker's memory+swap total (``-1`` unlimited swap); ``nano_cpus`` is ``cpus`` x 1e9 and,
    when set, wins over ``cpu_quota``; ``pids_limit`` <= 0 means unlimited; ``memory_swappiness`` -1 means the
    kernel's default.
    """

    memory: int = 0
    memory_reservation: int = 0
    memory_swap: int = 0
    memory_swappiness: int = -1
    nano_cpus: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    cpu_shares: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int = 0
    blkio_weight: int = 0
    oom_kill_disable: bool = False
    # (device path or "major:minor", value) pairs
    blkio_weight_device: tuple[tuple[str, int], ...] = ()
    blkio_read_bps: tuple[tuple[str, int], ...] = ()
    blkio_write_bps: tuple[tuple[str, int], ...] = ()
    blkio_read_iops: tuple[tuple[str, int], ...] = ()
    blkio_write_iops: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        for name in _DEVICE_FIELDS:  # lists from JSON become tuples, so the value stays hashable
            object.__setattr__(self, name, tuple((str(d), int(v)) for d, v in getattr(self, name)))
        _validate(self)

    def throttles(self) -> dict[str, tuple[tuple[str, int], ...]]:
        """The non-empty per-device throttle fields."""
        return {f: getattr(self, f) for f in _DEVICE_FIELDS[1:] if getattr(self, f)}

    def effective_memory_swap(self) -> int:
        """Docker's rule: a memory limit without ``memory_swap`` allows as much swap again (total 2 x memory)."""
        if self.memory > 0 and self.memory_swap == 0:
            return 2 * self.memory
        return self.memory_swap

    def quota_period(self) -> tuple[int, int]:
        """The CFS (quota, period) in µs; quota -1 means no limit."""
        if self.nano_cpus:
            return cpus_to_quota(self.nano_cpus / 1e9, self.cpu_period or DEFAULT_CPU_PERIOD)
        period = self.cpu_period or DEFAULT_CPU_PERIOD
        return (self.cpu_quota if self.cpu_quota > 0 else -1), period


_DEVICE_FIELDS = ("blkio_weight_device", "blkio_read_bps", "blkio_write_bps", "blkio_read_iops",
                  "blkio_write_iops")


def _validate(r: Resources) -> None:
    if r.memory and 0 < r.memory < 6 * 1024 * 1024:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if r.memory_swap > 0 and r.memory and r.memory_swap < r.memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
    if r.memory_swap > 0 and not r.memory:
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage")
    if r.memory and r.memory_reservation and r.memory_reservation > r.memory:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage")
    if not -1 <= r.memory_swappiness <= 100:
        raise InvalidArgument(f"Invalid value: {r.memory_swappiness}, valid memory swappiness range is 0-100")
    if r.nano_cpus and (r.cpu_quota or r.cpu_period):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period/Quota cannot both be set")
    if r.nano_cpus < 0:
        raise InvalidArgument("Range of CPUs is from 0.01 to the number of CPUs available on the machine")
    if r.cpu_period and not 1000 <= r.cpu_period <= 1_000_000:
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if r.cpu_quota and 0 < r.cpu_quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if r.cpu_shares < 0:
        raise InvalidArgument(f"invalid CPU shares {r.cpu_shares}: must not be negative")
    if r.blkio_weight and not 10 <= r.blkio_weight <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    for device, weight in r.blkio_weight_device:
        if not 10 <= weight <= 1000:
            raise InvalidArgument(f"invalid weight for device {device}: {weight}: range is 10 to 1000")
    for name in _DEVICE_FIELDS[1:]:
        for device, value in getattr(r, name):
            if value < 0:
                raise InvalidArgument(f"{name} for device {device}: {value} must not be negative")


def resources_from(obj: Any) -> Resources:
    """A ``Resources`` from any object or mapping carrying (some of) the same field names (e.g. the spec's)."""
    if isinstance(obj, Resources):
        return obj
    kw: dict[str, Any] = {}
    for f in fields(Resources):
        value = obj.get(f.name) if isinstance(obj, dict) else getattr(obj, f.name, None)
        if value is not None:
            kw[f.name] = value
    return Resources(**kw)


def cpus_to_quota(cpus: float, period: int = DEFAULT_CPU_PERIOD) -> tuple[int, int]:
    """Docker's ``--cpus``: a quota of ``cpus`` periods per period (µs)."""
    if cpus <= 0:
        return -1, period
    return max(1000, int(round(cpus * period))), period


def shares_to_weight(shares: int) -> int:
    """cgroup v1 ``cpu.shares`` [2, 262144] to v2 ``cpu.weight`` [1, 10000], runc's formula; 0 = unset."""
    if shares == 0:
        return 0
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    """v1 ``blkio.weight`` [10, 1000] to v2 ``io.weight`` [1, 10000], runc's formula; 0 = unset."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def memswap_to_v2_swap(memory_swap: int, memory: int) -> str | None:
    """Docker's memory+swap total to v2 ``memory.swap.max`` (swap alone); ``None`` = leave as is."""
    if memory_swap == -1:
        return "max"
    if memory_swap == 0:
        return None
    if memory <= 0:
        raise InvalidArgument("memory_swap needs a memory limit")
    return str(memory_swap - memory)


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
        """Write the limits; returns warnings for limits this kernel cannot enforce (then discarded)."""

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

    @abstractmethod
    def destroy(self, timeout: float = 5.0) -> None:
        """Kill nothing; wait until the cgroup is empty, then remove its directories. Idempotent."""


# -- helpers shared by v1 and v2 ------------------------------------------------------------------------------

def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``cond`` with a short, growing backoff until it holds or ``timeout`` passes (then InvalidState)."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while not cond():
        now = time.monotonic()
        if now >= deadline:
            raise InvalidState(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(min(delay, deadline - now))
        delay = min(delay * 2, 0.02)


def read_text(path: Path) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read()
    except FileNotFoundError as err:
        raise NotFound(f"cgroup file {path} does not exist") from err


def read_int(path: Path, default: int = 0) -> int:
    """An integer file; ``max`` (v2 unlimited) reads as ``-1``; a missing file gives ``default``."""
    try:
        raw = read_text(path).strip()
    except NotFound:
        return default
    if raw == "max":
        return -1
    return int(raw.split()[0]) if raw else default


def read_keyed(path: Path) -> dict[str, int]:
    """A flat-keyed file (``key value`` per line, e.g. memory.stat); missing file -> ``{}``."""
    out: dict[str, int] = {}
    try:
        text = read_text(path)
    except NotFound:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def write_text(path: Path, value: str) -> None:
    """Write one value to a cgroup file; the kernel's refusal becomes a typed error naming file and value."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except FileNotFoundError as err:
        raise NotFound(f"cgroup file {path} does not exist") from err
    try:
        os.write(fd, value.encode())
    except OSError as err:
        if err.errno in (errno.EINVAL, errno.ERANGE):
            raise InvalidArgument(f"the kernel refused {value!r} for {path.name} ({os.strerror(err.errno)})") from err
        if err.errno == errno.EBUSY:
            raise InvalidState(f"cannot write {value!r} to {path}: busy") from err
        raise
    finally:
        os.close(fd)


def iter_pid_files(top: Path, filename: str = "cgroup.procs") -> Iterator[Path]:
    """``filename`` in ``top`` and every cgroup below it."""
    for dirpath, _dirs, _files in os.walk(top):
        yield Path(dirpath) / filename


def system_cpu_usage() -> int:
    """Host CPU time in ns since boot (Docker's ``system_cpu_usage``), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as fh:
        first = fh.readline().split()
    ticks = sum(int(v) for v in first[1:8])
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def online_cpus() -> int:
    return len(os.sched_getaffinity(0)) or (os.cpu_count() or 1)


def host_memory() -> int:
    """Total RAM in bytes (what Docker reports as the limit of an unlimited container)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue


def drain_eventfd(fd: int) -> bool:
    try:
        os.eventfd_read(fd)
        return True
    except BlockingIOError:
        return False


def remove_tree(top: Path, timeout: float) -> None:
    """rmdir ``top`` and every cgroup below it, deepest first; retry while the kernel still reports it busy."""
    if not top.is_dir():
        return
    dirs = [Path(d) for d, _s, _f in os.walk(top)]
    for path in reversed(dirs):
        def gone(p: Path = path) -> bool:
            try:
                os.rmdir(p)
            except FileNotFoundError:
                return True
            except OSError as err:
                if err.errno == errno.EBUSY:
                    return False
                raise
            return True
        try:
            wait_for(gone, timeout, f"cgroup {path} to be removable")
        except InvalidState as err:
            raise InvalidState(f"cannot remove cgroup {path}: still busy") from err
