"""A forward-only tar reader for layer unpacking, faster than ``tarfile``'s stream mode.

``tarfile.open(mode="r|")`` keeps a buffer that it re-slices on every read: each 512-byte header read copies the
rest of the buffer, so layers of many small files cost milliseconds per entry. Here reads come from a buffer
consumed by offset, and file content goes from the decompressor's chunks straight to the output file descriptor
(``os.write`` of memoryview slices, no copy in Python).

Headers: the plain ustar/GNU/V7 header of a file, directory, link, device or fifo (nearly every member of a layer)
is parsed here in a few microseconds (``tarfile.TarInfo.frombuf`` takes ~20); its checksum is verified exactly,
with ``zlib.adler32`` standing in for the byte sum when the header is ASCII (the sum is then below adler's
modulus). Everything else - PAX records, GNU long names and links, global headers, unknown types, a checksum
that only matches as signed bytes, a malformed field - goes to ``tarfile.TarInfo.fromtarfile`` unchanged, so the
rare cases keep tarfile's tested semantics and its error messages. The ustar ``prefix`` field is only read from
POSIX ustar headers (GNU headers keep atime/ctime there), as Go's ``archive/tar`` does.

Sparse members are refused (no layer writer produces them). Header errors raise ``tarfile.TarError`` subclasses.
"""
from __future__ import annotations

import os
import tarfile
import zlib
from typing import Iterator

from runtime.images.digest import Reader

__all__ = ["TarStream"]

_CHUNK = 1 << 20
# tarfile's header errors (undocumented names, present in every Python 3; not in typeshed)
_EOF_HEADER: type[Exception] = getattr(tarfile, "EOFHeaderError")  # the end-of-archive zero block
_EMPTY_HEADER: type[Exception] = getattr(tarfile, "EmptyHeaderError")  # the stream ended at a header
_TRUNCATED_HEADER: type[Exception] = getattr(tarfile, "TruncatedHeaderError")
_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)
_BUILTIN_TYPES = frozenset(b"01234567\0")  # regular, hard link, symlink, char, block, directory, fifo, contiguous
_POSIX_MAGIC = b"ustar\0"  # GNU headers have b"ustar " and no prefix field


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
            start = self.tell()
            header = self.read(_BLOCK)
            if len(header) == _BLOCK:
                if header == _ZERO_BLOCK:
                    return  # the end-of-archive zero blocks
                fast = None if self.pax_headers else _parse_header(header, start)
                if fast is not None:
                    self.offset = fast.offset_data + (-(-fast.size // _BLOCK) * _BLOCK if fast.isreg() else 0)
                    yield fast
                    continue
            self._unread(header, start)
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
    def _unread(self, data: bytes, start: int) -> None:
        """Go back to ``start`` (``data`` being what was read since)."""
        if self._pos >= len(data) and self._done + self._pos - len(data) == start:
            self._pos -= len(data)  # still in the buffer: just step back
        else:  # the read crossed a chunk boundary: put the bytes back in front of the rest
            self._buf, self._pos, self._done = data + self._buf[self._pos:], 0, start

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


def _number(field: bytes) -> int:
    """A numeric header field: octal digits (NUL or space terminated) or GNU base-256."""
    if field[0] == 0o200:
        return int.from_bytes(field[1:], "big")
    if field[0] == 0o377:
        return int.from_bytes(field[1:], "big") - (1 << (8 * (len(field) - 1)))
    return int(field.split(b"\0", 1)[0].strip() or b"0", 8)


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _parse_header(header: bytes, offset: int) -> tarfile.TarInfo | None:
    """The member of a plain header (no PAX or GNU extension before it), or None to leave it to ``tarfile``."""
    kind = header[156]
    if kind not in _BUILTIN_TYPES:
        return None
    try:
        chksum = _number(header[148:156])
        if header.isascii():  # byte sum < 512 * 128 < 65521: adler32's low half is 1 + the sum
            total = ((zlib.adler32(header) & 0xFFFF) - 1) % 65521
        else:
            total = sum(header)
        if chksum != total - sum(header[148:156]) + 256:
            return None  # perhaps a signed-byte checksum; tarfile checks and words the error
        info = tarfile.TarInfo(_text(header[0:100]))
        info.mode = _number(header[100:108])
        info.uid = _number(header[108:116])
        info.gid = _number(header[116:124])
        info.size = _number(header[124:136])
        info.mtime = _number(header[136:148])
        info.devmajor = _number(header[329:337])
        info.devminor = _number(header[337:345])
    except ValueError:
        return None
    info.chksum = chksum
    info.type = header[156:157]
    info.linkname = _text(header[157:257])
    info.uname = _text(header[265:297])
    info.gname = _text(header[297:329])
    if kind == 0 and info.name.endswith("/"):  # old V7 tar: a directory is a regular file named with a slash
        info.type = tarfile.DIRTYPE
    if header[257:263] == _POSIX_MAGIC and header[345] != 0:
        info.name = _text(header[345:500]) + "/" + info.name
    if info.type == tarfile.DIRTYPE:
        info.name = info.name.rstrip("/")
    info.offset = offset
    info.offset_data = offset + _BLOCK
    return info
