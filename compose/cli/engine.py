"""``pycompose engine``: run the engine in the foreground, or ``engine stop`` / ``engine status`` the running one.

The compose side never imports the engine: ``engine`` execs ``python -m runtime.daemon`` in place of this process
(so systemd or a debugger sees the engine itself), and ``stop`` finds the engine's PID from its socket
(``SO_PEERCRED``), sends SIGTERM and waits on a pidfd until it has exited. Containers outlive the engine; on
the way out the engine removes its default bridge and that bridge's firewall rules when no container is
attached (docs/architecture.md, "Bridges and firewall rules left on the host").
"""
from __future__ import annotations

import os
import select
import signal
import socket
import struct
import sys
from typing import Annotated, Optional

import typer

from compose.errors import UserError

__all__ = ["register", "engine_pid"]

_STOP_TIMEOUT = 30.0

engine_app = typer.Typer(help="Run or control the pycompose engine (the container daemon).",
                         invoke_without_command=True, no_args_is_help=False)


def _socket_path(host: str | None) -> str:
    from compose.engine.client import resolve_host

    resolved = resolve_host(host)
    if not resolved.startswith("unix://"):
        raise UserError.single(f"the engine host {resolved!r} is not a unix socket of this machine")
    return resolved[len("unix://"):]


def engine_pid(path: str) -> int | None:
    """The PID of the process listening on the unix socket ``path``, or None when nothing listens there."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except (FileNotFoundError, ConnectionRefusedError):
        return None
    except OSError as err:
        raise UserError.single(f"cannot reach the engine socket {path}: {err.strerror}") from err
    pid, _uid, _gid = struct.unpack("3i", raw)
    return pid or None


@engine_app.callback()
def engine_cmd(
    ctx: typer.Context,
    config: Annotated[Optional[str], typer.Option("--config", help="Engine configuration file.")] = None,
    host: Annotated[Optional[str], typer.Option("--host", "-H", help="Socket to listen on (unix://PATH).")] = None,
    data_root: Annotated[Optional[str], typer.Option("--data-root", help="Where the engine keeps its state.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Log every request.")] = False,
) -> None:
    """Run the engine in the foreground (for systemd and debugging)."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"host": host, "parent": ctx.obj}
        return
    argv = [sys.executable, "-m", "runtime.daemon"]
    if config:
        argv += ["--config", config]
    if host or os.environ.get("PYCOMPOSE_HOST"):
        argv += ["--host", host or os.environ["PYCOMPOSE_HOST"]]
    if data_root:
        argv += ["--data-root", data_root]
    if debug:
        argv.append("--debug")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


@engine_app.command("stop")
def stop_cmd(ctx: typer.Context) -> int:
    """Stop the running engine (its containers keep running; the default bridge goes if none is attached)."""
    path = _socket_path((ctx.obj or {}).get("host"))
    pid = engine_pid(path)
    if pid is None:
        print(f"no engine is listening on {path}")
        return 0
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return 0
    try:
        signal.pidfd_send_signal(fd, signal.SIGTERM)
        ready, _, _ = select.select([fd], [], [], _STOP_TIMEOUT)
        if not ready:
            raise UserError.single(f"the engine (pid {pid}) did not stop within {_STOP_TIMEOUT:.0f} s")
    finally:
        os.close(fd)
    print(f"engine stopped (pid {pid})")
    return 0


@engine_app.command("status")
def status_cmd(ctx: typer.Context) -> int:
    """Say whether an engine answers on the socket, and its PID."""
    path = _socket_path((ctx.obj or {}).get("host"))
    pid = engine_pid(path)
    if pid is None:
        print(f"no engine is listening on {path}")
        return 1
    print(f"engine running on unix://{path} (pid {pid})")
    return 0


def register(app: typer.Typer) -> None:
    app.add_typer(engine_app, name="engine")
