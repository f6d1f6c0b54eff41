"""Atomic on-disk JSON records: write to a temp file, fsync, rename over the old one, fsync the directory.

A reader sees either the old record or the new one, never half of either, even across a power cut.
Only the standard library is imported: the container monitor uses this module.

Records written often and not fsynced (``durable=False``) may also ``recycle`` their files: a record removed with
``remove_record(recycle=True)`` is renamed to a hidden spare (``.spare-<hex>``, no ``.json`` suffix) in its
directory instead of unlinked, a write fills a spare and renames it into place, and a rewrite swaps the spare with
the old record (``renameat2(RENAME_EXCHANGE)``), which becomes the next spare; a spare's content is overwritten
with zeros (a removed container's record, its environment included, does not stay on disk). In a directory of such records no
inode is allocated or freed once it holds a few spares: on ext4 without a journal each new inode scans past every
inode freed in its block group within the last 60 s (``recently_deleted``), about 0.1-0.6 ms of system time a file
in a directory with churn, and a rename over an old file flushes the new one's data (``auto_da_alloc``).
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import secrets
import threading
from pathlib import Path
from typing import Any

__all__ = ["write_bytes", "write_record", "read_record", "remove_record", "forget_spares", "claim_mountpoint"]

_SPARE_PREFIX = ".spare-"
_SPARES_KEPT = 32  # per directory
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


class _Spares:
    """The spare files of each directory used with ``recycle`` (found there on first use: a previous process's
    count too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_dir: dict[str, list[str]] = {}

    def _known(self, folder: str) -> list[str]:
        spares = self._by_dir.get(folder)
        if spares is None:
            try:
                names = [n for n in os.listdir(folder) if n.startswith(_SPARE_PREFIX)]
            except FileNotFoundError:
                names = []
            spares = self._by_dir[folder] = [os.path.join(folder, n) for n in names]
        return spares

    def take(self, folder: str) -> str | None:
        with self._lock:
            spares = self._known(folder)
            return spares.pop() if spares else None

    def give(self, folder: str, path: str) -> None:
        _scrub(path)  # a removed (or replaced) record's content does not outlive it in a spare
        with self._lock:
            spares = self._known(folder)
            if len(spares) < _SPARES_KEPT:
                spares.append(path)
                return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def forget(self, folder: str) -> None:
        with self._lock:
            self._by_dir.pop(folder, None)


def _scrub(path: str) -> None:
    """Overwrite the file's content with zeros, its size kept (truncating it to 0 would make ext4 flush the next
    write's data at close, ``auto_da_alloc``)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        if size:
            os.pwrite(fd, bytes(size), 0)
    finally:
        os.close(fd)


_SPARES = _Spares()
_renameat2: Any = None


def _exchange(a: str, b: str) -> bool:
    """Swap the files at ``a`` and ``b`` atomically; False when ``b`` does not exist or the file system (or libc)
    cannot swap."""
    global _renameat2
    if _renameat2 is None:
        try:
            fn = ctypes.CDLL(None, use_errno=True).renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _renameat2 = fn
        except (AttributeError, OSError):
            _renameat2 = False
    if _renameat2 is False:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOENT, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), b)


def _write_recycled(path: Path, data: bytes, mode: int) -> None:
    folder = str(path.parent)
    spare = _SPARES.take(folder)
    if spare is None:
        spare = os.path.join(folder, f"{_SPARE_PREFIX}{secrets.token_hex(6)}")
    # no O_TRUNC: truncating a file to 0 makes ext4 flush its new data at close (auto_da_alloc); cut it after
    fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        offset = 0
        while offset < len(data):
            offset += os.pwrite(fd, view[offset:], offset)
        os.ftruncate(fd, len(data))
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spare)
        raise
    os.close(fd)
    try:
        if _exchange(spare, str(path)):
            _SPARES.give(folder, spare)  # the old record's inode, for the next write
        else:
            os.rename(spare, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spare)
        raise


def remove_record(path: str | os.PathLike[str], *, recycle: bool = False) -> None:
    """Remove the record at ``path`` (missing is fine). ``recycle``: keep its file as a spare for the next
    write in that directory (see the module's text)."""
    path = Path(path)
    if not recycle:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    folder = str(path.parent)
    spare = os.path.join(folder, f"{_SPARE_PREFIX}{secrets.token_hex(6)}")
    try:
        os.rename(path, spare)
    except FileNotFoundError:
        return
    _SPARES.give(folder, spare)


def claim_mountpoint(path: str | os.PathLike[str], *, mode: int = 0o444) -> None:
    """A file at ``path`` to mount onto (one already there is kept), taken from the directory's spares when it has
    one (``remove_record(recycle=True)`` after the unmount gives it back): its content is not cleared."""
    path = Path(path)
    if os.path.lexists(path):
        return
    spare = _SPARES.take(str(path.parent))
    if spare is not None:
        try:
            os.rename(spare, path)
            return
        except FileNotFoundError:
            pass
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, mode))


def forget_spares(folder: str | os.PathLike[str]) -> None:
    """A directory used with ``recycle`` is being removed as a whole: forget its spares."""
    _SPARES.forget(str(folder))


def write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o600, durable: bool = True,
                recycle: bool = False) -> None:
    """Replace ``path`` with ``data``, atomically: temp file beside it, fsync, rename, fsync the directory.
    ``durable=False`` skips the fsyncs (scratch data: still atomic, not crash-proof); with it, ``recycle`` takes
    the temp file from the directory's spares and keeps the replaced file as one (see the module's text)."""
    path = Path(path)
    if recycle and not durable:
        _write_recycled(path, data, mode)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    if durable:
        dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def write_record(path: str | os.PathLike[str], data: Any, *, durable: bool = True, mode: int = 0o600,
                 recycle: bool = False) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically (see ``write_bytes``)."""
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    write_bytes(path, raw, mode=mode, durable=durable, recycle=recycle)


def read_record(path: str | os.PathLike[str], default: Any = None) -> Any:
    """The JSON record at ``path``, or ``default`` when there is none."""
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read())
    except FileNotFoundError:
        return default
