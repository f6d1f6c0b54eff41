"""The engine's side of a start's launch conversation with the container's monitor (the protocol is in
``runtime/monitor.py``'s doc): the cgroup word, the child's ``joined`` and ``go`` (on the spare child's own channel
when there is one, else through the monitor), the launch reply, or the start called off."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime import trace
from runtime.errors import InvalidState
from runtime.monitor_client import read_reply

__all__ = ["LAUNCH_TIMEOUT", "converse", "before_exec"]

LAUNCH_TIMEOUT = 60.0
_RUNTIME_EXE = os.path.realpath(sys.executable)  # what a container's init runs until its execve


def converse(conn: socket.socket, words: socket.socket | None, *, cid: str, make_cgroup: Callable[[], list[str]],
             procs_files: list[str], before_run: Callable[[], None] | None, monitors_log: Path) -> dict[str, Any]:
    """Once the monitor has the launch request: ``make_cgroup`` (returns the OOM files to watch), the cgroup word,
    ``joined``, ``before_run``, ``go``; returns the launch reply (``{"error": ...}`` when the process could not
    start). If one of them raises, the start is called off (the monitor and the child are gone when this returns)
    and that error raised. ``InvalidState`` when the monitor went without a word (``monitors_log`` may say why)."""
    conn.settimeout(LAUNCH_TIMEOUT)
    trace.mark("svc.launched", cid)
    try:
        oom = make_cgroup()
        trace.mark("svc.cgroup_ready", cid)
        # a spare's child moves itself when told (no hop, no global lock); else the monitor moves it
        _tell(conn, {"cgroup": True, "oom_files": oom})
        if words is not None:
            _say(words, {"joined": True, "move": _self_move_files(procs_files)})
        if before_run is not None:
            before_run()
            trace.mark("svc.before_run", cid)
    except BaseException as err:
        _call_off(conn, str(err) or type(err).__name__, words)
        raise
    if words is not None:
        _say(words, {"go": True})
    else:
        _tell(conn, {"go": True})
    try:
        line = read_reply(conn)
    except (EOFError, OSError) as err:
        raise InvalidState(f"container monitor failed to start: {err}{_monitors_said(monitors_log)}") from err
    trace.mark("svc.reply", cid)
    reply: dict[str, Any] = json.loads(line)
    return reply


def before_exec(pid: int) -> bool:
    """Might ``pid`` still be the runtime's init, its execve not done? Its executable is still ours, or its
    command line is empty (the new executable is in place some time before its arguments are). A yes that is
    not (a program that is this very interpreter, a zombie) only costs the caller a wait on the monitor."""
    try:
        if os.readlink(f"/proc/{pid}/exe") == _RUNTIME_EXE:
            return True
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return not fh.read(1)
    except OSError:
        return False  # gone


def _tell(conn: socket.socket, msg: dict[str, Any]) -> None:
    """One line to a launched monitor; a monitor that failed already has its error queued for us to read."""
    with contextlib.suppress(OSError):
        conn.sendall(json.dumps(msg).encode() + b"\n")


def _say(words: socket.socket, msg: dict[str, Any]) -> None:
    """One message to a spare's child on its own channel (``runtime.init`` reads it); a child that failed already
    has told its monitor, whose reply we read."""
    with contextlib.suppress(OSError):
        words.send(json.dumps(msg).encode())


def _self_move_files(procs_files: list[str]) -> list[str]:
    """Where a single-threaded process writes "0" to join the cgroup: v1's ``tasks``, else ``cgroup.procs``."""
    out = []
    for path in procs_files:
        tasks = os.path.join(os.path.dirname(path), "tasks")
        out.append(tasks if os.path.exists(tasks) else path)
    return out


def _call_off(conn: socket.socket, why: str, words: socket.socket | None = None) -> None:
    """Tell a launched monitor (and the child, when we talk to it directly) not to run the process and wait
    until they are gone."""
    if words is not None:
        _say(words, {"abort": why})
    with contextlib.suppress(OSError, EOFError, ValueError):
        if words is None:
            conn.sendall(json.dumps({"abort": why}).encode() + b"\n")
        read_reply(conn)


def _monitors_said(log: Path) -> str:
    """The last line of the monitors' own log (where a monitor that went without a word may have said why)."""
    try:
        with open(log, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 4096))
            lines = fh.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f" (last line of {log}: {lines[-1]})" if lines else ""
