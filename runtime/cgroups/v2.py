"""cgroup v2: the unified hierarchy, ``<root>/<parent>/<name>``, controllers enabled in ``cgroup.subtree_control``
at every level above the leaf. Freeze via ``cgroup.freeze``/``cgroup.events``, kill via ``cgroup.kill``, OOM events
via inotify on ``memory.events``.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import select
import signal
import time
from pathlib import Path
from collections.abc import Sequence
from typing import Any

from runtime.cgroups.base import (
    CgroupManager, OomWatch, Resources, blkio_weight_to_io_weight, host_memory, memswap_to_v2_swap, move_pid,
    online_cpus, read_int, read_keyed, read_pids, read_text, remove_tree, resources_from, shares_to_weight,
    signal_all, system_cpu_usage, write_text,
)
from runtime.cgroups.blkio import device_number, v2_io_max_lines
from runtime.cgroups.devices import DEFAULT_DEVICES, DeviceRule, attach_program
from runtime.cgroups.convert import check_cpuset_available, effective_memory_swap, quota_period, throttles
from runtime.errors import InvalidState, NotFound, Unsupported

__all__ = ["V2Manager", "WANTED_CONTROLLERS", "v2_mountpoint", "v2_writes"]

# Only what ``apply`` uses: enabling a controller binds it to v2 (a hybrid host could then not mount it on v1).
WANTED_CONTROLLERS = ("cpuset", "cpu", "io", "memory", "pids")

_IN_MODIFY = 0x2
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000


def v2_mountpoint(mountinfo: str = "/proc/self/mountinfo") -> Path | None:
    """Where the unified hierarchy is mounted (``/sys/fs/cgroup`` or ``/sys/fs/cgroup/unified``), if anywhere."""
    with open(mountinfo, encoding="utf-8", errors="surrogateescape") as fh:
        for line in fh:
            pre, _, post = line.partition(" - ")
            if post.split()[:1] == ["cgroup2"]:
                return Path(pre.split()[4].replace("\\040", " "))
    return None


@functools.lru_cache(maxsize=1)
def _host_mountpoint() -> Path | None:
    """The unified hierarchy's mountpoint, read once per process."""
    return v2_mountpoint()


