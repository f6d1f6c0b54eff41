"""Plain data (what YAML and JSON hold: dicts, lists, scalars): a fast deep copy.

``copy.deepcopy`` keeps a memo and dispatches on every type; for plain trees a direct recursion is several times
faster, which matters when every stage copies a 1,000-service project.
"""
from __future__ import annotations

from typing import Any

__all__ = ["clone"]


def clone(value: Any) -> Any:
    """A deep copy of plain data; dict subclasses come back as plain dicts, tuples as lists."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clone(v) for v in value]
    return value
