"""Content-addressed blobs under ``<root>/blobs/sha256/<hex>``, as in an OCI image layout.

A blob is only ever visible complete and verified: ingestion writes a temporary file in ``<root>/ingest``,
hashes while writing, and renames into place only when the digest matches. It is on disk (``fsync``) before it is
published; its writeback is started every few MiB while it arrives, so the disk works during the download and the
final ``fsync`` finds little left.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from runtime.errors import InvalidArgument, NotFound
from runtime.images.digest import digest_hex
from runtime.linux import start_writeback

__all__ = ["BlobStore", "BlobWriter", "DigestMismatch"]

_WRITEBACK_EVERY = 8 << 20  # bytes written between two starts of writeback


class DigestMismatch(InvalidArgument):
    """Content did not hash to the digest it was announced with."""


class BlobWriter:
    """Write a blob by chunks; ``commit()`` verifies the digest and publishes it. Use as a context manager."""

    def __init__(self, store: BlobStore, expected: str | None, label: str) -> None:
        self._store = store
        self._expected = expected
        self._label = label
        store.ingest_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=store.ingest_dir, prefix=f"blob-{os.getpid()}-")
        self._file = os.fdopen(fd, "wb")
        self._tmp = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0
        self._written_back = 0  # writeback started up to here

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        written = self._file.write(data)
        if self.size - self._written_back >= _WRITEBACK_EVERY:
            self._file.flush()
            try:
                start_writeback(self._file.fileno(), self._written_back, self.size - self._written_back)
            except OSError:
                pass  # only a head start for the fsync in commit(); a file system without it loses nothing
            self._written_back = self.size
        return written

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def commit(self, pin: Callable[[str], None] | None = None) -> str:
        """Verify and publish; ``pin(digest)`` runs just before the blob becomes visible (see ``Lease``)."""
        digest = self.digest
        if self._expected is not None and digest != self._expected:
            self.abort()
            raise DigestMismatch(
                f"{self._label}: digest mismatch: expected {self._expected}, got {digest} "
                f"({self.size} bytes); the content is corrupt and was discarded")
        self._file.flush()
        os.fsync(self._file.fileno())
        # kept for push/save, rarely read soon: its now clean pages need not crowd the page cache
        os.posix_fadvise(self._file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        self._file.close()
        target = self._store.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self._tmp, 0o644)
        if pin is not None:
            pin(digest)
        os.rename(self._tmp, target)
        return digest

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None or not self._file.closed:
            self.abort()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blob_dir = root / "blobs" / "sha256"
        self.ingest_dir = root / "ingest"
        self.blob_dir.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.blob_dir / digest_hex(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as fh:
            return fh.read()

    def writer(self, expected: str | None = None, label: str = "blob") -> BlobWriter:
        return BlobWriter(self, expected, label)

    def put(self, data: bytes, expected: str | None = None, label: str = "blob",
            pin: Callable[[str], None] | None = None) -> str:
        with self.writer(expected, label) as w:
            w.write(data)
            return w.commit(pin)

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def cleanup_ingest(self, alive: Callable[[str], bool]) -> None:
        """Remove partial blobs left by processes that died (``alive(name)`` tells from the file name)."""
        if not self.ingest_dir.is_dir():
            return
        for entry in os.scandir(self.ingest_dir):
            if not alive(entry.name):
                Path(entry.path).unlink(missing_ok=True)

    def digests(self) -> Iterator[str]:
        for entry in os.scandir(self.blob_dir):
            if len(entry.name) == 64:
                yield "sha256:" + entry.name
