"""``pycompose create``: ``up --no-start`` (networks, volumes, images and containers, nothing started)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

__all__ = ["register", "create"]


def register(app: typer.Typer) -> None:
    app.command("create", help="Creates containers for a service.")(create)


def create(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    build: Annotated[bool, typer.Option("--build", help="Build images before starting containers.")] = False,
    no_build: Annotated[bool, typer.Option("--no-build", help="Don't build an image.")] = False,
    force_recreate: Annotated[bool, typer.Option("--force-recreate")] = False,
    no_recreate: Annotated[bool, typer.Option("--no-recreate")] = False,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans")] = False,
    scale: Annotated[Optional[list[str]], typer.Option("--scale", metavar="SERVICE=NUM")] = None,
    pull: Annotated[Optional[str], typer.Option("--pull", metavar="POLICY")] = None,
    yes: Annotated[bool, typer.Option(
        "--yes", "--y", "-y", help="Assume \"yes\" as answer to all prompts and run "
        "non-interactively.")] = False,
    quiet_pull: Annotated[bool, typer.Option("--quiet-pull", help="Pull without printing progress.")] = False,
) -> int:
    from compose.cli.up import up

    return up(ctx, services, build=build, no_build=no_build, force_recreate=force_recreate,
              no_recreate=no_recreate, remove_orphans=remove_orphans, scale=scale, pull=pull, no_start=True,
              detach=True, no_deps=False, wait=False, wait_timeout=None, timeout=None,
              abort_on_container_exit=False, exit_code_from=None, yes=yes, quiet_pull=quiet_pull)
