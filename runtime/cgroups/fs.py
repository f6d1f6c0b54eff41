"""Reading and writing cgroup files, waiting on conditions, and host figures the stats need - shared by v1 and v2.
A kernel refusal becomes a typed error naming the file and the value."""
from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from runtime.errors import InvalidArgument, InvalidState, NotFound

__all__ = ["wait_for", "read_text", "read_int", "read_keyed", "write_text", "iter_pid_files", "system_cpu_usage",
           "online_cpus", "host_memory", "signal_all", "drain_eventfd", "remove_tree", "move_pid", "read_pids"]


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


def move_pid(directory: Path, pid: int) -> None:
    """Move process ``pid`` into the cgroup at ``directory`` (``NotFound`` when there is no such process)."""
    try:
        write_text(directory / "cgroup.procs", str(pid))
    except OSError as err:
        if err.errno == errno.ESRCH:
            raise NotFound(f"no process {pid}") from err
        raise


def read_pids(top: Path) -> list[int]:
    """Every process in the cgroup at ``top`` and below it, sorted; ``[]`` when it does not exist."""
    if not top.is_dir():
        return []
    out: set[int] = set()
    for procs in iter_pid_files(top):
        try:
            out.update(int(x) for x in read_text(procs).split())
        except NotFound:  # a child cgroup went away meanwhile
            continue
    return sorted(out)


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
            raise InvalidState(f"cannot remove cgroup {path}: still busy ({_occupants(path)})") from err


def _occupants(path: Path) -> str:
    """Who keeps a cgroup busy, for the error: its processes (pid, name, state) or its child cgroups."""
    who = []
    for pid in read_pids(path)[:8]:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
            who.append(f"{pid} {stat[stat.index('(') : stat.rindex(')') + 1]} {stat[stat.rindex(')') + 2]}")
        except (OSError, ValueError, IndexError):
            who.append(str(pid))
    if who:
        return "processes: " + ", ".join(who)
    children = [d for d in os.listdir(path) if (path / d).is_dir()] if path.is_dir() else []
    return f"child cgroups: {', '.join(children[:8])}" if children else "no process or child cgroup left in it"
