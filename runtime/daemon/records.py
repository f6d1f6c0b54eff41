"""The daemon's record of each container: what the Engine API was asked for (Config, HostConfig, networking),
its name, restart and health state. One JSON file per container under ``<root>/daemon/containers``, written
atomically; the container service keeps the process side (spec, pid, exit status) in its own records."""
from __future__ import annotations

import asyncio
import re
import secrets
import threading
from pathlib import Path
from typing import Any

from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.state import read_record, remove_record, write_record
from runtime.timestamps import now_rfc3339

__all__ = ["Records", "new_id", "now_rfc3339", "NAME_RE"]

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_ADJ = ("brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "proud",
        "quirky", "sharp", "tender", "vivid", "witty", "zen")
_NOUN = ("turing", "hopper", "lovelace", "ritchie", "thompson", "torvalds", "knuth", "dijkstra", "liskov", "hamilton",
         "perlman", "wozniak", "kay", "lamport", "backus", "mccarthy", "shannon", "noether")


def new_id() -> str:
    return secrets.token_hex(32)


class Records:
    def __init__(self, root: Path) -> None:
        self._dir = root / "daemon" / "containers"
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._by_id: dict[str, dict[str, Any]] = {}
        self._due: set[str] = set()  # ids with a save_soon not written yet
        for entry in self._dir.glob("*.json"):
            rec = read_record(entry)
            if isinstance(rec, dict) and "Id" in rec:
                self._by_id[rec["Id"]] = rec

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return sorted(self._by_id.values(), key=lambda r: r["Created"], reverse=True)

    def save(self, rec: dict[str, Any]) -> None:
        with self._lock:
            self._by_id[rec["Id"]] = rec
            write_record(self._dir / f"{rec['Id']}.json", rec, durable=False, recycle=True)

    def save_soon(self, rec: dict[str, Any]) -> None:
        """``save``, with the file written once the event loop's current step is over (after the reply being
        answered goes out); current in memory at once. Call on the loop, for changes a restarted daemon rebuilds
        from the container service's state if the file missed them (a start's ``LastStatus``)."""
        with self._lock:
            self._by_id[rec["Id"]] = rec
            if rec["Id"] in self._due:
                return
            self._due.add(rec["Id"])
        asyncio.get_running_loop().call_soon(self._flush, rec["Id"])

    def _flush(self, cid: str) -> None:
        with self._lock:
            self._due.discard(cid)
            rec = self._by_id.get(cid)
            if rec is not None:  # (deleted meanwhile: nothing to write)
                write_record(self._dir / f"{cid}.json", rec, durable=False, recycle=True)

    def delete(self, cid: str) -> None:
        with self._lock:
            self._due.discard(cid)
            self._by_id.pop(cid, None)
            remove_record(self._dir / f"{cid}.json", recycle=True)  # its file kept for the next record

    def find(self, ref: str) -> dict[str, Any]:
        """By full id, name (with or without the leading slash) or unique id prefix, as Docker resolves."""
        with self._lock:
            if ref in self._by_id:
                return self._by_id[ref]
            name = "/" + ref.lstrip("/")
            for rec in self._by_id.values():
                if rec["Name"] == name:
                    return rec
            if ref and all(c in "0123456789abcdef" for c in ref):
                hits = [r for cid, r in self._by_id.items() if cid.startswith(ref)]
                if len(hits) == 1:
                    return hits[0]
                if len(hits) > 1:
                    raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def claim_name(self, name: str | None, cid: str) -> str:
        """A unique ``/name``: the one asked for (Conflict when taken) or a generated one."""
        with self._lock:
            taken = {r["Name"]: r["Id"] for r in self._by_id.values()}
            if name:
                if not NAME_RE.match(name.lstrip("/")):
                    raise InvalidArgument(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are "
                                          f"allowed")
                full = "/" + name.lstrip("/")
                if full in taken and taken[full] != cid:
                    raise Conflict(f'Conflict. The container name "{full}" is already in use by container '
                                   f'"{taken[full]}". You have to remove (or rename) that container to be able to '
                                   f'reuse that name.')
                return full
            while True:
                full = f"/{secrets.choice(_ADJ)}_{secrets.choice(_NOUN)}"
                if full not in taken:
                    return full
                full += f"{secrets.randbelow(100)}"
                if full not in taken:
                    return full
