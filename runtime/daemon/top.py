"""``GET /containers/{id}/top``, as Docker's: the host's ``ps`` run with the client's arguments (``-ef`` when none),
split on whitespace, and its rows kept for the container's processes, found by the PID column (a thread row, whose
PID is ``-``, follows the process row before it, as ``docker top CONTAINER -eLf`` shows). The last title takes the
rest of each line (a command with spaces). Where the host has no ``ps``, the columns of ``ps -ef`` are made from
/proc.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from typing import Any

from runtime import procs as procfs
from runtime.errors import EngineError

__all__ = ["top_table", "parse_ps"]

_TITLES = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]


def top_table(processes: list[dict[str, Any]], ps_args: str) -> dict[str, Any]:
    """``processes``: the container's (``runtime.procs.pidns_processes``); the answer's Titles and Processes."""
    ps = shutil.which("ps")
    if ps is None:
        boot, now = _boot_time(), time.time()
        return {"Titles": list(_TITLES), "Processes": [_row(p, boot, now) for p in processes]}
    try:
        out = subprocess.run([ps, *ps_args.split()], capture_output=True, timeout=60,
                             env={**os.environ, "LC_ALL": "C", "COLUMNS": "4096"})
    except (OSError, subprocess.SubprocessError) as err:
        raise EngineError(f"Error running ps: {err}") from err
    if out.returncode != 0:
        raise EngineError(f"ps: {(out.stderr or out.stdout).decode(errors='replace').strip()}")
    return parse_ps(out.stdout.decode(errors="replace"), {p["pid"] for p in processes})


def parse_ps(output: str, pids: set[int]) -> dict[str, Any]:
    lines = output.split("\n")
    titles = lines[0].split()
    if "PID" not in titles:
        raise EngineError("Couldn't find PID field in ps output")
    at = titles.index("PID")
    rows: list[list[str]] = []
    keep_threads = False
    for line in lines[1:]:
        fields = line.split()
        if len(fields) <= at:
            continue
        if fields[at] == "-":  # a thread of the process row above
            if keep_threads:
                rows.append(_fit(fields, len(titles)))
            continue
        try:
            pid = int(fields[at])
        except ValueError:
            raise EngineError(f"Unexpected pid '{fields[at]}'") from None
        keep_threads = pid in pids
        if keep_threads:
            rows.append(_fit(fields, len(titles)))
    return {"Titles": titles, "Processes": rows}


def _fit(fields: list[str], width: int) -> list[str]:
    return fields[:width - 1] + [" ".join(fields[width - 1:])]


def _row(proc: dict[str, Any], boot: float, now: float) -> list[str]:
    """A ``ps -ef`` row from /proc: user name, pid, ppid, CPU %, start, tty, CPU time, command (``boot``: the
    boot time, ``now``: the time of the listing, both in seconds since the epoch)."""
    try:
        user = pwd.getpwuid(proc["uid"]).pw_name
    except KeyError:
        user = str(proc["uid"])
    fields = procfs.stat_fields(proc["pid"]) or []
    hz = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / hz if len(fields) > 19 else 0.0
    started = boot + int(fields[19]) / hz if len(fields) > 19 else now
    elapsed = max(now - started, 1e-3)
    spent = int(cpu)
    clock = f"{spent // 3600:02d}:{spent % 3600 // 60:02d}:{spent % 60:02d}"
    if spent >= 86400:
        clock = f"{spent // 86400}-{spent % 86400 // 3600:02d}:{spent % 3600 // 60:02d}:{spent % 60:02d}"
    when = time.localtime(started)
    stime = time.strftime("%H:%M" if elapsed < 86400 else "%b%d", when)
    return [user, str(proc["pid"]), str(proc["ppid"]), str(int(cpu * 100 / elapsed)), stime, "?", clock,
            proc["cmd"]]


def _boot_time() -> float:
    with open("/proc/stat") as fh:
        for line in fh:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0
