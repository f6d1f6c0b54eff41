"""Processes started inside a running container (``docker exec``), each with its own monitor.

The monitor joins the container's pid namespace before it forks, so the process is born inside it; the child
joins the cgroup and the other namespaces itself (``init._exec_in``), then takes the container's env (plus the
exec's), user, working dir, capabilities and seccomp profile. The launch connection carries the output (Docker's
multiplexed frames, raw for a tty) and takes stdin. The exit record lands in ``<state_dir>/execs/<id>.json``.

A container whose init has just exited (or is on its way out) takes no exec: the check before the launch and the
diagnosis after a failed one both answer ``Conflict("container <id> is not running")``, as Docker does, and a launch
that failed leaves no exit record or socket behind.
"""
from __future__ import annotations

import json
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from runtime.errors import Conflict, InvalidState, NotFound
from runtime.forkserver import ForkServer
from runtime import monitor_client, procs
from runtime.monitor_client import read_reply
from runtime.process import StartFailed
from runtime.spec import ContainerSpec, ExecSpec, exec_to_dict, spec_to_dict
from runtime.state import read_record
from runtime.stream import STDERR, Demuxer

__all__ = ["ExecProcess", "launch", "read_exec", "demux", "init_running", "not_running"]

_PF_EXITING = 0x4  # include/linux/sched.h: set by do_exit() before anything is torn down


def not_running(container_id: str) -> Conflict:
    """Docker's error for an exec into a container that does not run (at exec create and at exec start)."""
    return Conflict(f"container {container_id} is not running")


def _init_alive(pid: int, start: int | None) -> bool:
    """Is the process ``pid`` (with start time ``start``) there and not exiting? A killed init is dying for a while
    before its exit shows (its pid namespace is torn down first); the kernel flags it ``PF_EXITING`` at once."""
    fields = procs.stat_fields(pid)
    if fields is None or fields[0] in (b"Z", b"X", b"x") or int(fields[6]) & _PF_EXITING:
        return False
    return start is None or int(fields[19]) == int(start)


def init_running(state_dir: str) -> bool:
    """Does the container whose state lives in ``state_dir`` have a live init? (Its monitor records the exit a
    moment after the init ends; this looks at the process itself.)"""
    st = read_record(Path(state_dir) / "state.json")
    if not st or not st.get("pid") or st.get("status", "running") != "running":
        return False
    return _init_alive(int(st["pid"]), st.get("pid_start"))


def _discard(*paths: Path) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def demux(data: bytes) -> tuple[bytes, bytes]:
    """Split Docker's multiplexed stream into (stdout, stderr); a torn last frame is dropped."""
    out, err = bytearray(), bytearray()
    for stream, payload in Demuxer().feed(data):
        (err if stream == STDERR else out).extend(payload)
    return bytes(out), bytes(err)


