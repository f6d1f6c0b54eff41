"""``pycompose exec``: run a command in a running service container (a TTY when stdin is one, unless -T)."""
from __future__ import annotations

from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "exec_cmd", "parse_env"]


def register(app: typer.Typer) -> None:
    app.command("exec", help="Execute a command in a running container.",
                context_settings={"allow_interspersed_args": False})(exec_cmd)


def parse_env(items: list[str] | None) -> dict[str, str]:
    import os

    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if sep:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def exec_cmd(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    command: Annotated[list[str], typer.Argument(metavar="COMMAND [ARGS...]")],
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run command in the background.")] = False,
    no_tty: Annotated[bool, typer.Option("--no-TTY", "-T", help="Disable pseudo-TTY allocation.")] = False,
    user: Annotated[Optional[str], typer.Option("--user", "-u", help="Run the command as this user.")] = None,
    workdir: Annotated[Optional[str], typer.Option("--workdir", "-w", help="Working directory.")] = None,
    env: Annotated[Optional[list[str]], typer.Option("--env", "-e", help="Set environment variables.",
                                                     metavar="KEY=VAL")] = None,
    privileged: Annotated[bool, typer.Option("--privileged", help="Extended privileges.")] = False,
    index: Annotated[int, typer.Option("--index", help="Index of the container if the service has replicas.")] = 1,
) -> int:
    import sys

    from compose.cli._light import open_light_session
    from compose.engine.exec import exec_command
    from compose.errors import UserError

    session = open_light_session(ctx, [service])
    found = [c for c in session.containers([service], all=False) if c.number == index]
    if not found:
        raise UserError.single(f"service {service!r} is not running (container #{index})")
    tty = not no_tty and sys.stdin.isatty()
    return exec_command(session.client, found[0].id, list(command), tty=tty, stdin=not detach, user=user,
                        workdir=workdir, env=parse_env(env), privileged=privileged, detach=detach)
