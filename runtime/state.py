"""Atomic on-disk JSON records: write to a temp file, fsync, rename over the old one, fsync the directory.

A reader sees either the old record or the new one, never half of either, even across a power cut.
Only the standard library is imported: the container monitor uses this module.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["write_record", "read_record"]


def write_record(path: str | os.PathLike[str], data: Any, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` as JSON, atomically. ``durable=False`` skips the fsyncs (scratch data)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, raw)
        if durable:
            os.fsync(fd)
    finally:
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


def read_record(path: str | os.PathLike[str], default: Any = None) -> Any:
    """The JSON record at ``path``, or ``default`` when there is none."""
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read())
    except FileNotFoundError:
        return default
