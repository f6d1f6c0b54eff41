"""Docker Compose's live progress block on a terminal::

    [+] Running 3/3
     ✔ Network hello_front     Created      0.1s
     ✔ Container hello-web-1   Healthy      2.3s
     ⠿ Container hello-client-1  Starting   0.4s

Redrawn in place (cursor up, clear line) on each event and on a ticker thread for the timers.
"""
from __future__ import annotations

import threading
import time
from typing import TextIO

from compose.display.base import Display
from compose.events import Event, Status

__all__ = ["TtyDisplay"]

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_MARK = {Status.DONE: "\x1b[32m✔\x1b[0m", Status.ERROR: "\x1b[31m✘\x1b[0m", Status.WARNING: "\x1b[33m!\x1b[0m"}


class TtyDisplay(Display):
    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._rows: dict[str, tuple[Event, float]] = {}  # id -> (last event, first seen)
        self._drawn = 0
        self._tick = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def _draw(self, event: Event) -> None:
        key = f"{event.kind} {event.name}"
        first = self._rows.get(key, (event, event.at))[1]
        self._rows[key] = (event, first)
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._run_ticker, daemon=True)
            self._ticker.start()
        self._render()

    def _run_ticker(self) -> None:
        while not self._stop.wait(0.1):  # a redraw timer, not synchronisation
            with self._lock:
                self._tick += 1
                self._render()

    def _render(self) -> None:
        if not self._rows:
            return
        now = time.monotonic()
        done = sum(1 for ev, _ in self._rows.values() if ev.status is not Status.WORKING)
        width = max(len(k) for k in self._rows) + 2
        lines = [f"\x1b[34m[+]\x1b[0m Running {done}/{len(self._rows)}"]
        for key, (ev, first) in self._rows.items():
            mark = _MARK.get(ev.status) or _SPINNER[self._tick % len(_SPINNER)]
            end = ev.at if ev.status is not Status.WORKING else now
            lines.append(f" {mark} {key:<{width}} {ev.text:<12} {end - first:.1f}s")
        out = ("\x1b[1A\x1b[2K" * self._drawn) + "\r" + "\n".join("\x1b[2K" + line for line in lines) + "\n"
        self.stream.write(out)
        self.stream.flush()
        self._drawn = len(lines)

    def message(self, text: str) -> None:
        with self._lock:
            self.stream.write(("\x1b[1A\x1b[2K" * self._drawn) + text + "\n")
            self._drawn = 0
            self._render()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            self._render()
