"""Atomic on-disk JSON records: write to a temp file, fsync, rename over the old one, fsync the directory.

A reader sees either the old record or the new one, never half of either, even across a power cut.
Only the standard library is imported: the container monitor uses this module.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["write_bytes", "write_record", "read_record"]


def write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o600, durable: bool = True) -> None:
    """Replace ``path`` with ``data``, atomically: temp file beside it, fsync, rename, fsync the directory.
    ``durable=False`` skips the fsyncs (scratch data: still atomic, not crash-proof)."""
    path = Path(path)
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


def write_record(path: str | os.PathLike[str], data: Any, *, durable: bool = True, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically (see ``write_bytes``)."""
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    write_bytes(path, raw, mode=mode, durable=durable)


def read_record(path: str | os.PathLike[str], default: Any = None) -> Any:
    """The JSON record at ``path``, or ``default`` when there is none."""
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read())
    except FileNotFoundError:
        return default
