"""Parent side of a container's (or an exec's) first process, run inside its monitor.

``spawn`` forks the child (after ``unshare(CLONE_NEWPID)`` so it is PID 1 of a new pid namespace, or after
``setns`` into the container's pid namespace for an exec), hands it its config as JSON plus its stdio fds over a
SOCK_SEQPACKET socketpair, and waits: EOF means the child exec'd (the socket is close-on-exec); a message means it
failed (``error``, ``exit_code``) or sent the pty master of a tty container (``console``).

``before_join`` (a start's monitor) runs after the config went out, while the child builds its rootfs: the
monitor waits there for the engine's go (cgroup made, network connected); if it raises, the child is killed and
its message is the error.
"""
from __future__ import annotations

import os
import signal
import socket
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

from runtime import init, linux, trace
from runtime.errors import InvalidArgument

__all__ = ["Spawned", "spawn", "StartFailed"]


class StartFailed(InvalidArgument):
    """The process could not be started; ``exit_code`` is 127 (not found) or 126 (not executable), like Docker."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Spawned:
    pid: int
    console: int | None = None  # pty master fd for tty processes
    error: str = ""
    exit_code: int = 0


def spawn(cfg: dict[str, Any], fds: list[int], *, new_pidns: bool = False, join_pidns: int | str | None = None,
          cgroup_procs: list[str] | None = None, before_join: Callable[[], None] | None = None) -> Spawned:
    """Fork the child described by ``cfg`` with stdio ``fds``; return once it exec'd or failed.

    ``join_pidns``: pid of a process (or a pid ns file) whose pid namespace the child is born into. Call this
    only in a process made for it (the monitor): it changes the pid namespace of every later child of the caller.
    ``cgroup_procs``: the container's ``cgroup.procs`` files; the child is moved there while it builds its rootfs
    (it waits for the ``joined`` message before its cgroup namespace and anything of the user's).
    """
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
    trace.mark("monitor.forked_init", str(cfg.get("id", "")))
    result = Spawned(pid)
    try:
        _converse(parent, pid, cfg, fds, cgroup_procs, result, before_join)
    finally:
        parent.close()
    if result.error:
        os.waitpid(pid, 0)
        if result.console is not None:
            os.close(result.console)
            result.console = None
    return result


def _converse(parent: socket.socket, pid: int, cfg: dict[str, Any], fds: list[int],
              cgroup_procs: list[str] | None, result: Spawned, before_join: Callable[[], None] | None) -> None:
    """Config out; cgroup move and ``joined`` out; console, error or EOF (= exec'd) back. A child that failed
    early has its error message queued for us even when our sends fail: always read before concluding."""
    try:
        init.send_msg(parent, cfg, fds)
    except OSError as err:  # the child died before reading its config
        result.error, result.exit_code = f"container init failed: {err}", 1
        return
    join_error = ""
    if before_join is not None:
        try:
            before_join()
        except Exception as err:  # noqa: BLE001 - any refusal stops the child; its text is the error
            join_error = str(err) or type(err).__name__
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if cgroup_procs is not None and not join_error:
        try:
            for path in cgroup_procs:
                with open(path, "w") as fh:
                    fh.write(str(pid))
        except OSError as err:
            join_error = f"cannot move the container into its cgroup: {err}"
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            trace.mark("monitor.cgroup_moved", str(cfg.get("id", "")))
            try:
                init.send_msg(parent, {"joined": True})
            except OSError:
                pass  # it failed already; its message waits below
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
        elif "error" in msg:
            result.error, result.exit_code = str(msg["error"]), int(msg.get("exit_code", 1))
    if join_error and not result.error:
        result.error, result.exit_code = join_error, 1
