"""Atomic JSON records of the network service, on top of ``runtime.state``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runtime.state import read_record, write_bytes

__all__ = ["atomic_write_json", "read_json", "network_record"]


def atomic_write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode(), mode=0o644)


def read_json(path: Path) -> Any:
    """The record at ``path``, or ``None`` when it does not exist."""
    return read_record(path)


def network_record(root: Path, network_id: str) -> Path:
    """Where an engine with data root ``root`` keeps the record of network ``network_id``."""
    return root / "networks" / f"{network_id}.json"
