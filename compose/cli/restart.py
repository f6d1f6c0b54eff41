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
    from compose.cli._ordered import run_ordered

    run_ordered(ctx, services, "restart", timeout=timeout)  # (--no-deps: only the named services are restarted)
    return 0
