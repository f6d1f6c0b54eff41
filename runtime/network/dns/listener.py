"""The sockets of one DNS scope, opened inside a container's network namespace.

``setns`` moves only the calling thread, so the sockets are made by a thread that exists for that one call,
joins the namespace, binds and exits; the sockets stay in the namespace they were made in, and the daemon's
loop serves them from its own. They keep that namespace alive until they are closed.
"""
from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

from runtime import linux
from runtime.errors import InvalidArgument, NotFound

__all__ = ["bind_listeners", "close_pair", "is_netns", "open_listeners", "netns_identity", "run_in_netns"]

T = TypeVar("T")

_IP_FREEBIND = 15  # bind before lo is up: the socket starts working as soon as it is


def bind_listeners(address: str, port: int, tcp_port: int | None = None) -> tuple[socket.socket, socket.socket]:
    """(UDP, TCP) sockets on ``address`` in the calling thread's netns: UDP on ``port``, TCP on ``tcp_port``
    (default: ``port``; 0: each its own free port)."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
    try:
        for sock in (udp, tcp):
            sock.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        udp.bind((address, port))
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((address, port if tcp_port is None else tcp_port))  # 0 (redirect mode): the DNAT says which
        tcp.listen(64)
    except BaseException:
        udp.close()
        tcp.close()
        raise
    return udp, tcp


async def run_in_netns(netns_path: str, func: Callable[[], T],
                       orphan: Callable[[T], None] | None = None) -> T:
    """``func()`` in a thread made for this call alone, joined to ``netns_path``; the loop is not blocked.

    ``orphan(result)`` disposes of a result nobody awaits any more (the caller was cancelled, the loop closed).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def _deliver(result: T | None, error: BaseException | None) -> None:
        if done.cancelled():
            if error is None and orphan is not None:
                orphan(result)  # type: ignore[arg-type]
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def _body() -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                linux.setns(fd, linux.CLONE_NEWNET)
            finally:
                os.close(fd)
            result = func()
        except BaseException as err:  # noqa: BLE001 - handed to the awaiting coroutine
            error = err
        try:
            loop.call_soon_threadsafe(_deliver, result, error)
        except RuntimeError:  # the loop closed meanwhile: nobody will take the result
            if error is None and orphan is not None:
                orphan(result)  # type: ignore[arg-type]

    threading.Thread(target=_body, name="pycompose-dns-netns", daemon=True).start()
    return await done


def close_pair(socks: tuple[object, ...]) -> None:
    """Close a scope's sockets (an ``orphan`` for :func:`run_in_netns`)."""
    for sock in socks:
        if isinstance(sock, socket.socket):
            sock.close()


async def open_listeners(netns_path: str, address: str, port: int) -> tuple[socket.socket, socket.socket]:
    """The scope's (UDP, TCP) sockets on ``address:port`` inside ``netns_path`` (port 0: free ports)."""
    return await run_in_netns(netns_path, lambda: bind_listeners(address, port), close_pair)


def is_netns(path: str, nsfs_dev: int | None = None) -> bool:
    """Whether ``path`` still names a network namespace (its nsfs bind mount was not removed); ``nsfs_dev``:
    the device of nsfs, when the caller has it already."""
    try:
        dev = os.stat(path).st_dev
        return dev == (nsfs_dev if nsfs_dev is not None else os.stat("/proc/self/ns/net").st_dev)
    except OSError:
        return False


def netns_identity(path: str) -> tuple[int, int]:
    """(device, inode) naming a network namespace, whichever file refers to it.

    A scope in the daemon's own netns (``network_mode: host``) would take the host's 127.0.0.11:53: refused.
    """
    try:
        st, own = os.stat(path), os.stat("/proc/self/ns/net")
    except FileNotFoundError as err:
        raise NotFound(f"network namespace {path} not found") from err
    if (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino):
        raise InvalidArgument("no embedded DNS in the host's network namespace (network_mode: host)")
    return st.st_dev, st.st_ino
