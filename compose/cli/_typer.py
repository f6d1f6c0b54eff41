"""``typer`` for the command modules, imported on first use.

A command module's typer annotations (``Annotated[bool, typer.Option("--all", "-a")]``) are strings until typer
reads them (``from __future__ import annotations``), and ``compose.cli.fastpath`` reads them without typer; so a
module that takes ``typer`` from here costs no typer/click import (~25 ms) unless typer builds the command."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["typer"]

if TYPE_CHECKING:
    import typer
else:
    class _Typer:
        """Attribute access imports typer and forwards to it."""

        def __getattr__(self, name: str) -> Any:
            import typer as real

            return getattr(real, name)

        def __repr__(self) -> str:
            return "<typer, imported on first use>"

    typer = _Typer()
