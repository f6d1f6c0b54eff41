"""Docker's JSON progress messages (what ``docker pull``/``push`` print), built here and handed to a callback.

The callback may be called from several download threads at once; it must be thread-safe (e.g. put on a queue).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from runtime.images.digest import short_id

__all__ = ["ProgressFn", "Progress", "format_bar"]

ProgressFn = Callable[[dict[str, Any]], None]
_MIN_INTERVAL = 0.1  # seconds between two byte-progress messages of one layer


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n}B"


def format_bar(current: int, total: int, width: int = 50) -> str:
    """``[=====>      ]  1.2MB/2.3MB`` as Docker draws it."""
    if total <= 0:
        return f"{_human(current)}"
    filled = min(width, int(width * current / total))
    arrow = ">" if filled < width else "="
    bar = "=" * max(0, filled - 1) + arrow if filled else ">"
    return f"[{bar.ljust(width)}] {_human(current):>8}/{_human(total)}"


class Progress:
    """Emits Docker-shaped messages; a no-op when there is no callback."""

    def __init__(self, callback: ProgressFn | None) -> None:
        self._callback = callback
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def status(self, status: str, id: str | None = None, **extra: Any) -> None:
        if self._callback is None:
            return
        msg: dict[str, Any] = {"status": status}
        if id is not None:
            msg["progressDetail"] = {}
            msg["id"] = id
        msg.update(extra)
        with self._lock:
            self._callback(msg)

    def layer(self, digest: str, status: str) -> None:
        self.status(status, short_id(digest))

    def bytes(self, digest: str, status: str, current: int, total: int, *, force: bool = False) -> None:
        if self._callback is None:
            return
        key = f"{digest}/{status}"
        now = time.monotonic()
        if not force and now - self._last.get(key, 0.0) < _MIN_INTERVAL and current < total:
            return
        self._last[key] = now
        with self._lock:
            self._callback({"status": status, "progressDetail": {"current": current, "total": total},
                            "progress": format_bar(current, total), "id": short_id(digest)})

    def aux(self, value: dict[str, Any]) -> None:
        if self._callback is not None:
            with self._lock:
                self._callback({"progressDetail": {}, "aux": value})
