"""Unpack one layer tar (plain, gzip or zstd) into its own directory, ready to be an overlayfs lower dir.

AUFS-style whiteouts become overlayfs whiteouts: ``.wh.x`` -> a 0/0 character device ``x``; ``.wh..wh..opq`` ->
``trusted.overlay.opaque=y`` on the directory. Entries that would land outside the layer directory are refused:
absolute names, ``..`` components, writes through a symlink that leads out, hard links to outside targets.
Ownership, modes (setuid included), xattrs, device nodes, fifos, hard and symbolic links and mtimes are kept.
"""
from __future__ import annotations

import errno
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import zlib

try:  # ISA-L: the same gzip, several times faster on this kind of machine; plain zlib when it is missing
    from isal import isal_zlib as _zlib
except ImportError:  # pragma: no cover - isal is a dependency; kept for odd platforms without its wheel
    _zlib = zlib  # type: ignore[no-redef,misc]
_STREAM_ERRORS: tuple[type[Exception], ...] = (EOFError, gzip.BadGzipFile, lzma.LZMAError, zlib.error,
                                               getattr(_zlib, "error", zlib.error))
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import InvalidArgument
from runtime.images.digest import HashingReader, Reader
from runtime.images.pipe import ChunkPipe, run_two_stages
from runtime.images.tarstream import TarStream
from runtime.linux import start_writeback

__all__ = ["UnpackResult", "unpack_layer", "open_decompressed", "WHITEOUT_PREFIX", "OPAQUE_MARKER",
           "OPAQUE_XATTR"]

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_META_PREFIX = ".wh..wh."
_XATTR_PAX = "SCHILY.xattr."
_UNTRUSTED_XATTRS = ("trusted.overlay.",)
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_BZIP2_MAGIC = b"BZh"
_CHUNK = 1 << 20
_REGULAR = frozenset((tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE))  # sparse ones are refused earlier
_WRITEBACK_MIN = 256 << 10  # files this large start their writeback as soon as they are written
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_HOST_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ENOMEM, errno.EMFILE, errno.ENFILE}


@dataclass(frozen=True)
class UnpackResult:
    diff_id: str  # sha256 of the uncompressed tar stream
    tar_size: int  # bytes of the uncompressed tar stream
    size: int  # sum of regular file sizes (what Docker reports as a layer's size)


class _Prefixed:
    """A reader that first returns ``prefix`` then the rest of ``source`` (to sniff compression magic)."""

    def __init__(self, prefix: bytes, source: Reader) -> None:
        self._prefix = prefix
        self._source = source

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            if size is None or size < 0:
                data, self._prefix = self._prefix + self._source.read(), b""
                return data
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            if len(data) < size:
                data += self._source.read(size - len(data))
            return data
        return self._source.read(size)

    def readable(self) -> bool:
        return True


class _GzipReader:
    """Streaming gzip decompression reading 1 MiB of input at a time (``gzip.GzipFile`` reads 8 KiB, which is
    slow over a network stream); handles multi-member files; raises on truncation or trailing garbage."""

    def __init__(self, source: Reader) -> None:
        self._source = source
        self._inflater = _zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self.read(_CHUNK):
                parts.append(chunk)
            return b"".join(parts)
        while not self._eof:
            if self._pending:
                data = self._inflater.decompress(self._pending, size)
                self._pending = self._inflater.unconsumed_tail
            else:
                compressed = self._source.read(_CHUNK)
                if not compressed:
                    if not self._inflater.eof:
                        raise EOFError("compressed stream ended before the end-of-stream marker")
                    self._eof = True
                    break
                data = self._inflater.decompress(compressed, size)
                self._pending = self._inflater.unconsumed_tail
            if self._inflater.eof:
                rest = self._inflater.unused_data + self._pending
                self._pending = b""
                self._inflater = _zlib.decompressobj(16 + zlib.MAX_WBITS)
                if rest.strip(b"\0"):
                    self._pending = rest  # another gzip member follows
                else:
                    self._drain_padding()
            if data:
                return data
        return b""

    def _drain_padding(self) -> None:
        while chunk := self._source.read(_CHUNK):
            if chunk.strip(b"\0"):
                self._pending = chunk
                return
        self._eof = True

    def readable(self) -> bool:
        return True


