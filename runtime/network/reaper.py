"""Deleting removed bridges and disconnected veths off the caller's path.

Deleting a bridge costs the kernel 30-50 ms (it waits for RCU grace periods), which ``network rm`` and every
``pycompose down`` would otherwise wait for. :meth:`LinkReaper.retire` does in about a millisecond what the
user can see - the addresses (and with them the routes) go, the link goes down and takes a throwaway name, so
the network's name, bridge name and subnet are free at once - and a worker thread deletes the link itself.

:meth:`LinkReaper.delete_later` queues a link the caller has already cut off (a container's veth, taken down
and out of its bridge on disconnect). The worker is started on demand and ends when nothing is left, and it is
not a daemon thread: a process that exits waits for it, so nothing outlives the engine. :meth:`drain` waits for
the queue to empty (engine stop, leak checks). A crash between the two steps leaves a bridge whose mark names a
network no record knows (the network service's ``restore`` deletes those), or a veth off every bridge whose peer
goes with its sandbox's namespace.
"""
from __future__ import annotations

import errno
import logging
import os
import threading

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from runtime.network import rtnl as _rtnl
from runtime.network.bridge import delete_link, link_index

__all__ = ["LinkReaper", "RETIRED_PREFIX"]

log = logging.getLogger(__name__)

RETIRED_PREFIX = "pcx"


class LinkReaper:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[str] = []
        self._worker: threading.Thread | None = None
        self._urgent = 0  # deletes running in threads of their own
        self._idle = threading.Event()
        self._idle.set()

    def retire(self, ipr: IPRoute, name: str) -> bool:
        """Strip link ``name`` of its addresses, take it down and rename it; delete it in the background.
        False when there is no such link."""
        index = link_index(ipr, name)
        if index is None:
            return False
        retired = RETIRED_PREFIX + os.urandom(6).hex()
        try:
            ipr.flush_addr(index=index)
            ipr.link("set", index=index, state="down")
            ipr.link("set", index=index, ifname=retired)
        except NetlinkError as err:  # cannot step aside: delete it here and now
            log.debug("link %s not retired (%s): deleting it in place", name, err)
            return delete_link(ipr, name)
        self.delete_later(retired)
        return True

    def delete_later(self, name: str, urgent: bool = False) -> None:
        """Delete link ``name`` in the worker (no error when it is gone by then). ``urgent`` (a caller waits for
        the kernel to unlist it): in a thread of its own at once, not behind the queue - the kernel unlists a
        link early in its delete and then waits the grace periods outside its lock, so deletes side by side do
        not wait for each other (back to back in one worker, each would wait ~20 ms for the one before)."""
        with self._lock:
            self._idle.clear()
            if urgent:
                self._urgent += 1
                threading.Thread(target=self._delete_one, args=(name,), name="pycompose-link-reaper-now").start()
                return
            self._queue.append(name)
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="pycompose-link-reaper")
                self._worker.start()

    def _run(self) -> None:
        with _rtnl.Rtnl() as rt:
            while True:
                with self._lock:
                    if not self._queue:
                        self._worker = None
                        if not self._urgent:
                            self._idle.set()
                        return
                    name = self._queue.pop(0)
                _delete(rt, name)

    def _delete_one(self, name: str) -> None:
        try:
            with _rtnl.Rtnl() as rt:
                _delete(rt, name)
        except Exception:  # noqa: BLE001 - reported; the link stays for restore to find
            log.exception("could not delete retired link %s", name)
        finally:
            with self._lock:
                self._urgent -= 1
                if not self._urgent and self._worker is None and not self._queue:
                    self._idle.set()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every retired link is deleted; False when ``timeout`` passed first."""
        return self._idle.wait(timeout)


def _delete(rt: _rtnl.Rtnl, name: str) -> None:
    try:
        answer = rt.exchange([_rtnl.del_link(name)])[0]  # by name: no dump of the host's links
        if answer.error not in (0, errno.ENODEV, errno.ENOENT):  # gone already is fine
            answer.check()
    except Exception:  # noqa: BLE001 - one failure must not strand the rest of the queue
        log.exception("could not delete retired link %s", name)
