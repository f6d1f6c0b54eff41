"""Locking. Leases: blobs and layers being added (not yet referenced by an image record) are pinned so that a garbage
collection running meanwhile (another removal, a failed pull) leaves them alone."""
from __future__ import annotations

import fcntl
import os
import threading
from collections import Counter
from pathlib import Path

__all__ = ["Pins", "Lease", "StoreLock"]


class Pins:
    """A multiset of pinned keys (blob digests, layer chain ids), shared by a store's leases."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, keys: list[str]) -> None:
        with self._lock:
            self._counts.update(keys)

    def remove(self, keys: list[str]) -> None:
        with self._lock:
            self._counts.subtract(keys)
            self._counts = +self._counts  # drop zero counts

    def snapshot(self) -> set[str]:
        with self._lock:
            return set(self._counts)


class Lease:
    def __init__(self, pins: Pins) -> None:
        self._pins = pins
        self._keys: list[str] = []

    def add(self, *keys: str) -> None:
        self._pins.add(list(keys))
        self._keys.extend(keys)

    def release(self) -> None:
        self._pins.remove(self._keys)
        self._keys = []

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class StoreLock:
    """A re-entrant lock that also holds ``flock`` on a file while held, so that several processes (or several
    ``ImageStore`` objects) sharing one root serialise their read-modify-write of records and the index."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def acquire(self) -> None:
        self._lock.acquire()
        if self._depth == 0:
            try:
                fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                self._lock.release()
                raise
            self._fd = fd
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._lock.release()

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
