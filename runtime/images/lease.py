"""Leases: blobs and layers being added (not yet referenced by an image record) are pinned so that a garbage
collection running meanwhile (another removal, a failed pull) leaves them alone."""
from __future__ import annotations

import threading
from collections import Counter

__all__ = ["Pins", "Lease"]


class Pins:
    """A multiset of pinned keys (blob digests, layer chain ids), shared by a store's leases."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
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
