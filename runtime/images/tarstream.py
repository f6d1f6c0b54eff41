"""A forward-only tar reader for layer unpacking, faster than ``tarfile``'s stream mode.

``tarfile.open(mode="r|")`` keeps a buffer that it re-slices on every read: each 512-byte header read copies the
rest of the buffer, so layers of many small files cost milliseconds per entry. Here headers are still parsed by
``tarfile.TarInfo.fromtarfile`` (ustar, GNU long names and links, PAX records, base-256 numbers, checksums), but
reads come from a buffer consumed by offset, and file content goes from the decompressor's chunks straight to the
output file descriptor (``os.write`` of memoryview slices, no copy in Python).

Sparse members are refused (no layer writer produces them). Header errors raise ``tarfile.TarError`` subclasses.
"""
from __future__ import annotations

import os
import tarfile
from typing import Iterator

from runtime.images.digest import Reader

__all__ = ["TarStream"]

_CHUNK = 1 << 20
# tarfile's header errors (undocumented names, present in every Python 3; not in typeshed)
_EOF_HEADER: type[Exception] = getattr(tarfile, "EOFHeaderError")  # the end-of-archive zero block
_EMPTY_HEADER: type[Exception] = getattr(tarfile, "EmptyHeaderError")  # the stream ended at a header
_TRUNCATED_HEADER: type[Exception] = getattr(tarfile, "TruncatedHeaderError")


class TarStream:
    """Members of the (uncompressed) tar in ``source``, in order; ``copy_to`` writes the current member's data."""

    encoding = "utf-8"
    errors = "surrogateescape"

    def __init__(self, source: Reader) -> None:
        self._source = source
        self._buf = b""
        self._pos = 0  # next unread byte of _buf
        self._done = 0  # bytes consumed before _buf
        self.offset = 0  # where the next header starts (set by TarInfo.fromtarfile)
        self.pax_headers: dict[str, str] = {}  # global PAX headers (updated by fromtarfile)
        self.fileobj = self  # what TarInfo.fromtarfile reads headers from

    # ---- the file-like face TarInfo.fromtarfile uses -----------------------------------------------------------
    def tell(self) -> int:
        return self._done + self._pos

    def read(self, size: int) -> bytes:
        """Exactly ``size`` bytes, fewer only at the end of the stream."""
        end = self._pos + size
        if end <= len(self._buf):
            data = self._buf[self._pos:end]
            self._pos = end
            return data
        parts = [self._buf[self._pos:]]
        need = size - len(parts[0])
        while need > 0:
            self._consume_all()
            if not self._fill():
                break
            take = self._buf[:need]
            parts.append(take)
            need -= len(take)
            self._pos = len(take)
        return b"".join(parts)

    # ---- members ------------------------------------------------------------------------------------------------
    def members(self) -> Iterator[tarfile.TarInfo]:
        """Each member in turn; the caller may ``copy_to`` its data before asking for the next one."""
        while True:
            self._skip(self.offset - self.tell())
            try:
                member = tarfile.TarInfo.fromtarfile(self)  # type: ignore[arg-type]
            except _EOF_HEADER:
                return  # the end-of-archive zero blocks
            except _EMPTY_HEADER:
                if self.tell() == 0:
                    raise tarfile.ReadError("empty file") from None
                return  # no end-of-archive marker: Docker accepts that too
            except _TRUNCATED_HEADER as err:
                raise tarfile.ReadError(f"unexpected end of data: {err}") from None
            except tarfile.HeaderError as err:
                raise tarfile.ReadError(str(err)) from None
            if member.issparse():
                raise tarfile.ReadError(f"{member.name!r} is a sparse file; sparse tar members are not supported")
            yield member

    def copy_to(self, fd: int, member: tarfile.TarInfo) -> None:
        """Write ``member``'s data (the reader must be at its start) to ``fd``."""
        if self.tell() != member.offset_data:
            raise tarfile.ReadError(f"{member.name!r}: data already consumed")
        remaining = member.size
        while remaining:
            if self._pos >= len(self._buf):
                self._consume_all()
                if not self._fill():
                    raise tarfile.ReadError(f"unexpected end of data in {member.name!r}")
            end = min(len(self._buf), self._pos + remaining)
            view = memoryview(self._buf)[self._pos:end]
            while view:
                written = os.write(fd, view)
                view = view[written:]
            remaining -= end - self._pos
            self._pos = end

    # ---- buffer -------------------------------------------------------------------------------------------------
    def _consume_all(self) -> None:
        self._done += len(self._buf)
        self._buf, self._pos = b"", 0

    def _fill(self) -> bool:
        chunk = self._source.read(_CHUNK)
        if not chunk:
            return False
        self._buf, self._pos = bytes(chunk), 0
        return True

    def _skip(self, count: int) -> None:
        if count < 0:
            raise tarfile.ReadError("tar member data overlaps the next header")
        while count:
            left = len(self._buf) - self._pos
            if left >= count:
                self._pos += count
                return
            count -= left
            self._consume_all()
            if not self._fill():
                raise tarfile.ReadError("unexpected end of data")
