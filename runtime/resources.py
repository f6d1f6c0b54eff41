"""A container's cgroup limits: the ``Resources`` value (field names and units as in the Engine API's HostConfig)
and Docker's rules for it. The container spec carries one; ``runtime.cgroups`` applies it. Only the standard library
is imported: the container's init process reads the spec, and so this module.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["Resources", "BLKIO_DEVICE_FIELDS", "resource_problems", "parse_cpuset"]

# the per-device fields of ``Resources``: the weights, then the four throttles
BLKIO_DEVICE_FIELDS = ("blkio_weight_device", "blkio_read_bps", "blkio_write_bps", "blkio_read_iops",
                       "blkio_write_iops")


@dataclass(frozen=True)
class Resources:
    """A container's cgroup limits, named as in the Engine API's HostConfig; the one ``Resources`` of the engine
    (``runtime.cgroups`` applies it as it is). ``0`` / ``""`` means "not set".

    Units: bytes for ``memory*``; ``memory_swap`` is Docker's memory+swap total (``-1`` unlimited swap, unset: as
    much swap again as memory); ``nano_cpus`` is ``cpus`` x 1e9 and excludes ``cpu_quota``/``cpu_period`` (µs);
    ``pids_limit`` <= 0 means unlimited; ``memory_swappiness`` -1 means the kernel's default. ``resource_problems``
    holds Docker's rules for these values.
    """

    memory: int = 0
    memory_reservation: int = 0
    memory_swap: int = 0
    nano_cpus: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    cpu_shares: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int = 0
    oom_kill_disable: bool = False
    memory_swappiness: int = -1
    blkio_weight: int = 0
    # (device path or "major:minor", value) pairs
    blkio_weight_device: tuple[tuple[str, int], ...] = ()
    blkio_read_bps: tuple[tuple[str, int], ...] = ()
    blkio_write_bps: tuple[tuple[str, int], ...] = ()
    blkio_read_iops: tuple[tuple[str, int], ...] = ()
    blkio_write_iops: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        for name in BLKIO_DEVICE_FIELDS:  # lists from JSON become tuples: the spec stays hashable and compares equal
            object.__setattr__(self, name, tuple((str(d), int(v)) for d, v in getattr(self, name)))


def parse_cpuset(text: str, what: str = "cpuset") -> frozenset[int]:
    """``0-2,5`` -> {0, 1, 2, 5}; ``""`` -> empty. Raises ``ValueError`` naming ``what`` on bad syntax."""
    out: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            if text.strip():
                raise ValueError(f"invalid {what} {text!r}: empty element")
            continue
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(f"invalid {what} {text!r}: want a list like 0-2,5")
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first:
            raise ValueError(f"invalid {what} {text!r}: range {part} runs backwards")
        out.update(range(first, last + 1))
    return frozenset(out)


def resource_problems(r: Resources) -> list[str]:
    """Docker's rules for the limits, in its words (empty when ``r`` is valid on this host's CPU count)."""
    out = []
    if r.memory and 0 < r.memory < 6 * 1024 * 1024:
        out.append("Minimum memory limit allowed is 6MB")
    if r.memory_swap > 0 and r.memory and r.memory_swap < r.memory:
        out.append("Minimum memoryswap limit should be larger than memory limit, see usage")
    if r.memory_swap > 0 and not r.memory:
        out.append("You should always set the Memory limit when using Memoryswap limit, see usage")
    if r.memory and r.memory_reservation and r.memory_reservation > r.memory:
        out.append("Minimum memory limit can not be less than memory reservation limit, see usage")
    if not -1 <= r.memory_swappiness <= 100:
        out.append(f"Invalid value: {r.memory_swappiness}, valid memory swappiness range is 0-100")
    if r.nano_cpus and (r.cpu_quota or r.cpu_period):
        out.append("Conflicting options: Nano CPUs and CPU Period/Quota cannot both be set")
    ncpu = os.cpu_count() or 1
    if r.nano_cpus < 0 or 0 < r.nano_cpus < 10_000_000 or r.nano_cpus > ncpu * 1_000_000_000:
        out.append(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")
    if r.cpu_period and not 1000 <= r.cpu_period <= 1_000_000:
        out.append("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if r.cpu_quota and 0 < r.cpu_quota < 1000:
        out.append("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if r.cpu_shares < 0:
        out.append(f"invalid CPU shares {r.cpu_shares}: must not be negative")
    for name in ("cpuset_cpus", "cpuset_mems"):
        try:
            parse_cpuset(getattr(r, name), name)
        except ValueError as err:
            out.append(str(err))
    if r.blkio_weight and not 10 <= r.blkio_weight <= 1000:
        out.append("Range of blkio weight is from 10 to 1000")
    out += [f"invalid weight for device {device}: {weight}: range is 10 to 1000"
            for device, weight in r.blkio_weight_device if not 10 <= weight <= 1000]
    out += [f"{name} for device {device}: {value} must not be negative"
            for name in BLKIO_DEVICE_FIELDS[1:] for device, value in getattr(r, name) if value < 0]
    return out
