"""The renderer protocol: a callable sink plus ``close()`` (draw the final state) and ``message()``."""
from __future__ import annotations

import threading
from typing import TextIO

from compose.events import Event

__all__ = ["Display"]


class Display:
    """Base renderer: thread-safe; subclasses implement ``_draw``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._draw(event)

    def _draw(self, event: Event) -> None:
        raise NotImplementedError

    def message(self, text: str) -> None:
        """A free line (a warning) outside the progress block."""
        with self._lock:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """Finish drawing; called once after the command's work."""
