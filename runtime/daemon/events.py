"""The events bus and ``GET /events``: publish from anywhere (loop or worker thread), stream with Docker's
filters (type, event, container, image, network, volume, label, daemon) and ``since``/``until``."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from runtime.daemon.server import Request, Stream
from runtime.errors import InvalidArgument

__all__ = ["EventBus", "event_matches", "parse_time", "events_handler"]

_HISTORY = 1024
_FILTER_KEYS = {"type", "event", "container", "image", "network", "volume", "label", "daemon", "scope",
                "plugin", "node", "service", "secret", "config"}


class EventBus:
    def __init__(self) -> None:
        self._history: deque[dict[str, Any]] = deque(maxlen=_HISTORY)
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def listeners(self) -> int:
        return len(self._queues)

    def publish(self, type_: str, action: str, actor_id: str, attributes: dict[str, str] | None = None,
                scope: str = "local") -> dict[str, Any]:
        now = time.time_ns()
        event: dict[str, Any] = {"Type": type_, "Action": action,
                                 "Actor": {"ID": actor_id, "Attributes": dict(attributes or {})},
                                 "scope": scope, "time": now // 1_000_000_000, "timeNano": now}
        if type_ == "container":  # the pre-1.22 fields docker-py and old clients still read
            event.update(status=action, id=actor_id, **({"from": attributes["image"]}
                                                        if attributes and "image" in attributes else {}))
        with self._lock:
            self._history.append(event)
        loop = self._loop
        if loop is None or loop.is_closed():
            return event
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(event)
        else:
            loop.call_soon_threadsafe(self._deliver, event)
        return event

    def _deliver(self, event: dict[str, Any]) -> None:
        for queue in list(self._queues):
            queue.put_nowait(event)

    def history(self, since_ns: int | None, until_ns: int | None) -> list[dict[str, Any]]:
        with self._lock:
            events = list(self._history)
        return [e for e in events if (since_ns is None or e["timeNano"] >= since_ns)
                and (until_ns is None or e["timeNano"] <= until_ns)]

    async def subscribe(self, since_ns: int | None = None,
                        until_ns: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Past events from ``since``, then live ones until ``until`` (forever when None)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._queues.add(queue)
        try:
            last = 0
            if since_ns is not None:
                for event in self.history(since_ns, until_ns):
                    last = event["timeNano"]
                    yield event
            while True:
                timeout = None
                if until_ns is not None:
                    timeout = (until_ns - time.time_ns()) / 1e9
                    if timeout <= 0:
                        return
                try:
                    event = await asyncio.wait_for(queue.get(), timeout)
                except asyncio.TimeoutError:
                    return
                if event["timeNano"] <= last:
                    continue
                yield event
        finally:
            self._queues.discard(queue)


def parse_time(value: str | None, name: str) -> int | None:
    """Docker accepts unix seconds with an optional fraction ("1700000000.123456789"); returns ns."""
    if value is None or value == "":
        return None
    try:
        seconds, _, frac = value.partition(".")
        return int(seconds) * 1_000_000_000 + int((frac + "000000000")[:9] if frac else 0)
    except ValueError:
        raise InvalidArgument(f"invalid value for {name!r}: {value!r} is not a unix timestamp") from None


def _label_ok(attrs: dict[str, str], wanted: list[str]) -> bool:
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in attrs or (sep and attrs[key] != value):
            return False
    return True


def event_matches(event: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    attrs = event["Actor"]["Attributes"]
    ident = event["Actor"]["ID"]
    type_ = event["Type"]

    def any_of(key: str, *candidates: str | None) -> bool:
        values = filters.get(key)
        return not values or any(c is not None and (c in values or any(c.startswith(v) for v in values
                                                                         if key != "event" and len(v) >= 12))
                                 for c in candidates)

    if not any_of("type", type_) or not any_of("event", event["Action"].split(":")[0], event["Action"]):
        return False
    if filters.get("label") and not _label_ok(attrs, filters["label"]):
        return False
    if filters.get("scope") and event.get("scope") not in filters["scope"]:
        return False
    for key in ("container", "network", "volume", "image"):
        if filters.get(key):
            if key == "image":
                if not any_of("image", attrs.get("image"), ident if type_ == "image" else None,
                              attrs.get("name") if type_ == "image" else None):
                    return False
            elif type_ != key or not any_of(key, ident, attrs.get("name")):
                return False
    return True


def _parse_filters(req: Request) -> dict[str, list[str]]:
    raw = req.json_arg("filters") or {}
    if not isinstance(raw, dict):
        raise InvalidArgument("filters must be a JSON object")
    out: dict[str, list[str]] = {}
    for key, value in raw.items():
        if key not in _FILTER_KEYS:
            raise InvalidArgument(f"invalid filter '{key}'")
        out[key] = list(value) if isinstance(value, list) else [k for k, on in dict(value).items() if on]
    return out


async def events_handler(req: Request, bus: EventBus) -> Stream:
    filters = _parse_filters(req)
    since = parse_time(req.arg("since"), "since")
    until = parse_time(req.arg("until"), "until")
    if since is not None and until is not None and since > until:
        raise InvalidArgument("since must be before until")

    async def body() -> AsyncIterator[bytes]:
        async for event in bus.subscribe(since, until):
            if event_matches(event, filters):
                yield json.dumps(event).encode() + b"\n"

    return Stream(body())
