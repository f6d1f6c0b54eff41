"""Deletes removed containers' directories on a thread of its own: unlinks wait on the disk's journal, and the
caller (``remove``) has nothing to wait for once the directory is renamed out of the way."""
from __future__ import annotations

import queue
import shutil
import threading
from pathlib import Path

__all__ = ["Cleaner"]


class Cleaner:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def submit(self, path: Path) -> None:
        with self._guard:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="container-cleaner", daemon=True)
                self._thread.start()
        self._queue.put(path)

    def _run(self) -> None:
        while True:
            path = self._queue.get()
            if path is None:
                return
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        """Finish every queued deletion."""
        with self._guard:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()
