"""``pycompose start``: start existing containers, in dependency order with the ``depends_on`` waits."""
from __future__ import annotations

from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "start"]


def register(app: typer.Typer) -> None:
    app.command("start", help="Start services.")(start)


def start(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for services to be running|healthy.")] = False,
    wait_timeout: Annotated[Optional[float], typer.Option("--wait-timeout", metavar="SECONDS")] = None,
) -> int:
    from compose.cli.session import open_session
    from compose.cli.up import wait_services
    from compose.observe import observe
    from compose.plan import plan_start

    wanted = list(services or [])
    session = open_session(ctx, wanted, bare_ok=True)
    observed = observe(session.client, session.project, images=False)
    session.run(plan_start(session.project, observed, wanted or None))
    if wait:
        wait_services(session, wanted or list(session.project.services), wait_timeout)
    return 0
