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
    from compose.cli._ordered import run_ordered

    wanted = list(services or [])
    session = run_ordered(ctx, wanted, "start", full_only=wait)  # --wait needs the project: the full path
    if wait:
        from compose.cli.up import wait_services

        assert session is not None
        wait_services(session, wanted or list(session.project.services), wait_timeout)
    return 0
