"""Debug timeline of one command on the client side, off by default (``PYCOMPOSE_TRACE``).

``PYCOMPOSE_TRACE=1`` prints one line per step on stderr: milliseconds since the command started, the step
(``load``, ``connect``, ``observe``, ``plan``, ``execute`` ...) and every Engine API request with its status,
its time and the thread that made it. ``PYCOMPOSE_TRACE=<file>`` appends ``<monotonic ns> <pid> client:<step>``
lines to that file instead - the format the engine's ``runtime.trace`` writes, so with the same variable in the
engine's environment both sides land in one timeline. Without the variable ``mark`` is a single ``if``.
Standard library only: imported first thing by ``compose.cli.main``.
"""
from __future__ import annotations

import os
import sys
import threading
import time

__all__ = ["enabled", "mark", "request"]

_T0 = time.perf_counter()
_setting = os.environ.get("PYCOMPOSE_TRACE", "")
_TO_STDERR = _setting.lower() in ("1", "true", "yes", "stderr")
_FD = -1
if _setting and not _TO_STDERR:
    try:
        _FD = os.open(_setting, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        _FD = -1
_ON = _TO_STDERR or _FD >= 0


def enabled() -> bool:
    return _ON


def mark(step: str) -> None:
    """Record that ``step`` was reached now."""
    if not _ON:
        return
    if _TO_STDERR:
        sys.stderr.write(f"trace {(time.perf_counter() - _T0) * 1000:8.1f} ms  {step}\n")  # one write: whole lines
        sys.stderr.flush()
    else:
        os.write(_FD, f"{time.monotonic_ns()} {os.getpid()} client:{step}\n".encode())


def request(method: str, path: str, status: int, seconds: float) -> None:
    """One Engine API round trip, as the HTTP client saw it (``seconds``: request sent to headers read)."""
    if _ON:
        thread = threading.current_thread().name
        mark(f"{method} {path} -> {status} in {seconds * 1000:.1f} ms [{thread}]")
