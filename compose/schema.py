"""Validate a merged, interpolated Compose config against our JSON schema (``schemas/compose.schema.json``).

All errors are reported, each as a ``Problem`` carrying the key path, its file:line:col (from the caller's
source map) and a message saying what was expected.
"""
from __future__ import annotations

from typing import Any, Protocol

from compose.errors import Location, Problem

__all__ = ["SourceLocator", "load_schema", "validate"]


class SourceLocator(Protocol):
    def locate(self, path: tuple[str | int, ...]) -> Location | None: ...


def load_schema() -> dict[str, Any]:
    """Our Compose schema, loaded from the ``schemas`` package (cached)."""
    raise NotImplementedError


def validate(config: dict[str, Any], sources: SourceLocator | None) -> list[Problem]:
    """Every schema violation in ``config``, most useful message per location; empty if valid."""
    raise NotImplementedError
