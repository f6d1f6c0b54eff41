"""File-system events with inotify (ctypes over libc; no polling, no extra dependency): every directory under the
watched roots is watched, directories created later are added on the fly (and files already in them reported),
and bursts come out as batches once the stream has been quiet for a moment (``rules.Batcher``)."""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import select
import struct
import time
from pathlib import Path
from typing import Iterable, Iterator

from compose.watch.rules import Batcher

__all__ = ["Watcher"]

_IN_MODIFY = 0x002
_IN_ATTRIB = 0x004
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_FROM = 0x040
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_IN_ISDIR = 0x40000000
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_MASK = (_IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
         | _IN_DELETE_SELF | _IN_MOVE_SELF)
_HEADER = struct.Struct("iIII")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
_libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]


class Watcher:
    """Recursive inotify watch of ``roots`` (directories or single files); ``batches()`` yields lists of changed
    paths. ``close()`` (or the context manager) releases the inotify fd; ``stop()`` from another thread ends
    ``batches()`` through a pipe."""

    def __init__(self, roots: Iterable[Path], quiet: float = 0.5) -> None:
        self.fd = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if self.fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._dirs: dict[int, Path] = {}
        self.batcher = Batcher(quiet=quiet)
        for root in roots:
            root = Path(root)
            if root.is_dir():
                self._add_tree(root, report=False)
            else:  # a single file: its directory is watched, the rules keep only the file's own events
                self._add(root.parent)

    def _add(self, directory: Path) -> bool:
        wd = _libc.inotify_add_watch(self.fd, os.fsencode(directory), _MASK)
        if wd < 0:
            err = ctypes.get_errno()
            if err in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
                return False
            raise OSError(err, f"inotify_add_watch {directory}: {os.strerror(err)}")
        self._dirs[wd] = directory
        return True

    def _add_tree(self, top: Path, report: bool) -> None:
        """Watch ``top`` and every directory under it; with ``report``, every file found is a change (a
        directory moved or created with content before its watch existed)."""
        if not self._add(top):
            return
        now = time.monotonic()
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames:
                self._add(Path(dirpath, name))
                if report:
                    self.batcher.add(Path(dirpath, name), now)
            if report:
                for name in filenames:
                    self.batcher.add(Path(dirpath, name), now)

    def _forget(self, top: Path) -> None:
        for wd, directory in list(self._dirs.items()):
            if directory == top or directory.is_relative_to(top):
                _libc.inotify_rm_watch(self.fd, wd)
                self._dirs.pop(wd, None)

    def _drain(self) -> None:
        now = time.monotonic()
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, size = _HEADER.unpack_from(data, offset)
                raw = data[offset + _HEADER.size:offset + _HEADER.size + size].rstrip(b"\0")
                offset += _HEADER.size + size
                if mask & _IN_Q_OVERFLOW:  # events lost: report every root so the rules resync
                    for known in list(self._dirs.values()):
                        self.batcher.add(known, now)
                    continue
                directory = self._dirs.get(wd)
                if mask & _IN_IGNORED:
                    self._dirs.pop(wd, None)
                    continue
                if directory is None:
                    continue
                path = directory / os.fsdecode(raw) if raw else directory
                if mask & _IN_ISDIR and mask & (_IN_CREATE | _IN_MOVED_TO):
                    self._add_tree(path, report=True)
                elif mask & _IN_ISDIR and mask & _IN_MOVED_FROM:
                    self._forget(path)  # moved away: its watches would report under a stale name
                self.batcher.add(path, now)

    def batches(self) -> Iterator[list[Path]]:
        """Changed paths, one list per quiet-separated burst, until ``stop()``."""
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        while True:
            due = self.batcher.due()
            timeout = None if due is None else max(0, int((due - time.monotonic()) * 1000) + 1)
            ready = {fd for fd, _ in poller.poll(timeout)}
            if self._stop_r in ready:
                return
            if self.fd in ready:
                self._drain()
            batch = self.batcher.take(time.monotonic())
            if batch:
                yield batch

    def stop(self) -> None:
        try:
            os.write(self._stop_w, b"x")
        except OSError:
            pass

    def close(self) -> None:
        for fd in (self.fd, self._stop_r, self._stop_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> "Watcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
