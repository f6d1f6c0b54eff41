"""Content digests (``sha256:<hex>``), chain ids, and readers that hash what passes through them."""
from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Protocol

__all__ = ["sha256_digest", "chain_ids", "HashingReader", "TeeReader", "short_id", "digest_hex", "check_digest", "Reader",
           "Writer"]


class Reader(Protocol):
    """What the layer pipeline reads from: a file, a socket's body, a decompressor."""

    def read(self, size: int = -1, /) -> bytes: ...


class Writer(Protocol):
    def write(self, data: bytes, /) -> int: ...

from runtime.errors import InvalidArgument

_ALGO = "sha256:"


def sha256_digest(data: bytes) -> str:
    return _ALGO + hashlib.sha256(data).hexdigest()


def digest_hex(digest: str) -> str:
    """``sha256:<hex>`` -> ``<hex>``; refuses anything else (it becomes a file name)."""
    if not digest.startswith(_ALGO):
        raise InvalidArgument(f"unsupported digest algorithm: {digest!r}")
    hexpart = digest[len(_ALGO):]
    if len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise InvalidArgument(f"invalid digest: {digest!r}")
    return hexpart


def check_digest(digest: str) -> str:
    digest_hex(digest)
    return digest


def short_id(digest: str) -> str:
    """The 12-hex short form Docker prints."""
    return digest.split(":", 1)[-1][:12]


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    """OCI ChainID: ``chain[0] = diff[0]``; ``chain[n] = sha256(chain[n-1] + " " + diff[n])``."""
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else sha256_digest(f"{out[-1]} {diff_id}".encode()))
    return out


class HashingReader:
    """A read-only file object that hashes (and optionally copies to ``sink``) every byte read through it."""

    def __init__(self, source: Reader, sink: Writer | None = None,
                 on_read: Callable[[int], None] | None = None) -> None:
        self._source = source
        self._sink = sink
        self._on_read = on_read
        self._hash = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        if data:
            self._hash.update(data)
            self.count += len(data)
            if self._sink is not None:
                self._sink.write(data)
            if self._on_read is not None:
                self._on_read(len(data))
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self, chunk: int = 1 << 20) -> None:
        while self.read(chunk):
            pass

    def readable(self) -> bool:
        return True

    @property
    def digest(self) -> str:
        return _ALGO + self._hash.hexdigest()


class TeeReader:
    """A reader that copies every byte read into ``sink`` (e.g. a ``BlobWriter``, which hashes it itself: one sha256
    pass, not two)."""

    def __init__(self, source: Reader, sink: Writer) -> None:
        self._source, self._sink = source, sink

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        if data:
            self._sink.write(data)
        return data

    def readable(self) -> bool:
        return True
