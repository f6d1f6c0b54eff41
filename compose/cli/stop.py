"""``pycompose stop``: stop running containers, dependents first."""
from __future__ import annotations

from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "stop"]


def register(app: typer.Typer) -> None:
    app.command("stop", help="Stop services.")(stop)


def stop(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    timeout: Annotated[Optional[int], typer.Option("--timeout", "-t", help="Shutdown timeout in seconds.",
                                                   metavar="SECONDS")] = None,
) -> int:
    from compose.cli._ordered import run_ordered

    run_ordered(ctx, services, "stop", timeout=timeout)
    return 0
