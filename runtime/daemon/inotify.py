"""A minimal inotify watch on asyncio (ctypes): wait until a file or directory changes, without polling."""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os

__all__ = ["Watch", "IN_MODIFY", "IN_CLOSE_WRITE", "IN_CREATE", "IN_MOVED_TO", "IN_DELETE_SELF", "IN_ATTRIB"]

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE_SELF = 0x400
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class Watch:
    """``async with Watch([paths], mask) as w: await w.changed()``: returns after the next event."""

    def __init__(self, paths: list[str], mask: int = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) -> None:
        self._paths = paths
        self._mask = mask
        self._fd = -1
        self._event = asyncio.Event()

    async def __aenter__(self) -> Watch:
        fd = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self._fd = fd
        for path in self._paths:
            if _libc.inotify_add_watch(fd, os.fsencode(path), self._mask) < 0:
                err = ctypes.get_errno()
                os.close(fd)
                raise OSError(err, f"inotify_add_watch {path}: {os.strerror(err)}")
        asyncio.get_running_loop().add_reader(fd, self._readable)
        return self

    def _readable(self) -> None:
        try:
            while os.read(self._fd, 65536):
                pass
        except BlockingIOError:
            pass
        self._event.set()

    async def changed(self) -> None:
        await self._event.wait()
        self._event.clear()

    async def __aexit__(self, *exc: object) -> None:
        if self._fd >= 0:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
