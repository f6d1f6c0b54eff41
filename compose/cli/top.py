"""``pycompose top``: the processes of each running service container."""
from __future__ import annotations

from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "top"]


def register(app: typer.Typer) -> None:
    app.command("top", help="Display the running processes.")(top)


def top(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
) -> int:
    from compose.cli.ps import table
    from compose.cli._light import open_light_session
    from compose.engine.containers import top as top_of

    session = open_light_session(ctx, list(services or []), bare_ok=True)
    for c in session.containers(list(services or []), all=False):
        result = top_of(session.client, c.id)
        print(c.name)
        rows = [list(result.get("Titles") or [])] + [[str(x) for x in p] for p in result.get("Processes") or []]
        if rows[0]:
            print(table(rows))
    return 0
