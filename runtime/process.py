"""Parent side of a container's (or an exec's) first process, run inside its monitor.

``spawn`` forks the child (after ``unshare(CLONE_NEWPID)`` so it is PID 1 of a new pid namespace, or after
``setns`` into the container's pid namespace for an exec), hands it its config as JSON plus its stdio fds over a
SOCK_SEQPACKET socketpair, and waits: EOF means the child exec'd (the socket is close-on-exec); a message means it
failed (``error``, ``exit_code``) or sent the pty master of a tty container (``console``).

``before_move`` and ``before_join`` (a start's monitor) run after the config went out, while the child builds its
rootfs, before and after its move into the cgroup: the monitor waits there for the engine's word that the cgroup
exists, then that the network is connected; if one raises, the child is killed and its text is the error.
``before_move`` returning true means the engine moved the child already (it knew the spare's waiting child).
``after_config`` runs right after the config went out (the monitor makes its socket there, while the child works).
``on_exec`` runs (with the child's pid and start time) when a start's child says it passed its last checks and only
its ``execve`` is left (the monitor answers the engine there); an error may still follow, as the exec's own. The start
time is read from /proc while the child builds its rootfs: read during its execve, /proc/<pid>/stat waits until the
old address space is torn down (~1 ms for a forked Python process).
"""
from __future__ import annotations

import os
import signal
import socket
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

from runtime import init, linux, procs, trace
from runtime.errors import InvalidArgument

__all__ = ["Prefork", "Spawned", "prefork", "spawn", "StartFailed"]


class StartFailed(InvalidArgument):
    """The process could not be started; ``exit_code`` is 127 (not found) or 126 (not executable), like Docker."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Prefork:
    """A child forked ahead of need, PID 1 of a new pid namespace, waiting for its config on ``sock``."""
    pid: int
    sock: socket.socket
    words: socket.socket | None = None  # the other end of its channel for the engine's words (see init)
    start: int = -1  # its start time, once read (a spare reads it while it waits, not on the start's path)

    def discard(self) -> None:
        """Not needed after all: kill it and reap it (its pid namespace goes with it)."""
        self.sock.close()
        if self.words is not None:
            self.words.close()
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def prefork(close: tuple[int, ...] = ()) -> Prefork:
    """For a spare monitor: ``unshare(CLONE_NEWPID)`` and fork the container's first process now, so that a start
    finds it waiting (the fork and its copy-on-write faults are off the start's path). Undo with ``discard`` and
    ``leave_new_pidns``. ``close``: fds of the caller the child must not hold (so their peers see the caller's
    exit at once)."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    words, child_words = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    linux.unshare(linux.CLONE_NEWPID)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        parent.close()
        words.close()
        for fd in close:
            os.close(fd)
        linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)  # a spare that goes away takes it along
        init.child_main(child, child_words)
        os._exit(1)
    child.close()
    child_words.close()
    return Prefork(pid, parent, words)


def leave_new_pidns() -> None:
    """After ``prefork`` when the process is not wanted after all: later children are born in our own pid ns."""
    fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    try:
        linux.setns(fd, linux.CLONE_NEWPID)
    finally:
        os.close(fd)


@dataclass
class Spawned:
    pid: int
    console: int | None = None  # pty master fd for tty processes
    error: str = ""
    exit_code: int = 0
    aborted: bool = False  # the engine called it off (told the child directly)


def spawn(cfg: dict[str, Any], fds: list[int], *, new_pidns: bool = False, join_pidns: int | str | None = None,
          cgroup_procs: list[str] | None = None, before_move: Callable[[], bool | None] | None = None,
          before_join: Callable[[], None] | None = None, ready: Prefork | None = None,
          after_config: Callable[[], None] | None = None, on_exec: Callable[[int, int], None] | None = None) -> Spawned:
    """Fork the child described by ``cfg`` with stdio ``fds``; return once it exec'd or failed.

    ``join_pidns``: pid of a process (or a pid ns file) whose pid namespace the child is born into. Call this
    only in a process made for it (the monitor): it changes the pid namespace of every later child of the caller.
    ``cgroup_procs``: the container's ``cgroup.procs`` files; the child is moved there while it builds its rootfs
    (it waits for the ``joined`` message before its cgroup namespace and anything of the user's).
    """
    if ready is not None:
        if new_pidns and join_pidns is None:
            return _spawned(ready.pid, ready.sock, cfg, fds, cgroup_procs,
                            _Hooks(before_move, before_join, after_config, on_exec), ready.start)
        ready.discard()
        leave_new_pidns()
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    if new_pidns:
        linux.unshare(linux.CLONE_NEWPID)
    elif join_pidns is not None:
        path = join_pidns if isinstance(join_pidns, str) else f"/proc/{join_pidns}/ns/pid"
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            linux.setns(fd, linux.CLONE_NEWPID)
        finally:
            os.close(fd)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        parent.close()
        init.child_main(child)
        os._exit(1)
    child.close()
    return _spawned(pid, parent, cfg, fds, cgroup_procs, _Hooks(before_move, before_join, after_config, on_exec))


