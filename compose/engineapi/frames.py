"""Docker's multiplexed stream framing (``application/vnd.docker.multiplexed-stream``): an 8-byte head (stream
kind, 3 zero bytes, big-endian payload size) before each payload; 1 is stdout, 2 stderr."""
from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

__all__ = ["STDOUT", "STDERR", "demux"]

STDOUT = 1
STDERR = 2
_HEAD = struct.Struct(">BxxxL")


def demux(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """``(kind, payload)`` for each frame in a stream cut anywhere into ``chunks``; a torn last frame is dropped."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        start = 0
        while len(buf) - start >= 8:
            kind, size = _HEAD.unpack_from(buf, start)
            if len(buf) - start - 8 < size:
                break
            yield kind, buf[start + 8:start + 8 + size]
            start += 8 + size
        buf = buf[start:]
