"""cgroup v1: one directory per controller hierarchy, ``<mountpoint>/<parent>/<name>`` (also used on hybrid hosts).

Controllers come from /proc/self/mountinfo (co-mounted ones such as ``cpu,cpuacct`` share a directory). OOM
events use the v1 eventfd interface (``cgroup.event_control`` + ``memory.oom_control``).
"""
from __future__ import annotations

import functools
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runtime.cgroups.base import (
    CgroupManager, OomWatch, Resources, host_memory, move_pid, online_cpus, read_int, read_keyed, read_pids,
    read_text, remove_tree, resources_from, signal_all, drain_eventfd, system_cpu_usage, wait_for, write_text,
)
from runtime.cgroups.blkio import device_number, v1_throttle_lines
from runtime.cgroups.devices import DEFAULT_DEVICES, DeviceRule, v1_lines
from runtime.cgroups.convert import check_cpuset_available, effective_memory_swap, quota_period, throttles
from runtime.errors import InvalidState, NotFound, Unsupported

__all__ = ["V1Manager", "CONTROLLERS", "v1_mounts"]

# The hierarchies a container joins, in the order we write them.
CONTROLLERS = ("cpuset", "cpu", "cpuacct", "memory", "pids", "blkio", "freezer", "devices")


def v1_mounts(mountinfo: str = "/proc/self/mountinfo") -> dict[str, Path]:
    """Controller name -> mountpoint of its v1 hierarchy."""
    out: dict[str, Path] = {}
    with open(mountinfo, encoding="utf-8", errors="surrogateescape") as fh:
        for line in fh:
            pre, _, post = line.partition(" - ")
            post_fields = post.split()
            if len(post_fields) < 3 or post_fields[0] != "cgroup":
                continue
            mountpoint = Path(pre.split()[4].replace("\\040", " "))
            for opt in post_fields[2].split(","):
                if opt in CONTROLLERS and opt not in out:
                    out[opt] = mountpoint
    return out


@functools.lru_cache(maxsize=1)
def _host_mounts() -> dict[str, Path]:
    """This host's hierarchies, read once per process (the mount table can be long on a busy host)."""
    return v1_mounts()