def open_decompressed(stream: Reader) -> Reader:
    """Wrap ``stream`` so reads give the uncompressed tar, whatever the compression (none, gzip, zstd; xz and
    bzip2 too, for ``docker import``)."""
    head = b""
    while len(head) < 6:
        more = stream.read(6 - len(head))
        if not more:
            break
        head += more
    source = _Prefixed(head, stream)
    if head.startswith(_GZIP_MAGIC):
        return _GzipReader(source)
    if head.startswith(_ZSTD_MAGIC):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(  # type: ignore[no-any-return]
            source, read_size=_CHUNK, read_across_frames=True)  # type: ignore[arg-type]
    if head.startswith(_XZ_MAGIC):  # accepted by docker import / ADD, never used by registries
        import lzma

        return lzma.LZMAFile(source)  # type: ignore[arg-type]
    if head.startswith(_BZIP2_MAGIC):
        import bz2

        return bz2.BZ2File(source)  # type: ignore[call-overload]
    return source


def unpack_layer(stream: Reader, dest: Path, *, label: str = "layer") -> UnpackResult:
    """Unpack the (possibly compressed) tar ``stream`` into the existing empty directory ``dest``.

    Reads the stream to its end, so a caller's hashing wrapper sees every byte. Raises ``InvalidArgument``
    naming the entry on an unsafe or malformed entry; the caller discards ``dest`` then.

    A compressed stream is decompressed in a thread of its own while this one hashes the tar (the diff id) and
    unpacks it: the two halves cost about the same, and both release the GIL for their heavy parts (inflate;
    sha256 and file writes), so one layer keeps two cores busy.
    """
    source = open_decompressed(stream)
    try:
        if isinstance(source, _Prefixed):  # a plain tar: nothing to overlap
            hashed, unpacker = _unpack(source, dest, label)
        else:
            hashed, unpacker = run_two_stages(lambda pipe: _pump(source, pipe),
                                              lambda pipe: _unpack(pipe, dest, label), name=f"inflate-{label}")
    except tarfile.TarError as err:
        raise InvalidArgument(f"{label}: not a valid tar archive: {err}") from err
    except _STREAM_ERRORS as err:
        raise InvalidArgument(f"{label}: truncated or corrupt archive: {err}") from err
    except Exception as err:
        if type(err).__name__ == "ZstdError":
            raise InvalidArgument(f"{label}: corrupt zstd stream: {err}") from err
        if isinstance(err, OSError) and err.errno is None:  # bz2 "Invalid data stream" and the like
            raise InvalidArgument(f"{label}: corrupt archive: {err}") from err
        raise
    unpacker.finish()
    return UnpackResult(hashed.digest, hashed.count, unpacker.size)


def _pump(source: Reader, pipe: ChunkPipe) -> None:
    while chunk := source.read(_CHUNK):
        pipe.write(chunk)


def _unpack(source: Reader, dest: Path, label: str) -> tuple[HashingReader, _Unpacker]:
    hashed = HashingReader(source)
    reader = TarStream(hashed)
    unpacker = _Unpacker(dest, label, reader)
    for member in reader.members():
        try:
            unpacker.add(member)
        except OSError as err:
            if err.errno in _HOST_ERRNOS:
                raise  # the host's trouble (disk full...), not the archive's
            raise InvalidArgument(f"{label}: entry {member.name!r}: {err.strerror or err}") from err
    hashed.drain()  # tar padding after the end-of-archive blocks counts towards the diff id
    return hashed, unpacker


def _split_name(name: str, label: str) -> list[str]:
    if name.startswith("/"):
        raise InvalidArgument(f"{label}: entry {name!r} has an absolute path; refusing to unpack")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(f"{label}: entry {name!r} escapes the layer ('..'); refusing to unpack")
    return parts


