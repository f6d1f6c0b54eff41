"""What every project command starts with: the project the global options describe, warnings printed.

A command module calls ``load_for_command(ctx, services)`` and works on the ``LoadedProject`` it returns;
user errors propagate as ``UserError`` to ``compose.cli.app.run``, which prints them and exits 1.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from compose.cli._typer import typer

if TYPE_CHECKING:
    from compose.cli.options import GlobalOptions
    from compose.project import LoadedProject

__all__ = ["global_options", "load_for_command"]


def global_options(ctx: typer.Context) -> "GlobalOptions":
    """The ``GlobalOptions`` the top-level callback stored (found on any parent context)."""
    from compose.cli.options import GlobalOptions

    obj = ctx.find_object(GlobalOptions)
    return obj if obj is not None else GlobalOptions()


def load_for_command(ctx: typer.Context, services: list[str] | None = None) -> "LoadedProject":
    """Load, validate and model the project; ``services`` named on the command line are enabled whatever
    their profiles (and must exist). Warnings go to stderr."""
    from compose.cli.output import print_warnings
    from compose.errors import UserError
    from compose.project import load_project

    wanted = list(services or [])
    loaded = load_project(global_options(ctx).load_options(services=wanted))
    print_warnings(loaded.warnings)
    known = loaded.canonical.get("services") or {}
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise UserError.single(f"no such service: {unknown[0]}")
    return loaded
