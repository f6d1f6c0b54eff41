"""Short syntax to long syntax, defaults and resolved paths: a pure function over a plain dict."""
from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["canonicalize"]


def canonicalize(config: dict[str, Any], project_dir: Path, environment: dict[str, str]) -> dict[str, Any]:
    """Return the canonical (long syntax, defaults filled, paths absolute) form of a schema-valid config.

    ``environment`` is the interpolation environment (used for ``environment: [FOO]`` pass-through values).
    The input is not modified.
    """
    raise NotImplementedError
