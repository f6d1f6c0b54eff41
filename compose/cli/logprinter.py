"""Several containers' logs on one terminal, each line prefixed ``web-1  | `` (coloured on a tty), as
``up`` (attached) and ``logs`` print them. One reader thread per container feeds a queue; the caller's thread
prints, so lines never interleave mid-line."""
from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["LogPrinter", "Source"]

_COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


@dataclass
class Source:
    label: str  # "web-1"
    lines: Callable[[], Iterator[str]]
    container: str = ""


@dataclass
class LogPrinter:
    prefix: bool = True
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    colour: bool | None = None
    _queue: "queue.Queue[tuple[str, str | None]]" = field(default_factory=queue.Queue)
    _width: int = 0
    _colours: dict[str, str] = field(default_factory=dict)
    _live: set[str] = field(default_factory=set)

    def add(self, source: Source) -> None:
        if source.label in self._live:
            return
        self._live.add(source.label)
        self._width = max(self._width, len(source.label))
        self._colours.setdefault(source.label, _COLOURS[len(self._colours) % len(_COLOURS)])
        threading.Thread(target=self._read, args=(source,), daemon=True, name=f"logs-{source.label}").start()

    def _read(self, source: Source) -> None:
        try:
            for line in source.lines():
                self._queue.put((source.label, line))
        except Exception as err:  # noqa: BLE001 - the container went away: say so in its stream
            self._queue.put((source.label, f"(log stream ended: {err})"))
        finally:
            self._queue.put((source.label, None))

    def _print(self, label: str, line: str) -> None:
        if not self.prefix:
            print(line, file=self.stream, flush=True)
            return
        colour = self.colour if self.colour is not None else _ansi(self.stream)
        head = f"{label:<{self._width}}  | "
        if colour:
            head = f"\x1b[{self._colours[label]}m{head}\x1b[0m"
        print(head + line, file=self.stream, flush=True)

    def next_event(self, timeout: float | None = None) -> tuple[str, str | None] | None:
        """Print lines until a source ends: return ``(label, None)``; or None when ``timeout`` passes idle."""
        while True:
            try:
                label, line = self._queue.get(timeout=timeout)
            except queue.Empty:
                return None
            if line is None:
                self._live.discard(label)
                return label, None
            self._print(label, line)

    def run(self) -> None:
        """Print until every source has ended."""
        while self._live:
            self.next_event()

    @property
    def live(self) -> set[str]:
        return set(self._live)


def _ansi(stream: TextIO) -> bool:
    """Colour unless ``COMPOSE_ANSI`` (``--ansi``) says never; always with ``always``; else on a terminal."""
    import os

    mode = os.environ.get("COMPOSE_ANSI", "auto")
    return mode == "always" or mode != "never" and stream.isatty()
