"""The repositories index: full reference (``docker.io/library/busybox:latest`` or ``...@sha256:<manifest>``)
-> image id, in ``<root>/repositories.json``, rewritten atomically on every change."""
from __future__ import annotations

import os
import threading
from pathlib import Path

from runtime.images._atomic import read_json, write_json_atomic

__all__ = ["TagIndex"]


class TagIndex:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._refs: dict[str, str] = {}
        self._stamp: tuple[int, int] | None = None
        self._reload()

    def _reload(self) -> None:
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            self._refs, self._stamp = {}, None
            return
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp != self._stamp:
            self._refs = dict((read_json(self._path, {}) or {}).get("refs", {}))
            self._stamp = stamp

    def _save(self) -> None:
        write_json_atomic(self._path, {"refs": self._refs})
        st = os.stat(self._path)
        self._stamp = (st.st_mtime_ns, st.st_ino)

    def get(self, ref: str) -> str | None:
        with self._lock:
            self._reload()
            return self._refs.get(ref)

    def items(self) -> list[tuple[str, str]]:
        with self._lock:
            self._reload()
            return list(self._refs.items())

    def refs_of(self, image_id: str) -> list[str]:
        return sorted(r for r, i in self.items() if i == image_id)

    def set(self, ref: str, image_id: str) -> str | None:
        """Point ``ref`` at ``image_id``; returns the image id it pointed at before (or None)."""
        with self._lock:
            self._reload()
            old = self._refs.get(ref)
            if old != image_id:
                self._refs[ref] = image_id
                self._save()
            return old

    def delete(self, ref: str) -> bool:
        with self._lock:
            self._reload()
            if self._refs.pop(ref, None) is None:
                return False
            self._save()
            return True

    def delete_image(self, image_id: str) -> list[str]:
        with self._lock:
            self._reload()
            gone = sorted(r for r, i in self._refs.items() if i == image_id)
            for r in gone:
                del self._refs[r]
            if gone:
                self._save()
            return gone
