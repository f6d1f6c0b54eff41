"""What a cgroup limits: the ``Resources`` value (Engine API HostConfig names, Docker's checks) and the unit
conversions v1 and v2 share (Docker's ``cpus`` to a CFS quota, v1 shares/weights to v2 weights, as runc does)."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

from runtime.errors import InvalidArgument

__all__ = ["Resources", "DEFAULT_CPU_PERIOD", "resources_from", "cpus_to_quota", "shares_to_weight",
           "blkio_weight_to_io_weight", "memswap_to_v2_swap", "parse_cpuset", "check_cpuset_available"]

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
    ncpu = os.cpu_count() or 1
    if r.nano_cpus < 0 or 0 < r.nano_cpus < 10_000_000 or r.nano_cpus > ncpu * 1_000_000_000:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")
    if r.cpu_period and not 1000 <= r.cpu_period <= 1_000_000:
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if r.cpu_quota and 0 < r.cpu_quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if r.cpu_shares < 0:
        raise InvalidArgument(f"invalid CPU shares {r.cpu_shares}: must not be negative")
    parse_cpuset(r.cpuset_cpus, "cpuset_cpus")
    parse_cpuset(r.cpuset_mems, "cpuset_mems")
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


def parse_cpuset(text: str, what: str = "cpuset") -> frozenset[int]:
    """``0-2,5`` -> {0, 1, 2, 5}; ``""`` -> empty. Raises ``InvalidArgument`` naming ``what`` on bad syntax."""
    out: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            if text.strip():
                raise InvalidArgument(f"invalid {what} {text!r}: empty element")
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise InvalidArgument(f"invalid {what} {text!r}: want a list like 0-2,5")
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first:
            raise InvalidArgument(f"invalid {what} {text!r}: range {part} runs backwards")
        out.update(range(first, last + 1))
    return frozenset(out)


def check_cpuset_available(res: Resources) -> None:
    """Docker's check: every requested CPU / memory node must be online on this host."""
    for field, sysfile, kind in (("cpuset_cpus", "/sys/devices/system/cpu/online", "CPUs"),
                                 ("cpuset_mems", "/sys/devices/system/node/online", "memory nodes")):
        wanted = parse_cpuset(getattr(res, field), field)
        if not wanted:
            continue
        try:
            with open(sysfile, encoding="ascii") as fh:
                online_text = fh.read().strip()
        except OSError:
            online_text = "0"  # no NUMA sysfs: one node
        missing = wanted - parse_cpuset(online_text)
        if missing:
            raise InvalidArgument(f"Requested {kind} are not available - requested {getattr(res, field)}, "
                                  f"available: {online_text}")
