"""``pycompose down``: stop and remove the project's containers and networks (``-v`` volumes, ``--rmi``
images)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

__all__ = ["register", "down"]


def register(app: typer.Typer) -> None:
    app.command("down", help="Stop and remove containers, networks.")(down)


def down(
    ctx: typer.Context,
    volumes: Annotated[bool, typer.Option("--volumes", "-v", help="Remove named volumes declared in the "
                                          "volumes section and anonymous volumes attached to containers.")] = False,
    rmi: Annotated[Optional[str], typer.Option("--rmi", help="Remove images used by services: local or all.",
                                               metavar="TYPE")] = None,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans", help="Remove containers for services not "
                                                 "defined in the Compose file.")] = False,
    timeout: Annotated[Optional[int], typer.Option("--timeout", "-t", help="Shutdown timeout in seconds.",
                                                   metavar="SECONDS")] = None,
) -> int:
    from compose.cli.session import open_session
    from compose.errors import UserError
    from compose.observe import observe
    from compose.plan import DownOptions, plan_down

    if rmi not in (None, "local", "all"):
        raise UserError.single(f"--rmi {rmi}: expected local or all")
    session = open_session(ctx, bare_ok=True)
    observed = observe(session.client, session.project, images=bool(rmi), oneoff=None)
    plan = plan_down(session.project, observed, DownOptions(
        volumes=volumes, rmi=rmi, remove_orphans=remove_orphans or session.bare, timeout=timeout,
        known_services=session.known_services(), labelled=session.bare))
    session.run(plan)
    return 0
