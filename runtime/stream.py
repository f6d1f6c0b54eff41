"""Docker's stdout/stderr multiplexing: each frame is an 8-byte header (stream id, 3 zero bytes, big-endian
length) followed by the payload. Stream ids: 0 stdin, 1 stdout, 2 stderr, 3 system error. The one codec of the
engine: the monitor frames a process's output with it, the daemon its logs and errors, the exec service reads it."""
from __future__ import annotations

import struct
from collections.abc import Iterator

__all__ = ["STDIN", "STDOUT", "STDERR", "SYSTEM", "frame", "Demuxer"]

STDIN, STDOUT, STDERR, SYSTEM = 0, 1, 2, 3
_HEADER = struct.Struct(">BxxxL")


def frame(stream: int, payload: bytes) -> bytes:
    return _HEADER.pack(stream, len(payload)) + payload


class Demuxer:
    """Feed bytes as they arrive; iterate complete ``(stream, payload)`` frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        self._buf += data
        while len(self._buf) >= _HEADER.size:
            stream, length = _HEADER.unpack_from(self._buf)
            if len(self._buf) < _HEADER.size + length:
                return
            payload = bytes(self._buf[_HEADER.size:_HEADER.size + length])
            del self._buf[:_HEADER.size + length]
            yield stream, payload

    @property
    def pending(self) -> int:
        return len(self._buf)
