"""Exec and attach over the Engine API's hijacked connection: stdin pumped in, stdout/stderr out (demultiplexed
unless a TTY), the local terminal in raw mode while a TTY session runs."""
from __future__ import annotations

import os
import select
import socket
import sys
from typing import TYPE_CHECKING, Any

from compose.engine.errors import translated
from compose.engine.terminal import raw_mode, write_output

if TYPE_CHECKING:
    import docker

__all__ = ["exec_command", "attach", "pump"]


def _raw_socket(sock: Any) -> socket.socket:
    raw = getattr(sock, "_sock", sock)
    return raw  # type: ignore[no-any-return]


def pump(sock: Any, *, tty: bool, stdin: bool) -> None:
    """Copy our stdin to the connection (if ``stdin``) and the connection's output to stdout/stderr until the
    remote side closes; a TTY session puts the local terminal in raw mode for its duration."""
    raw = _raw_socket(sock)
    in_fd = sys.stdin.fileno() if stdin else None
    restore = raw_mode(in_fd) if tty and in_fd is not None and os.isatty(in_fd) else None
    buf = b""
    try:
        watching = [raw] + ([in_fd] if in_fd is not None else [])
        while True:
            ready, _, _ = select.select(watching, [], [])
            if in_fd is not None and in_fd in ready:
                data = os.read(in_fd, 65536)
                if data:
                    raw.sendall(data)
                else:
                    watching.remove(in_fd)
                    try:
                        raw.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
            if raw in ready:
                data = raw.recv(65536)
                if not data:
                    break
                buf = write_output(data, buf, tty=tty)
    finally:
        if restore is not None:
            restore()
        try:
            raw.close()
        except OSError:
            pass


def exec_command(client: "docker.APIClient", container: str, cmd: list[str], *, tty: bool, stdin: bool,
                 user: str | None = None, workdir: str | None = None, env: dict[str, str] | None = None,
                 privileged: bool = False, detach: bool = False) -> int:
    """Run ``cmd`` in ``container``; return its exit code (0 when detached)."""
    with translated(f"exec in {container}"):
        exec_id = client.exec_create(container, cmd, stdout=not detach, stderr=not detach, stdin=stdin and not detach,
                                     tty=tty, privileged=privileged, user=user or "", environment=env,
                                     workdir=workdir)["Id"]
        if detach:
            client.exec_start(exec_id, detach=True)
            return 0
        sock = client.exec_start(exec_id, tty=tty, socket=True)
    pump(sock, tty=tty, stdin=stdin)
    with translated(f"exec in {container}"):
        code = client.exec_inspect(exec_id).get("ExitCode")
    return int(code or 0)


def attach(client: "docker.APIClient", container: str, *, stdin: bool) -> Any:
    """A hijacked attach connection (open it before start to see all output)."""
    params = {"stdin": 1 if stdin else 0, "stdout": 1, "stderr": 1, "stream": 1}
    with translated(f"attach to {container}"):
        return client.attach_socket(container, params=params)