class _Unpacker:
    def __init__(self, dest: Path, label: str, reader: TarStream) -> None:
        self.reader = reader
        self.root = os.path.realpath(dest)
        self.label = label
        self.size = 0
        self._safe_dirs: set[str] = {self.root}
        self._dir_times: list[tuple[str, float]] = []
        self._is_root = os.geteuid() == 0

    def add(self, member: tarfile.TarInfo) -> None:
        parts = _split_name(member.name, self.label)
        if not parts:
            if member.isdir():
                self._set_attrs(self.root, member)
                self._dir_times.append((self.root, member.mtime))
            return
        base = parts[-1]
        parent = self._parent_dir(parts[:-1], member.name)
        if base.startswith(WHITEOUT_PREFIX):
            if base == OPAQUE_MARKER:
                os.setxattr(parent, OPAQUE_XATTR, b"y")
                return
            if base.startswith(_META_PREFIX):
                return  # other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs) has no overlay meaning
            path = f"{parent}/{base[len(WHITEOUT_PREFIX):]}"
            self._clear(path, keep_dir=False)
            os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
            return
        path = f"{parent}/{base}"  # paths here are absolute and never end in "/": no os.path.join needed
        if member.type in _REGULAR:
            self._write_file(member, path)
            return
        if member.isdir():
            self._clear(path, keep_dir=True)
            if not os.path.isdir(path) or os.path.islink(path):
                os.mkdir(path, 0o700)
            self._safe_dirs.add(path)
            self._set_attrs(path, member)
            self._dir_times.append((path, member.mtime))
            return
        self._clear(path, keep_dir=False)
        if member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            self._hardlink(member, path)
            return  # a hard link shares the target's inode: no attributes of its own
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        else:
            raise InvalidArgument(f"{self.label}: entry {member.name!r} has unsupported type {member.type!r}")
        self._set_attrs(path, member)
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)

    def finish(self) -> None:
        for path, mtime in reversed(self._dir_times):
            os.utime(path, (mtime, mtime), follow_symlinks=False)

    def _parent_dir(self, parts: list[str], name: str) -> str:
        path = f"{self.root}/{'/'.join(parts)}" if parts else self.root
        if path in self._safe_dirs:
            return path
        current = self.root
        for part in parts:
            current = os.path.join(current, part)
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                os.mkdir(current, 0o755)
                continue
            if stat.S_ISLNK(st.st_mode):
                resolved = os.path.realpath(current)
                if not self._inside(resolved):
                    raise InvalidArgument(
                        f"{self.label}: entry {name!r} would be written through symlink "
                        f"{os.path.relpath(current, self.root)!r} which points outside the layer; refusing to unpack")
                if not os.path.isdir(resolved):
                    raise InvalidArgument(f"{self.label}: entry {name!r}: parent is not a directory")
                current = resolved
            elif not stat.S_ISDIR(st.st_mode):
                raise InvalidArgument(f"{self.label}: entry {name!r}: parent is not a directory")
        self._safe_dirs.add(path)
        return current

    def _inside(self, resolved: str) -> bool:
        return resolved == self.root or resolved.startswith(self.root + os.sep)

    def _clear(self, path: str, *, keep_dir: bool) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return
            shutil.rmtree(path)
            self._safe_dirs = {self.root}
        else:
            os.unlink(path)
            if stat.S_ISLNK(st.st_mode):
                self._safe_dirs = {self.root}

    def _write_file(self, member: tarfile.TarInfo, path: str) -> None:
        """Create, fill and set up the file through one descriptor (no path lookups after the open)."""
        try:
            fd = os.open(path, _CREATE_FLAGS, 0o600)
        except FileExistsError:  # replaced by a later entry of the same layer
            self._clear(path, keep_dir=False)
            fd = os.open(path, _CREATE_FLAGS, 0o600)
        try:
            self.reader.copy_to(fd, member)
            if member.size >= _WRITEBACK_MIN:
                try:
                    start_writeback(fd)  # the disk starts now, not at the layer's syncfs
                except OSError:
                    pass
            if self._is_root:
                os.fchown(fd, member.uid, member.gid)
            os.fchmod(fd, member.mode & 0o7777)
            if member.pax_headers:
                self._set_xattrs(fd, member)
            os.utime(fd, (member.mtime, member.mtime))
        finally:
            os.close(fd)
        self.size += member.size

    def _hardlink(self, member: tarfile.TarInfo, path: str) -> None:
        parts = _split_name(member.linkname, self.label)
        if not parts:
            raise InvalidArgument(f"{self.label}: hard link {member.name!r} has an empty target")
        target_parent = os.path.realpath(os.path.join(self.root, *parts[:-1]))
        target = os.path.join(target_parent, parts[-1])
        if not self._inside(target_parent):
            raise InvalidArgument(
                f"{self.label}: hard link {member.name!r} -> {member.linkname!r} points outside the layer; "
                "refusing to unpack")
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            raise InvalidArgument(
                f"{self.label}: hard link {member.name!r} -> {member.linkname!r}: target is not in this layer"
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"{self.label}: hard link {member.name!r} points to a directory")
        os.link(target, path, follow_symlinks=False)

    def _set_attrs(self, path: str, member: tarfile.TarInfo) -> None:
        if self._is_root:
            os.lchown(path, member.uid, member.gid)
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)
        self._set_xattrs(path, member)

    def _set_xattrs(self, target: str | int, member: tarfile.TarInfo) -> None:
        for key, value in member.pax_headers.items():
            if not key.startswith(_XATTR_PAX):
                continue
            name = key[len(_XATTR_PAX):]
            if name.startswith(_UNTRUSTED_XATTRS):
                continue
            try:
                if isinstance(target, int):
                    os.setxattr(target, name, value.encode("utf-8", "surrogateescape"))
                else:
                    os.setxattr(target, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
            except OSError as err:
                if err.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise
