"""``pycompose unpause``: thaw paused containers."""
from __future__ import annotations

from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "unpause"]


def register(app: typer.Typer) -> None:
    app.command("unpause", help="Unpause services.")(unpause)


def unpause(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
) -> int:
    from compose.cli._each import for_each_container
    from compose.cli._light import open_light_session
    from compose.engine import containers as C

    session = open_light_session(ctx, list(services or []), bare_ok=True)
    found = [c for c in session.containers(list(services or []), all=False) if c.state == "paused"]
    for_each_container(session, found, ("Unpausing", "Unpaused"), lambda cid: C.unpause(session.client, cid))
    return 0
