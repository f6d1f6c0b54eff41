"""Process identity and listing from /proc: a pid plus its start time names one process for good (pids are
reused; start times are not), and the processes of a pid namespace."""
from __future__ import annotations

import os
from typing import Any

__all__ = ["stat_fields", "start_time", "alive", "pidns_processes"]


def stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat after the command name (``[0]`` is field 3, the state; ``[n - 3]`` is field
    ``n``); ``None`` if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2:].split()


def start_time(pid: int) -> int:
    """The process's start time in clock ticks (field 22 of /proc/pid/stat); -1 if there is no such process."""
    fields = stat_fields(pid)
    return -1 if fields is None else int(fields[19])


def alive(pid: int, start: int) -> bool:
    """Is the process that had ``start`` as start time still there?"""
    return pid > 0 and start_time(pid) == start


def pidns_processes(pid: int) -> list[dict[str, Any]]:
    """Every process in the pid namespace of ``pid``: host pid, ppid, uid, cmd; sorted by pid."""
    try:
        ns = os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return []
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry.name}/ns/pid").st_ino != ns:
                continue
            with open(f"/proc/{entry.name}/status") as fh:
                fields = dict(line.split(":\t", 1) for line in fh.read().splitlines() if ":\t" in line)
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                cmd = fh.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out.append({"pid": int(entry.name), "ppid": int(fields.get("PPid", "0")),
                    "uid": int(fields.get("Uid", "0").split()[0]), "cmd": cmd or f"[{fields.get('Name', '')}]"})
    return sorted(out, key=lambda p: p["pid"])
