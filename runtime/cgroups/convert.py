"""From the container's ``Resources`` (``runtime.resources``) to what v1 and v2 write: Docker's checks as a typed
error, the derived values (Docker's default swap, the CFS quota, the set throttles) and the unit conversions both
versions share (Docker's ``cpus`` to a CFS quota, v1 shares/weights to v2 weights, as runc does)."""
from __future__ import annotations

from dataclasses import fields
from typing import Any

from runtime.errors import InvalidArgument
from runtime.resources import BLKIO_DEVICE_FIELDS, Resources, parse_cpuset, resource_problems

__all__ = ["Resources", "DEFAULT_CPU_PERIOD", "check_resources", "resources_from", "throttles",
           "effective_memory_swap", "quota_period", "cpus_to_quota", "shares_to_weight",
           "blkio_weight_to_io_weight", "memswap_to_v2_swap", "check_cpuset_available"]

DEFAULT_CPU_PERIOD = 100_000  # µs, the kernel's and Docker's default CFS period


def check_resources(res: Resources) -> None:
    """``InvalidArgument`` (Docker's words) for limits Docker refuses."""
    problems = resource_problems(res)
    if problems:
        raise InvalidArgument("; ".join(problems))


def resources_from(obj: Any) -> Resources:
    """A checked ``Resources`` from a ``Resources``, a mapping or any object carrying (some of) its field names."""
    if isinstance(obj, Resources):
        res = obj
    else:
        kw: dict[str, Any] = {}
        for f in fields(Resources):
            value = obj.get(f.name) if isinstance(obj, dict) else getattr(obj, f.name, None)
            if value is not None:
                kw[f.name] = value
        res = Resources(**kw)
    check_resources(res)
    return res


def throttles(res: Resources) -> dict[str, tuple[tuple[str, int], ...]]:
    """The non-empty per-device throttle fields."""
    return {f: getattr(res, f) for f in BLKIO_DEVICE_FIELDS[1:] if getattr(res, f)}


def effective_memory_swap(res: Resources) -> int:
    """Docker's rule: a memory limit without ``memory_swap`` allows as much swap again (total 2 x memory)."""
    if res.memory > 0 and res.memory_swap == 0:
        return 2 * res.memory
    return res.memory_swap


def quota_period(res: Resources) -> tuple[int, int]:
    """The CFS (quota, period) in µs; quota -1 means no limit."""
    period = res.cpu_period or DEFAULT_CPU_PERIOD
    if res.nano_cpus:
        return cpus_to_quota(res.nano_cpus / 1e9, period)
    return (res.cpu_quota if res.cpu_quota > 0 else -1), period


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


def check_cpuset_available(res: Resources) -> None:
    """Docker's check: every requested CPU / memory node must be online on this host."""
    for field, sysfile, kind in (("cpuset_cpus", "/sys/devices/system/cpu/online", "CPUs"),
                                 ("cpuset_mems", "/sys/devices/system/node/online", "memory nodes")):
        try:
            wanted = parse_cpuset(getattr(res, field), field)
        except ValueError as err:
            raise InvalidArgument(str(err)) from err
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
