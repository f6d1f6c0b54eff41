"""``pycompose pause``: freeze the running containers."""
from __future__ import annotations

from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "pause"]


def register(app: typer.Typer) -> None:
    app.command("pause", help="Pause services.")(pause)


def pause(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
) -> int:
    from compose.cli._each import for_each_container
    from compose.cli._light import open_light_session
    from compose.engine import containers as C

    session = open_light_session(ctx, list(services or []), bare_ok=True)
    found = [c for c in session.containers(list(services or []), all=False) if c.state == "running"]
    for_each_container(session, found, ("Pausing", "Paused"), lambda cid: C.pause(session.client, cid))
    return 0
