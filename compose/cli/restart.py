"""``pycompose restart``: restart running containers, dependents first (no config change is applied)."""
from __future__ import annotations

from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "restart"]


def register(app: typer.Typer) -> None:
    app.command("restart", help="Restart service containers.")(restart)


def restart(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    timeout: Annotated[Optional[int], typer.Option("--timeout", "-t", help="Shutdown timeout in seconds.",
                                                   metavar="SECONDS")] = None,
    no_deps: Annotated[bool, typer.Option("--no-deps", help="Don't restart dependent services.")] = False,
) -> int:
    from compose.cli.session import open_session
    from compose.observe import observe
    from compose.plan import Op, plan_stop

    wanted = list(services or [])
    session = open_session(ctx, wanted, bare_ok=True)
    observed = observe(session.client, session.project, images=False)
    session.run(plan_stop(session.project, observed, wanted or None, timeout, op=Op.RESTART_CONTAINER))
    return 0
