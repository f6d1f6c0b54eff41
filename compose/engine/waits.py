"""Waiting on a container without a polling interval: block on the engine's event stream for it.

``with watching(client, container, seconds) as changed:`` subscribes to the container's state events
(``health_status``, ``start``, ``die``, ``oom``, ``destroy``) first; the caller then looks at the container, and
``changed()`` returns as soon as the engine reports one of those events, or after ``seconds``. Subscribing
before looking means a change in between is on the stream, not lost. The caller looks again either way, so
``seconds`` is only a safety net (an engine that streams no events, or a clock far from ours, costs at most
that much, never a busy loop).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker

__all__ = ["STATE_EVENTS", "watching"]

STATE_EVENTS = ("health_status", "start", "die", "oom", "destroy")


@contextmanager
def watching(client: "docker.APIClient", container: str, seconds: float) -> Iterator[Callable[[], None]]:
    import docker.errors
    import requests.exceptions

    started = time.monotonic()
    stream: Any = None
    try:
        stream = client.events(until=time.time() + seconds, decode=True,
                               filters={"container": [container], "event": list(STATE_EVENTS)})
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        stream = None  # no event stream: ``changed`` waits the whole window

    def changed() -> None:
        if stream is not None:
            try:
                if next(iter(stream), None) is not None:
                    return
            except (docker.errors.DockerException, requests.exceptions.RequestException):
                pass
        rest = seconds - (time.monotonic() - started)
        if rest > 0:  # the stream ended early (engine clock ahead of ours) or never came: the safety net
            time.sleep(rest)

    try:
        yield changed
    finally:
        if stream is not None:
            try:
                stream.close()
            except (OSError, docker.errors.DockerException):  # already closed by the engine at ``until``
                pass