class V2Manager(CgroupManager):
    version = 2

    def __init__(self, name: str, parent: str = "pycompose", root: Path | str | None = None) -> None:
        super().__init__(name, parent)
        found = Path(root) if root is not None else _host_mountpoint()
        if found is None:
            raise Unsupported("no cgroup2 hierarchy is mounted")
        self.root = found
        self.path = self.root / self.relpath

    def paths(self) -> dict[str, Path]:
        return {"": self.path}

    def exists(self) -> bool:
        return self.path.is_dir()

    def available_controllers(self) -> set[str]:
        """Controllers usable in this cgroup (enabled in its parent's subtree_control)."""
        try:
            return set(read_text(self.path / "cgroup.controllers").split())
        except NotFound:
            return set()

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def create(self, devices: Sequence[DeviceRule] | None = DEFAULT_DEVICES) -> None:
        fresh = not self.path.exists()
        current = self.root
        for part in self.relpath.split("/"):
            _enable_controllers(current)
            current = current / part
            current.mkdir(exist_ok=True)
        if fresh and devices is not None:
            self.set_devices(devices)

    def set_devices(self, devices: Sequence[DeviceRule]) -> None:
        """Attach the eBPF device filter. Programs stack (each must allow): set the policy once, at create."""
        attach_program(self.path, devices)

    def add(self, pid: int) -> None:
        move_pid(self.path, pid)

    def pids(self) -> list[int]:
        return read_pids(self.path)

    def populated(self) -> bool:
        try:
            return read_keyed(self.path / "cgroup.events").get("populated", 0) == 1
        except NotFound:
            return False

    def destroy(self, timeout: float = 5.0) -> None:
        if not self.path.is_dir():
            return
        deadline = time.monotonic() + timeout
        self._wait_event("populated", 0, timeout, "to empty")
        remove_tree(self.path, max(0.1, deadline - time.monotonic()))

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        if not self.path.is_dir():
            return
        if sig == signal.SIGKILL and (self.path / "cgroup.kill").exists():
            write_text(self.path / "cgroup.kill", "1")
            return
        if sig == signal.SIGKILL:
            self._signal_frozen(sig)
            return
        signal_all(self.pids(), sig)

    # -- freezer -----------------------------------------------------------------------------------------------
    def _freeze_file(self) -> Path:
        path = self.path / "cgroup.freeze"
        if not path.exists():
            if not self.path.is_dir():
                raise NotFound(f"cgroup {self.relpath} does not exist")
            raise Unsupported("this kernel has no cgroup v2 freezer (needs Linux 5.2): cannot pause")
        return path

    def frozen(self) -> bool:
        return read_keyed(self.path / "cgroup.events").get("frozen", 0) == 1

    def freeze(self, timeout: float = 5.0) -> None:
        write_text(self._freeze_file(), "1")
        try:
            self._wait_event("frozen", 1, timeout, "to freeze")
        except InvalidState:
            write_text(self._freeze_file(), "0")  # never leave a half-frozen container behind
            raise

    def thaw(self, timeout: float = 5.0) -> None:
        write_text(self._freeze_file(), "0")
        self._wait_event("frozen", 0, timeout, "to thaw")

    def _wait_event(self, key: str, want: int, timeout: float, what: str) -> None:
        """Wait until ``cgroup.events`` says ``key want``: the kernel wakes pollers (POLLPRI) on every change."""
        try:
            fd = os.open(self.path / "cgroup.events", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            if want == 0:
                return  # no cgroup: nothing populated, nothing frozen
            raise NotFound(f"cgroup {self.relpath} does not exist") from None
        try:
            poller = select.poll()
            poller.register(fd, select.POLLPRI | select.POLLERR)
            deadline = time.monotonic() + timeout
            while True:
                events = _parse_events(os.pread(fd, 4096, 0))
                if events.get(key, 0) == want:
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise InvalidState(f"timed out after {timeout:g}s waiting for cgroup {self.relpath} {what}")
                poller.poll(max(1, int(left * 1000)))
        finally:
            os.close(fd)

    # -- limits ------------------------------------------------------------------------------------------------
    def apply(self, resources: Resources) -> list[str]:
        res = resources_from(resources)
        check_cpuset_available(res)
        have = self.available_controllers()
        writes, warnings = v2_writes(res, bfq=(self.path / "io.bfq.weight").exists())
        for ctrl, fname, value in writes:
            target = self.path / fname
            if ctrl not in have or not target.exists():
                warnings.append(f"the {ctrl} controller is not available in {self.path} ({fname}): discarded")
                continue
            write_text(target, value)
        return warnings

    # -- observation -------------------------------------------------------------------------------------------
    def oom_kill_count(self) -> int:
        return read_keyed(self.path / "memory.events").get("oom_kill", 0)

    def oom_watch(self) -> OomWatch:
        events = self.path / "memory.events"
        if not events.exists():
            raise Unsupported(f"the memory controller is not available in {self.path}: cannot watch for OOM")
        fd = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        if _libc.inotify_add_watch(fd, os.fsencode(events), _IN_MODIFY) < 0:
            err = ctypes.get_errno()
            os.close(fd)
            raise OSError(err, f"inotify_add_watch {events}: {os.strerror(err)}")
        return OomWatch(fd, _drain_inotify)

    def stats(self) -> dict[str, Any]:
        return {
            "memory_stats": self._memory_stats(),
            "cpu_stats": self._cpu_stats(),
            "pids_stats": self._pids_stats(),
            "blkio_stats": self._io_stats(),
        }

    def _memory_stats(self) -> dict[str, Any]:
        if not (self.path / "memory.current").exists():
            return {}
        limit = read_int(self.path / "memory.max", -1)
        host = host_memory()
        out: dict[str, Any] = {
            "usage": read_int(self.path / "memory.current"),
            "limit": host if limit < 0 or limit > host else limit,
            "stats": read_keyed(self.path / "memory.stat"),
        }
        if (self.path / "memory.peak").exists():
            out["max_usage"] = read_int(self.path / "memory.peak")
        return out

    def _cpu_stats(self) -> dict[str, Any]:
        st = read_keyed(self.path / "cpu.stat")  # present even without the cpu controller
        return {
            "cpu_usage": {
                "total_usage": st.get("usage_usec", 0) * 1000,
                "usage_in_usermode": st.get("user_usec", 0) * 1000,
                "usage_in_kernelmode": st.get("system_usec", 0) * 1000,
            },
            "online_cpus": online_cpus(),
            "system_cpu_usage": system_cpu_usage(),
            "throttling_data": {
                "periods": st.get("nr_periods", 0),
                "throttled_periods": st.get("nr_throttled", 0),
                "throttled_time": st.get("throttled_usec", 0) * 1000,
            },
        }

    def _pids_stats(self) -> dict[str, Any]:
        if not (self.path / "pids.current").exists():
            return {"current": len(self.pids())} if self.path.is_dir() else {}
        out = {"current": read_int(self.path / "pids.current")}
        limit = read_int(self.path / "pids.max", -1)
        if limit > 0:
            out["limit"] = limit
        return out

    def _io_stats(self) -> dict[str, Any]:
        try:
            text = read_text(self.path / "io.stat")
        except NotFound:
            return {}
        entries = []
        for line in text.splitlines():
            parts = line.split()
            if not parts or ":" not in parts[0]:
                continue
            major, minor = (int(x) for x in parts[0].split(":"))
            kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
            for key, op in (("rbytes", "read"), ("wbytes", "write")):
                if key in kv:
                    entries.append({"major": major, "minor": minor, "op": op, "value": int(kv[key])})
        return {"io_service_bytes_recursive": entries}



def v2_writes(res: Resources, bfq: bool = False) -> tuple[list[tuple[str, str, str]], list[str]]:
    """What ``apply`` writes, in order: (controller, file, value) triples, plus warnings for what v2 lacks.
    ``bfq``: the cgroup has ``io.bfq.weight`` (BFQ scheduler), which takes v1-style weights."""
    warnings: list[str] = []
    writes: list[tuple[str, str, str]] = []
    swap = memswap_to_v2_swap(effective_memory_swap(res), res.memory) if res.memory > 0 else (
        "max" if res.memory_swap == -1 else None)
    if res.memory:
        writes.append(("memory", "memory.max", str(res.memory) if res.memory > 0 else "max"))
    if swap is not None:
        writes.append(("memory", "memory.swap.max", swap))
    if res.memory_reservation:
        writes.append(("memory", "memory.low", str(res.memory_reservation)))
    if res.memory_swappiness >= 0:
        warnings.append("memory_swappiness is not supported by cgroup v2: discarded")
    if res.oom_kill_disable:
        warnings.append("oom_kill_disable is not supported by cgroup v2: discarded")
    if res.nano_cpus or res.cpu_quota or res.cpu_period:
        quota, period = quota_period(res)
        writes.append(("cpu", "cpu.max", f"{quota if quota > 0 else 'max'} {period}"))
    if res.cpu_shares:
        writes.append(("cpu", "cpu.weight", str(shares_to_weight(res.cpu_shares))))
    if res.cpuset_cpus:
        writes.append(("cpuset", "cpuset.cpus", res.cpuset_cpus))
    if res.cpuset_mems:
        writes.append(("cpuset", "cpuset.mems", res.cpuset_mems))
    if res.pids_limit:
        writes.append(("pids", "pids.max", str(res.pids_limit) if res.pids_limit > 0 else "max"))
    if res.blkio_weight:
        if bfq:
            writes.append(("io", "io.bfq.weight", str(res.blkio_weight)))
        else:
            writes.append(("io", "io.weight", f"default {blkio_weight_to_io_weight(res.blkio_weight)}"))
    for device, weight in res.blkio_weight_device:
        value = f"{device_number(device)} {weight if bfq else blkio_weight_to_io_weight(weight)}"
        writes.append(("io", "io.bfq.weight" if bfq else "io.weight", value))
    for line in v2_io_max_lines(throttles(res)):
        writes.append(("io", "io.max", line))
    return writes, warnings

def _parse_events(raw: bytes) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in raw.decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def _enable_controllers(cgroup: Path) -> None:
    """Enable in ``cgroup``'s subtree_control every wanted controller it has; one at a time so one refusal
    (e.g. the cpu controller while a realtime task runs) does not block the rest."""
    available = set(read_text(cgroup / "cgroup.controllers").split())
    enabled = set(read_text(cgroup / "cgroup.subtree_control").split())
    for ctrl in WANTED_CONTROLLERS:
        if ctrl in available and ctrl not in enabled:
            try:
                write_text(cgroup / "cgroup.subtree_control", f"+{ctrl}")
            except InvalidState as err:
                raise InvalidState(
                    f"cannot enable the {ctrl} controller below {cgroup}: it holds processes itself "
                    "(cgroup v2 'no internal processes' rule); move them to a leaf cgroup") from err
            except OSError as err:
                if err.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOENT):
                    continue
                raise


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]


def _drain_inotify(fd: int) -> bool:
    got = False
    while True:
        try:
            if not os.read(fd, 4096):
                return got
            got = True
        except BlockingIOError:
            return got