class V1Manager(CgroupManager):
    version = 1

    def __init__(self, name: str, parent: str = "pycompose", mounts: dict[str, Path] | None = None) -> None:
        super().__init__(name, parent)
        self._mounts = _host_mounts() if mounts is None else mounts
        if not self._mounts:
            raise Unsupported("no cgroup v1 hierarchy is mounted")

    # -- layout ------------------------------------------------------------------------------------------------
    def paths(self) -> dict[str, Path]:
        return {ctrl: mnt / self.relpath for ctrl, mnt in self._mounts.items()}

    def _dirs(self) -> list[Path]:
        """The distinct directories (co-mounted controllers share one)."""
        seen: dict[Path, None] = {}
        for path in self.paths().values():
            seen.setdefault(path, None)
        return list(seen)

    def _path(self, ctrl: str) -> Path | None:
        mnt = self._mounts.get(ctrl)
        return None if mnt is None else mnt / self.relpath

    def _main_dir(self) -> Path:
        for ctrl in ("freezer", "pids", "memory", "cpu", "cpuset", "blkio", "cpuacct"):
            path = self._path(ctrl)
            if path is not None:
                return path
        raise Unsupported("no cgroup v1 hierarchy is mounted")

    def exists(self) -> bool:
        return self._main_dir().is_dir()

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def create(self, devices: Sequence[DeviceRule] | None = DEFAULT_DEVICES) -> None:
        dev = self._path("devices")
        fresh = dev is not None and not dev.exists()
        for path in self._dirs():
            path.mkdir(parents=True, exist_ok=True)
        cpuset = self._mounts.get("cpuset")
        if cpuset is not None:
            _fill_cpuset(cpuset, self.relpath)
        if fresh and devices is not None:
            self.set_devices(devices)

    def set_devices(self, devices: Sequence[DeviceRule]) -> None:
        dev = self._path("devices")
        if dev is None:
            raise Unsupported("the cgroup v1 devices controller is not mounted: cannot restrict device access")
        for fname, line in v1_lines(devices):
            write_text(dev / fname, line)

    def add(self, pid: int) -> None:
        for path in self._dirs():
            move_pid(path, pid)

    def pids(self) -> list[int]:
        return read_pids(self._main_dir())

    def destroy(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        wait_for(lambda: not self.pids(), timeout, f"cgroup {self.relpath} to empty")
        for path in self._dirs():
            remove_tree(path, max(0.1, deadline - time.monotonic()))

    def kill_all(self, sig: int = signal.SIGKILL) -> None:
        if sig == signal.SIGKILL and self._path("freezer") is not None and self.exists():
            self._signal_frozen(sig)
            return
        signal_all(self.pids(), sig)

    # -- freezer -----------------------------------------------------------------------------------------------
    def _freezer_state(self) -> Path:
        path = self._path("freezer")
        if path is None:
            raise Unsupported("the cgroup v1 freezer controller is not mounted: cannot pause")
        return path / "freezer.state"

    def frozen(self) -> bool:
        return read_text(self._freezer_state()).strip() == "FROZEN"

    def freeze(self, timeout: float = 5.0) -> None:
        state = self._freezer_state()

        def settled() -> bool:
            now = read_text(state).strip()
            if now != "FROZEN":
                write_text(state, "FROZEN")  # the kernel may stop at FREEZING; asking again resumes it
            return now == "FROZEN"
        write_text(state, "FROZEN")
        try:
            wait_for(settled, timeout, f"cgroup {self.relpath} to freeze")
        except InvalidState:
            write_text(state, "THAWED")  # never leave a half-frozen container behind
            raise

    def thaw(self, timeout: float = 5.0) -> None:
        state = self._freezer_state()
        write_text(state, "THAWED")
        wait_for(lambda: read_text(state).strip() == "THAWED", timeout, f"cgroup {self.relpath} to thaw")

    # -- limits ------------------------------------------------------------------------------------------------
    def apply(self, resources: Resources) -> list[str]:
        res = resources_from(resources)
        check_cpuset_available(res)
        warnings: list[str] = []
        self._apply_memory(res, warnings)
        self._apply_cpu(res, warnings)
        cpuset = self._path("cpuset")
        if res.cpuset_cpus or res.cpuset_mems:
            if cpuset is None:
                warnings.append("cpuset controller not mounted: cpuset_cpus/cpuset_mems discarded")
            else:
                if res.cpuset_cpus:
                    write_text(cpuset / "cpuset.cpus", res.cpuset_cpus)
                if res.cpuset_mems:
                    write_text(cpuset / "cpuset.mems", res.cpuset_mems)
        if res.pids_limit:
            pids = self._path("pids")
            if pids is None:
                warnings.append("pids controller not mounted: pids_limit discarded")
            else:
                write_text(pids / "pids.max", str(res.pids_limit) if res.pids_limit > 0 else "max")
        if res.blkio_weight:
            blkio = self._path("blkio")
            target = None
            for fname in ("blkio.weight", "blkio.bfq.weight"):
                if blkio is not None and (blkio / fname).exists():
                    target = blkio / fname
                    break
            if target is None:
                warnings.append("Your kernel does not support Block I/O weight: blkio_weight discarded")
            else:
                write_text(target, str(res.blkio_weight))
        self._apply_blkio_devices(res, warnings)
        return warnings

    def _apply_blkio_devices(self, res: Resources, warnings: list[str]) -> None:
        if not (res.blkio_weight_device or throttles(res)):
            return
        blkio = self._path("blkio")
        if blkio is None:
            warnings.append("blkio controller not mounted: per-device I/O limits discarded")
            return
        if res.blkio_weight_device:
            target = next((blkio / f for f in ("blkio.weight_device", "blkio.bfq.weight_device")
                           if (blkio / f).exists()), None)
            if target is None:
                warnings.append("Your kernel does not support Block I/O weight_device: discarded")
            else:
                for device, weight in res.blkio_weight_device:
                    write_text(target, f"{device_number(device)} {weight}")
        for fname, line in v1_throttle_lines(throttles(res)):
            if not (blkio / fname).exists():
                warnings.append(f"Your kernel does not support {fname}: discarded")
                continue
            write_text(blkio / fname, line)

    def _apply_memory(self, res: Resources, warnings: list[str]) -> None:
        wants = (res.memory or res.memory_reservation or res.memory_swap or res.memory_swappiness >= 0
                 or res.oom_kill_disable)
        if not wants:
            return
        mem = self._path("memory")
        if mem is None:
            warnings.append("memory controller not mounted: memory limits discarded")
            return
        swap = effective_memory_swap(res)
        memsw = mem / "memory.memsw.limit_in_bytes"
        if swap and not memsw.exists():
            if res.memory_swap:
                warnings.append("Your kernel does not support swap limit capabilities or the cgroup is not "
                                "mounted. Memory limited without swap.")
            swap = 0
        limit = res.memory if res.memory > 0 else (-1 if res.memory < 0 else 0)
        if limit and swap:
            # The kernel demands memory <= memsw at every moment: raise memsw first when growing past it.
            current_memsw = read_int(memsw, -1)
            if swap == -1 or (current_memsw != -1 and limit > current_memsw) or limit == -1:
                write_text(memsw, str(swap))
                write_text(mem / "memory.limit_in_bytes", str(limit))
            else:
                write_text(mem / "memory.limit_in_bytes", str(limit))
                write_text(memsw, str(swap))
        elif limit:
            write_text(mem / "memory.limit_in_bytes", str(limit))
        elif swap:
            write_text(memsw, str(swap))
        if res.memory_reservation:
            write_text(mem / "memory.soft_limit_in_bytes", str(res.memory_reservation))
        if res.memory_swappiness >= 0:
            write_text(mem / "memory.swappiness", str(res.memory_swappiness))
        if res.oom_kill_disable:
            write_text(mem / "memory.oom_control", "1")

    def _apply_cpu(self, res: Resources, warnings: list[str]) -> None:
        quota, period = quota_period(res)
        wants = res.cpu_shares or res.nano_cpus or res.cpu_quota or res.cpu_period
        if not wants:
            return
        cpu = self._path("cpu")
        if cpu is None:
            warnings.append("cpu controller not mounted: CPU limits discarded")
            return
        if res.cpu_shares:
            write_text(cpu / "cpu.shares", str(max(2, res.cpu_shares)))
        if res.nano_cpus or res.cpu_quota or res.cpu_period:
            if not (cpu / "cpu.cfs_quota_us").exists():
                warnings.append("Your kernel does not support CPU CFS scheduler: CPU quota discarded")
                return
            write_text(cpu / "cpu.cfs_period_us", str(period))
            write_text(cpu / "cpu.cfs_quota_us", str(quota))

    # -- observation -------------------------------------------------------------------------------------------
    def oom_kill_count(self) -> int:
        mem = self._path("memory")
        if mem is None:
            return 0
        return read_keyed(mem / "memory.oom_control").get("oom_kill", 0)

    def oom_watch(self) -> OomWatch:
        mem = self._path("memory")
        if mem is None:
            raise Unsupported("memory controller not mounted: cannot watch for OOM")
        efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            ocfd = os.open(mem / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError as err:
            os.close(efd)
            raise NotFound(f"cgroup {self.relpath} does not exist") from err
        try:
            write_text(mem / "cgroup.event_control", f"{efd} {ocfd}")
        except BaseException:
            os.close(efd)
            os.close(ocfd)
            raise
        return OomWatch(efd, drain_eventfd, (ocfd,))

    def stats(self) -> dict[str, Any]:
        return {
            "memory_stats": self._memory_stats(),
            "cpu_stats": self._cpu_stats(),
            "pids_stats": self._pids_stats(),
            "blkio_stats": self._blkio_stats(),
        }

    def _memory_stats(self) -> dict[str, Any]:
        mem = self._path("memory")
        if mem is None or not mem.is_dir():
            return {}
        limit = read_int(mem / "memory.limit_in_bytes", -1)
        host = host_memory()
        return {
            "usage": read_int(mem / "memory.usage_in_bytes"),
            "max_usage": read_int(mem / "memory.max_usage_in_bytes"),
            "limit": host if limit < 0 or limit > host else limit,
            "failcnt": read_int(mem / "memory.failcnt"),
            "stats": read_keyed(mem / "memory.stat"),
        }

    def _cpu_stats(self) -> dict[str, Any]:
        acct = self._path("cpuacct")
        cpu = self._path("cpu")
        usage: dict[str, Any] = {}
        if acct is not None and acct.is_dir():
            usage["total_usage"] = read_int(acct / "cpuacct.usage")
            try:
                usage["percpu_usage"] = [int(x) for x in read_text(acct / "cpuacct.usage_percpu").split()]
            except NotFound:
                pass
            if (acct / "cpuacct.usage_user").exists():
                usage["usage_in_usermode"] = read_int(acct / "cpuacct.usage_user")
                usage["usage_in_kernelmode"] = read_int(acct / "cpuacct.usage_sys")
            else:
                tick_ns = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
                ticks = read_keyed(acct / "cpuacct.stat")
                usage["usage_in_usermode"] = ticks.get("user", 0) * tick_ns
                usage["usage_in_kernelmode"] = ticks.get("system", 0) * tick_ns
        out: dict[str, Any] = {"cpu_usage": usage, "online_cpus": online_cpus(),
                               "system_cpu_usage": system_cpu_usage()}
        if cpu is not None and cpu.is_dir():
            st = read_keyed(cpu / "cpu.stat")
            out["throttling_data"] = {
                "periods": st.get("nr_periods", 0),
                "throttled_periods": st.get("nr_throttled", 0),
                "throttled_time": st.get("throttled_time", 0),
            }
        return out

    def _pids_stats(self) -> dict[str, Any]:
        pids = self._path("pids")
        if pids is None or not pids.is_dir():
            return {}
        out = {"current": read_int(pids / "pids.current")}
        limit = read_int(pids / "pids.max", -1)
        if limit > 0:
            out["limit"] = limit
        return out

    def _blkio_stats(self) -> dict[str, Any]:
        blkio = self._path("blkio")
        if blkio is None or not blkio.is_dir():
            return {}
        out: dict[str, Any] = {}
        for key, fname in (("io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive"),
                           ("io_serviced_recursive", "blkio.throttle.io_serviced_recursive")):
            entries = []
            try:
                text = read_text(blkio / fname)
            except NotFound:
                continue
            for line in text.splitlines():
                parts = line.split()
                if len(parts) == 3 and ":" in parts[0]:
                    major, minor = parts[0].split(":")
                    entries.append({"major": int(major), "minor": int(minor), "op": parts[1],
                                    "value": int(parts[2])})
            out[key] = entries
        return out


def _fill_cpuset(mountpoint: Path, relpath: str) -> None:
    """A new v1 cpuset cgroup starts with no cpus/mems (tasks could not join): copy them down from the parent."""
    current = mountpoint
    for part in relpath.split("/"):
        parent, current = current, current / part
        for fname in ("cpuset.cpus", "cpuset.mems"):
            if not read_text(current / fname).strip():
                write_text(current / fname, read_text(parent / fname).strip())
