"""Atomic file writes for the image store, on top of ``runtime.state`` (temp file, fsync, rename, fsync dir)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runtime.state import read_record, write_bytes

__all__ = ["write_bytes_atomic", "write_json_atomic", "read_json"]


def write_bytes_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, data, mode=mode)


def write_json_atomic(path: Path, value: Any, mode: int = 0o644) -> None:
    write_bytes_atomic(path, json.dumps(value, indent=1, sort_keys=True).encode(), mode)


def read_json(path: Path, default: Any = None) -> Any:
    return read_record(path, default)
