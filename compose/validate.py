"""Semantic checks the schema cannot express, as a list of small functions; errors apart from warnings."""
from __future__ import annotations

from typing import Any

from compose.errors import Problem

__all__ = ["check"]


def check(
    config: dict[str, Any], sources: Any, disabled_services: dict[str, dict[str, Any]] | None = None
) -> tuple[list[Problem], list[Problem]]:
    """Check a schema-valid config. ``disabled_services`` are services removed by profiles (name -> config).

    Returns ``(errors, warnings)``.
    """
    raise NotImplementedError
