"""Line renderers: ``plain`` (`` Container hello-web-1  Started``, as Docker Compose's plain progress), ``json``
(one object per event) and ``quiet`` (nothing but warnings and errors)."""
from __future__ import annotations

import json

from compose.display.base import Display
from compose.events import Event, Status

__all__ = ["PlainDisplay", "JsonDisplay", "QuietDisplay"]


class PlainDisplay(Display):
    def _draw(self, event: Event) -> None:
        text = f"Error {event.text}" if event.status is Status.ERROR else event.text
        print(f" {event.kind} {event.name}  {text}", file=self.stream, flush=True)


class JsonDisplay(Display):
    def _draw(self, event: Event) -> None:
        record = {"id": f"{event.kind} {event.name}", "kind": event.kind, "name": event.name,
                  "status": event.status.value, "text": event.text}
        print(json.dumps(record), file=self.stream, flush=True)

    def message(self, text: str) -> None:
        with self._lock:
            print(json.dumps({"message": text}), file=self.stream, flush=True)


class QuietDisplay(Display):
    def _draw(self, event: Event) -> None:
        if event.status is Status.ERROR:
            print(f"{event.kind} {event.name}: {event.text}", file=self.stream, flush=True)
