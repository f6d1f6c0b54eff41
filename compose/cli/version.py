"""``pycompose version``: the installed version."""
from __future__ import annotations

from typing import Annotated

from compose.cli._typer import typer

__all__ = ["register", "version_string"]


def _from_dist_info() -> str | None:
    """The ``Version:`` of the first ``pycompose-*.dist-info/METADATA`` on ``sys.path`` (as importlib.metadata
    finds it, without importing it: email, zipfile, csv... cost more than this command)."""
    import os
    import sys

    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.lower().startswith("pycompose-") and name.endswith(".dist-info"):
                try:
                    with open(os.path.join(entry or ".", name, "METADATA"), encoding="utf-8") as meta:
                        for line in meta:
                            if line.startswith("Version:"):
                                return line.split(":", 1)[1].strip()
                            if not line.strip():
                                break  # the end of the headers
                except OSError:
                    pass
    return None


def version_string() -> str:
    found = _from_dist_info()
    if found:
        return found
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
