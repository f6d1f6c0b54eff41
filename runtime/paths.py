"""Where the engine keeps its state: ``PYCOMPOSE_ROOT`` or ``/var/lib/pycompose``."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEFAULT_ROOT", "data_root"]

DEFAULT_ROOT = Path("/var/lib/pycompose")


def data_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get("PYCOMPOSE_ROOT")
    return Path(env) if env else DEFAULT_ROOT
