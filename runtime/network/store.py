"""Atomic JSON records of the network service, on top of ``runtime.state``.

Layout under the engine's data root::

    networks/<network id>.json                          the network (no endpoints), durable
    networks/<network id>/endpoints/<container id>.json  one per endpoint, atomic but not fsynced
    networks/<network id>/cursor.log                      IPAM's round-robin position, appended, not fsynced

A connect or disconnect writes or removes one small file, whatever the number of endpoints on the network.
Endpoint files are not fsynced: every endpoint names a veth and a network namespace, kernel objects that a
power cut or reboot takes with it, so an endpoint record only ever matters while the kernel that holds them
runs - and a killed engine loses nothing that reached the page cache. A file a power cut left empty or torn is
skipped on load (its endpoint is dead anyway) and removed. Older engines kept the endpoints inside the network
record: the network service moves them out on load. Address allocations are not stored apart: each endpoint
holds its addresses, and the pools are rebuilt from them; only the round-robin position (so that a freed address
is not handed out again at once, even across an engine restart) has a file of its own: a log with a line per
pick, which costs an append instead of a rename over a file (ext4 flushes the data of a file renamed over
another), and is rewritten to its last line when it grows past a few KiB.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from runtime.state import forget_spares, read_record, remove_record, write_bytes

__all__ = ["atomic_write_json", "read_json", "network_record", "network_dir", "endpoint_record",
           "write_endpoint", "remove_endpoint", "read_endpoints", "append_cursor", "read_cursor",
           "remove_network_files"]

log = logging.getLogger(__name__)


def atomic_write_json(path: Path, data: Any, *, durable: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode(), mode=0o644, durable=durable)


def read_json(path: Path) -> Any:
    """The record at ``path``, or ``None`` when it does not exist."""
    return read_record(path)


def network_record(root: Path, network_id: str) -> Path:
    """Where an engine with data root ``root`` keeps the record of network ``network_id``."""
    return root / "networks" / f"{network_id}.json"


def network_dir(root: Path, network_id: str) -> Path:
    """The directory of network ``network_id``'s endpoint records."""
    return root / "networks" / network_id


def endpoint_record(root: Path, network_id: str, container_id: str) -> Path:
    return network_dir(root, network_id) / "endpoints" / f"{container_id}.json"


def _write_small(path: Path, data: Any) -> None:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    try:  # (recycled: a removed endpoint's file is the next one's, see runtime.state)
        write_bytes(path, raw, mode=0o644, durable=False, recycle=True)
    except FileNotFoundError:  # the network's first one: make the directory
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, raw, mode=0o644, durable=False, recycle=True)


def write_endpoint(root: Path, network_id: str, container_id: str, data: dict[str, Any]) -> None:
    """Write one endpoint's record: atomic (temp file and rename), not fsynced (see the module's text)."""
    _write_small(endpoint_record(root, network_id, container_id), data)


_CURSOR_COMPACT = 8192


def append_cursor(root: Path, network_id: str, cursor: dict[str, str]) -> None:
    """Log the last addresses IPAM chose on the network, per family (``{"4": "10.0.0.7"}``: the whole current
    position, so the last line alone says it all). Not fsynced: see the module's text."""
    path = network_dir(root, network_id) / "cursor.log"
    line = json.dumps(cursor, separators=(",", ":"), sort_keys=True).encode() + b"\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, line)
        big = os.fstat(fd).st_size > _CURSOR_COMPACT
    finally:
        os.close(fd)
    if big:
        write_bytes(path, line, mode=0o644, durable=False)


def read_cursor(root: Path, network_id: str) -> dict[str, str]:
    """The logged round-robin position; ``{}`` when there is none. A torn last line (a power cut) is ignored."""
    try:
        raw = (network_dir(root, network_id) / "cursor.log").read_bytes()
    except FileNotFoundError:
        return {}
    out: dict[str, str] = {}
    for line in raw.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.update({str(k): str(v) for k, v in entry.items()})
    return out


def remove_endpoint(root: Path, network_id: str, container_id: str) -> None:
    remove_record(endpoint_record(root, network_id, container_id), recycle=True)


def read_endpoints(root: Path, network_id: str) -> list[dict[str, Any]]:
    """Every readable endpoint record of the network. An unreadable one is logged and removed."""
    folder = network_dir(root, network_id) / "endpoints"
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    out = []
    for name in sorted(names):
        if not name.endswith(".json") or name.startswith("."):
            if name.startswith(".") and name.endswith(".tmp"):  # a write cut short
                (folder / name).unlink(missing_ok=True)
            continue
        path = folder / name
        try:
            raw = read_record(path)
            if not isinstance(raw, dict) or raw.get("container_id") != name[:-5]:
                raise ValueError("not an endpoint record of this container")
        except (OSError, ValueError) as err:
            log.warning("endpoint record %s is unreadable (%s): removed; its endpoint is re-checked against the "
                        "kernel on restore", path, err)
            path.unlink(missing_ok=True)
            continue
        out.append(raw)
    return out


def remove_network_files(root: Path, network_id: str) -> None:
    """The network's record and its endpoint records."""
    network_record(root, network_id).unlink(missing_ok=True)
    forget_spares(network_dir(root, network_id) / "endpoints")
    shutil.rmtree(network_dir(root, network_id), ignore_errors=True)
