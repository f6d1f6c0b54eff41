"""Docker's multiplexed stream framing (``application/vnd.docker.multiplexed-stream``): an 8-byte head (stream
kind, 3 zero bytes, big-endian payload size) before each payload; 1 is stdout, 2 stderr."""
from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

__all__ = ["STDOUT", "STDERR", "split_frames", "demux"]

STDOUT = 1
STDERR = 2
_HEAD = struct.Struct(">BxxxL")


def split_frames(buf: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The complete ``(kind, payload)`` frames at the start of ``buf``, and the bytes of a frame not yet whole."""
    frames = []
    start = 0
    while len(buf) - start >= 8:
        kind, size = _HEAD.unpack_from(buf, start)
        if len(buf) - start - 8 < size:
            break
        frames.append((kind, buf[start + 8:start + 8 + size]))
        start += 8 + size
    return frames, buf[start:]


def demux(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """``(kind, payload)`` for each frame in a stream cut anywhere into ``chunks``; a torn last frame is dropped."""
    buf = b""
    for chunk in chunks:
        frames, buf = split_frames(buf + chunk)
        yield from frames
