"""Scope sockets opened ahead of time: in a container's netns from its create, ready when it starts.

A container's network namespace exists from its create on, so the DNS scope's sockets (and the redirect of
127.0.0.11:53 to them) can be opened then, in the background, instead of on the start path. The start then
only takes them (waiting if the work is not done yet) and begins serving. The sockets keep the netns alive:
a netns removed before its container starts must be discarded here; one whose file went anyway (a create
that failed after its sandbox was made) is swept at the next preparation. A preparation is never cancelled,
so its result is never lost: discarding it closes the sockets now or as soon as it is done.
"""
from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable

from runtime.network.dns.listener import close_pair, is_netns
from runtime.network.dns.sockets import Listening

__all__ = ["Listening", "PreparedSockets"]

log = logging.getLogger(__name__)


class PreparedSockets:
    """Netns path -> the task opening a scope's sockets there (in one redirect mode). Use inside the loop."""

    def __init__(self) -> None:
        self._tasks: dict[str, tuple[bool, asyncio.Task[Listening]]] = {}
        self._running: set[asyncio.Task[Listening]] = set()  # also those discarded but not done yet

    def start(self, path: str, redirect: bool, opener: Callable[[str, bool], Awaitable[Listening]]) -> None:
        """Run ``opener(path, redirect)`` in the background (once per path)."""
        self.sweep()
        if path in self._tasks:
            return
        task = asyncio.ensure_future(opener(path, redirect))
        task.add_done_callback(_seen)
        task.add_done_callback(self._running.discard)
        self._running.add(task)
        self._tasks[path] = (redirect, task)

    async def take(self, path: str, redirect: bool) -> Listening | None:
        """The sockets prepared for ``path`` in that mode (waiting for them if need be), else ``None``."""
        entry = self._tasks.pop(path, None)
        if entry is None:
            return None
        mode, task = entry
        if mode != redirect:
            _dispose(task)
            return None
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            _dispose(task)
            raise
        except Exception as err:  # noqa: BLE001 - the caller opens them itself and reports what fails then
            log.debug("DNS sockets prepared in %s failed: %s", path, err)
            return None

    def discard(self, path: str) -> None:
        """Close what was prepared for ``path`` (a no-op without)."""
        entry = self._tasks.pop(path, None)
        if entry is not None:
            _dispose(entry[1])

    def sweep(self) -> None:
        """Discard the preparations of namespaces whose file is gone."""
        if not self._tasks:
            return
        nsfs = os.stat("/proc/self/ns/net").st_dev
        for path in [p for p in self._tasks if not is_netns(p, nsfs)]:
            self.discard(path)

    def paths(self) -> list[str]:
        return list(self._tasks)

    async def settle(self) -> None:
        """Wait until no preparation runs, discarded ones included (their sockets are closed then)."""
        if self._running:
            await asyncio.wait(list(self._running))

    def close(self) -> None:
        for path in list(self._tasks):
            self.discard(path)


def _seen(task: asyncio.Task[Listening]) -> None:
    """A preparation's failure is reported by the ``take`` that finds it, not as a never-retrieved error."""
    if not task.cancelled():
        task.exception()


def _dispose(task: asyncio.Task[Listening]) -> None:
    def _close(t: asyncio.Task[Listening]) -> None:
        if not t.cancelled() and t.exception() is None:
            udp, tcp, _moved = t.result()
            close_pair((udp, tcp))
    task.add_done_callback(_close)
