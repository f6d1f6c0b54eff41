"""Docker's json-file log driver: one ``{"log","stream","time"}`` object per line, rotated at ``max_size``."""
from __future__ import annotations

import json
import os
import time

from runtime.timestamps import rfc3339nano  # (re-exported: the log's "time" format)

__all__ = ["JsonLog", "rfc3339nano", "MAX_LINE"]

MAX_LINE = 16 * 1024  # Docker splits longer lines into partial messages


class JsonLog:
    """Lines per stream; the partial last line is written at ``close`` (or once it reaches ``MAX_LINE``)."""

    def __init__(self, path: str, max_size: int = 0, max_file: int = 1) -> None:
        self.path, self.max_size, self.max_file = path, max_size, max(1, max_file)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._size = os.fstat(self._fd).st_size
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def _emit(self, stream: str, data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        rec = json.dumps({"log": text, "stream": stream, "time": rfc3339nano(time.time_ns())},
                         ensure_ascii=False, separators=(",", ":"))
        raw = (rec.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n").encode()
        if self.max_size and self._size + len(raw) > self.max_size and self._size > 0:
            self._rotate()
        os.write(self._fd, raw)
        self._size += len(raw)

    def _rotate(self) -> None:
        os.close(self._fd)
        if self.max_file > 1:
            for n in range(self.max_file - 1, 0, -1):
                src = self.path if n == 1 else f"{self.path}.{n - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{n}")
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o640)
        self._size = 0

    def write(self, stream: str, data: bytes) -> None:
        buf = self._partial[stream] + data
        while True:  # whole lines, none longer than MAX_LINE: however the bytes arrived, the same records
            cut = buf.find(b"\n", 0, MAX_LINE)
            if cut >= 0:
                self._emit(stream, buf[: cut + 1])
                buf = buf[cut + 1:]
            elif len(buf) >= MAX_LINE:
                self._emit(stream, buf[:MAX_LINE])
                buf = buf[MAX_LINE:]
            else:
                break
        self._partial[stream] = buf

    def close(self) -> None:
        for stream, rest in self._partial.items():
            if rest:
                self._emit(stream, rest)
        os.close(self._fd)