@dataclass
class _Hooks:
    before_move: Callable[[], bool | None] | None = None
    before_join: Callable[[], None] | None = None
    after_config: Callable[[], None] | None = None
    on_exec: Callable[[int, int], None] | None = None


def _tell(parent: socket.socket, msg: dict[str, Any]) -> None:
    try:
        init.send_msg(parent, msg)
    except OSError:
        pass  # it failed already; its message waits for us


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _run_hook(hook: Callable[[], bool | None] | None, pid: int) -> tuple[str, bool]:
    """Run ``hook``: ("", what it returned), or if it raises, kill the child and return (the text, False)."""
    if hook is None:
        return "", False
    try:
        return "", bool(hook())
    except Exception as err:  # noqa: BLE001 - any refusal stops the child; its text is the error
        _kill(pid)
        return str(err) or type(err).__name__, False


def _spawned(pid: int, parent: socket.socket, cfg: dict[str, Any], fds: list[int], cgroup_procs: list[str] | None,
             hooks: _Hooks, start: int = -1) -> Spawned:
    trace.mark("monitor.forked_init", str(cfg.get("id", "")))
    result = Spawned(pid)
    try:
        _converse(parent, pid, cfg, fds, cgroup_procs, result, hooks, start)
    finally:
        parent.close()
    if result.error:
        os.waitpid(pid, 0)
        if result.console is not None:
            os.close(result.console)
            result.console = None
    return result


def _converse(parent: socket.socket, pid: int, cfg: dict[str, Any], fds: list[int],
              cgroup_procs: list[str] | None, result: Spawned, hooks: _Hooks, start: int = -1) -> None:
    """Config out; cgroup move, ``joined``, then ``go`` out; console, error or EOF (= exec'd) back. A child that failed
    early has its error message queued for us even when our sends fail: always read before concluding."""
    try:
        init.send_msg(parent, cfg, fds)
    except OSError as err:  # the child died before reading its config
        result.error, result.exit_code = f"container init failed: {err}", 1
        return
    if start < 0 and hooks.on_exec is not None:
        start = procs.start_time(pid)  # before its execve: see the module doc
    setup_error = _run_hook(hooks.after_config, pid)[0]
    join_error, moved = (setup_error, False) if setup_error else _run_hook(hooks.before_move, pid)
    if cgroup_procs is not None and not join_error and not moved:
        try:
            for path in cgroup_procs:
                with open(path, "w") as fh:
                    fh.write(str(pid))
        except OSError as err:
            join_error = f"cannot move the container into its cgroup: {err}"
            _kill(pid)
        else:
            trace.mark("monitor.cgroup_moved", str(cfg.get("id", "")))
    if cgroup_procs is not None and not join_error:
        _tell(parent, {"joined": True})  # it goes on up to its pivot_root and hostname meanwhile
    join_error = join_error or _run_hook(hooks.before_join, pid)[0]
    if cgroup_procs is not None and not join_error:
        _tell(parent, {"go": True})  # the network is there: sysctls, confinement, exec
    while True:
        try:
            msg, got = init.recv_msg(parent)
        except OSError as err:
            if not result.error:
                result.error, result.exit_code = join_error or f"container init failed: {err}", 1
            return
        if msg is None:
            break
        if msg.get("console") and got:
            result.console = got[0]
            for extra in got[1:]:
                os.close(extra)
        elif msg.get("exec"):
            if hooks.on_exec is not None:
                hooks.on_exec(pid, start)
        elif "error" in msg:
            result.error, result.exit_code = str(msg["error"]), int(msg.get("exit_code", 1))
            result.aborted = bool(msg.get("aborted"))
    if join_error and not result.error:
        result.error, result.exit_code = join_error, 1
