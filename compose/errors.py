"""Errors of the compose layer.

A ``UserError`` is something the user can fix (a bad file, an unknown service, a port taken). The CLI prints
it as one line per problem, ``file:line:col: key.path: message`` and exits 1. Anything else is a bug.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Location", "Problem", "UserError", "format_path"]


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def format_path(path: tuple[str | int, ...]) -> str:
    """``("services", "web", "ports", 1)`` -> ``services.web.ports[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass(frozen=True)
class Problem:
    message: str
    path: tuple[str | int, ...] = ()
    location: Location | None = None

    def __str__(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        key = f"{format_path(self.path)}: " if self.path else ""
        return f"{prefix}{key}{self.message}"


@dataclass
class UserError(Exception):
    """One or more problems the user must fix. ``str()`` gives one line per problem."""

    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def single(cls, message: str, path: tuple[str | int, ...] = (), location: Location | None = None) -> "UserError":
        return cls([Problem(message, path, location)])

    @classmethod
    def together(cls, errors: Iterable[UserError]) -> UserError:
        """One error with the problems of ``errors``, in order (the failures of steps run side by side)."""
        return cls([p for err in errors for p in err.problems])

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)