class ExecProcess:
    """A started exec. ``conn`` is the attached stream (``None`` when detached). ``pid_start`` and
    ``monitor_start`` are the start times (/proc/<pid>/stat field 22) of the process and its monitor, as the
    monitor read them where it made them (``procs.alive`` tells a reused pid apart with them); without
    ``monitor_start`` it is read from /proc here."""

    def __init__(self, exec_id: str, pid: int, conn: socket.socket | None, exit_path: Path, socket_path: Path,
                 tty: bool, early: bytes = b"", monitor_pid: int = 0, *, pid_start: int | None = None,
                 monitor_start: int | None = None) -> None:
        self.id, self.pid, self.conn, self.tty = exec_id, pid, conn, tty
        self.exit_path, self.socket_path = exit_path, socket_path
        self._early = early
        self.pid_start = pid_start
        self.monitor_pid = monitor_pid
        self.monitor_start = procs.start_time(monitor_pid) if monitor_start is None else int(monitor_start)

    def read_all(self) -> bytes:
        """Everything the process writes until it ends (attached execs)."""
        if self.conn is None:
            return b""
        chunks = [self._early]
        while True:
            data = self.conn.recv(65536)
            if not data:
                break
            chunks.append(data)
        self.conn.close()
        self.conn = None
        return b"".join(chunks)

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (128+n after signal n)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        if self.conn is not None:
            self.conn.settimeout(timeout)
            self.read_all()
        while True:
            rec = read_record(self.exit_path)
            if rec is not None:
                return int(rec["exit_code"])
            if not monitor_client.answers(self.socket_path):
                # the socket goes first, the record right after; only a crashed monitor never writes it
                if not procs.alive(self.monitor_pid, self.monitor_start):
                    rec = read_record(self.exit_path)
                    return int(rec["exit_code"]) if rec is not None else 255
                time.sleep(0.002)
                continue
            if deadline is not None and time.monotonic() > deadline:
                raise InvalidState(f"timed out waiting for exec {self.id[:12]}")
            try:
                monitor_client.wait_exit(self.socket_path, timeout)
            except TimeoutError as err:
                raise InvalidState(f"timed out waiting for exec {self.id[:12]}") from err

    def communicate(self, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
        """Send ``stdin`` (then close it), collect the output; (exit code, stdout, stderr)."""
        if self.conn is not None and stdin:
            self.conn.sendall(stdin)
        if self.conn is not None:
            self.conn.shutdown(socket.SHUT_WR)
        raw = self.read_all()
        code = self.wait()
        if self.tty:
            return code, raw, b""
        out, err = demux(raw)
        return code, out, err

    def resize(self, height: int, width: int) -> None:
        monitor_client.resize(self.socket_path, height, width)


def launch(forkserver: ForkServer, *, container_id: str, state_dir: str, container_spec: ContainerSpec, pid: int,
           cgroup_procs: list[str], spec: ExecSpec, security: dict[str, Any], helper: str | None = None,
           attach: bool = True,
           console_size: tuple[int, int] | None = None) -> ExecProcess:
    """Start ``spec`` in the container whose init is host ``pid``."""
    exec_id = secrets.token_hex(32)
    execs = Path(state_dir) / "execs"
    execs.mkdir(exist_ok=True, mode=0o700)
    exit_path, socket_path = execs / f"{exec_id}.json", execs / f"{exec_id}.sock"
    request: dict[str, Any] = {
        "mode": "exec", "id": container_id, "pid": pid, "spec": spec_to_dict(container_spec),
        "exec": exec_to_dict(spec), "security": security, "cgroup_procs": cgroup_procs, "exit_path": str(exit_path),
        "socket": str(socket_path), "console_size": console_size, "helper": helper,
        "attach": {"stdin": spec.open_stdin, "stdout": True, "stderr": True} if attach else None}
    start = (read_record(Path(state_dir) / "state.json") or {}).get("pid_start")
    if not _init_alive(pid, start):
        raise not_running(container_id)
    try:
        conn = forkserver.launch(request)
        conn.settimeout(60)
        try:
            line, early = read_reply(conn), b""
        except (EOFError, OSError) as err:
            conn.close()
            raise InvalidState(f"exec monitor failed to start: {err}") from err
        reply = json.loads(line)
        if "error" in reply:
            conn.close()
            raise StartFailed(reply["error"], int(reply.get("exit_code", 126)))
    except Exception as err:
        _discard(exit_path, socket_path)  # the monitor gave up: its exit record and socket mean nothing
        if not _init_alive(pid, start):  # the init died under us: setns, fork or the child failed for that
            raise not_running(container_id) from err
        raise
    conn.settimeout(None)
    if not attach:
        conn.close()
    # start times from the monitor's reply (as a container start takes them): reading the monitor's /proc/<pid>/stat
    # here would wait while it execs the helper, and race its exit
    return ExecProcess(exec_id, int(reply["pid"]), conn if attach else None, exit_path, socket_path, spec.tty, early,
                       int(reply["monitor_pid"]), pid_start=reply.get("pid_start"),
                       monitor_start=reply.get("monitor_start"))


def read_exec(state_dir: str, exec_id: str) -> dict[str, Any]:
    """The exit record of a finished exec; ``NotFound`` if there is none (yet)."""
    rec = read_record(Path(state_dir) / "execs" / f"{exec_id}.json")
    if rec is None:
        raise NotFound(f"No such exec instance: {exec_id}")
    return rec
