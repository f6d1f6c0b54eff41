"""Asyncio helpers for the daemon's own unix connections and process waits: connect to a (possibly over-long)
socket path, wait for a process to end through its pidfd."""
from __future__ import annotations

import asyncio
import os
import socket

__all__ = ["connect_unix", "wait_pid"]


async def connect_unix(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to a unix socket whose path may exceed sun_path (through /proc/self/fd of its directory)."""
    if len(path.encode()) < 100:
        return await asyncio.open_unix_connection(path, limit=1 << 20)
    dfd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, f"/proc/self/fd/{dfd}/{os.path.basename(path)}")
        except BaseException:
            sock.close()
            raise
    finally:
        os.close(dfd)
    return await asyncio.open_unix_connection(sock=sock, limit=1 << 20)


async def wait_pid(pid: int) -> None:
    """Until process ``pid`` ends (pidfd readable), or at once when it is gone already."""
    from runtime import linux

    try:
        fd = linux.pidfd_open(pid)
    except OSError:
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def _ready() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, _ready)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)
