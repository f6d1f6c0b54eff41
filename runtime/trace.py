"""Debug timing of the container start path, off by default.

With ``PYCOMPOSE_TRACE=<file>`` in the engine's environment (``1``/``true``/``yes``/``stderr`` are the client's
switch for its own timeline and leave the engine's off), every process on the path (daemon, fork server,
monitor, container init) appends ``<monotonic ns> <pid> <stage>`` lines to that file through one append-only fd
opened at import (close-on-exec, so it never reaches a container's program; it still works after
``pivot_root``). ``bench/trace_report.py``-style tools turn the lines into per-stage durations. Without the
variable ``mark`` is a single ``if``. Standard library only: the container's init imports it.
"""
from __future__ import annotations

import os
import time

__all__ = ["enabled", "mark"]

_FD = -1
_path = os.environ.get("PYCOMPOSE_TRACE", "")
_SWITCH = ("1", "true", "yes", "stderr")  # the client's stderr timeline switch (compose/trace.py), not a file name
if _path and _path.lower() not in _SWITCH:
    try:
        _FD = os.open(_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        _FD = -1


def enabled() -> bool:
    return _FD >= 0


def mark(stage: str, key: str = "") -> None:
    """Record that ``stage`` was reached now (``key``: e.g. the container id, to tell starts apart)."""
    if _FD < 0:
        return
    try:
        os.write(_FD, f"{time.monotonic_ns()} {os.getpid()} {key[:12] or '-'} {stage}\n".encode())
    except OSError:
        pass
