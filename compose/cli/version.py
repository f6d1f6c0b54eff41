"""``pycompose version``: the installed version."""
from __future__ import annotations

from typing import Annotated

from compose.cli._typer import typer

__all__ = ["register", "version_string"]


def version_string() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pycompose")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def register(app: typer.Typer) -> None:
    app.command("version", help="Show the pycompose version.")(version_cmd)


def version_cmd(
    short: Annotated[bool, typer.Option("--short", help="Print only the version number.")] = False,
) -> int:
    number = version_string()
    print(number if short else f"pycompose version {number}")
    return 0
