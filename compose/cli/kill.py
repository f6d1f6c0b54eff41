"""``pycompose kill``: send a signal (default SIGKILL) to the running containers."""
from __future__ import annotations

from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "kill"]


def register(app: typer.Typer) -> None:
    app.command("kill", help="Force stop service containers.")(kill)


def kill(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    signal: Annotated[str, typer.Option("--signal", "-s", help="Signal to send.")] = "SIGKILL",
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans", help="Also orphans.")] = False,
) -> int:
    from compose.cli._each import for_each_container
    from compose.cli._light import open_light_session
    from compose.cli.session import parse_signal
    from compose.engine import containers as C

    session = open_light_session(ctx, list(services or []), bare_ok=True)
    found = [c for c in session.containers(list(services or []), all=False)
             if remove_orphans or c.service in session.service_names]
    sig = parse_signal(signal)
    for_each_container(session, found, ("Killing", "Killed"), lambda cid: C.kill(session.client, cid, sig))
    return 0
