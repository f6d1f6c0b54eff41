"""Read a container's JSON-lines log (Docker's json-file format: ``{"log", "stream", "time"}`` per line,
rotated to ``<file>.1`` ... ``<file>.N``) for ``GET /containers/{id}/logs``: tail, since/until, timestamps,
follow (inotify, ends when the container stops)."""
from __future__ import annotations

import asyncio
import json
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from runtime.daemon.inotify import Watch
from runtime.stream import STDERR, STDOUT, frame

__all__ = ["LogEntry", "LogQuery", "read_entries", "log_stream", "parse_log_time"]


@dataclass(frozen=True)
class LogEntry:
    stream: str
    data: bytes
    time: str  # RFC 3339 with nanoseconds, as written

    @property
    def ns(self) -> int:
        return parse_log_time(self.time)


@dataclass(frozen=True)
class LogQuery:
    stdout: bool = True
    stderr: bool = True
    follow: bool = False
    tail: int | None = None  # None = all
    since_ns: int | None = None
    until_ns: int | None = None
    timestamps: bool = False
    tty: bool = False  # raw (no multiplex headers) for tty containers


def parse_log_time(text: str) -> int:
    """``2024-01-02T03:04:05.123456789Z`` -> ns since the epoch."""
    main, _, frac = text.rstrip("Z").partition(".")
    seconds = int(datetime.fromisoformat(main + "+00:00").timestamp())
    return seconds * 1_000_000_000 + int((frac + "000000000")[:9] if frac else 0)


def _files(path: Path) -> list[Path]:
    """Rotated files oldest first, then the live one."""
    rotated = []
    n = 1
    while (path.parent / f"{path.name}.{n}").exists():
        rotated.append(path.parent / f"{path.name}.{n}")
        n += 1
    return list(reversed(rotated)) + ([path] if path.exists() else [])


def _parse(line: bytes) -> LogEntry | None:
    try:
        raw = json.loads(line)
        return LogEntry(raw.get("stream", "stdout"), raw.get("log", "").encode("utf-8", "surrogateescape"),
                        raw.get("time", "1970-01-01T00:00:00Z"))
    except (ValueError, AttributeError):
        return None  # a torn last line while the writer is mid-write; the follower re-reads it


def read_entries(path: Path) -> Iterator[LogEntry]:
    yield from _snapshot(path)[0]


def _snapshot(path: Path) -> tuple[list[LogEntry], int, int]:
    """Every complete entry now, plus where the live file's complete lines end and its inode (to follow on)."""
    entries: list[LogEntry] = []
    position = inode = 0
    for file in _files(path):
        try:
            with open(file, "rb") as fh:
                st = os.fstat(fh.fileno())
                data = fh.read()
        except FileNotFoundError:
            continue
        end = data.rfind(b"\n") + 1
        for line in data[:end].split(b"\n")[:-1]:
            entry = _parse(line)
            if entry is not None:
                entries.append(entry)
        if file == path:
            position, inode = end, st.st_ino
    return entries, position, inode


def _wanted(entry: LogEntry, q: LogQuery) -> bool:
    if entry.stream == "stdout" and not q.stdout or entry.stream == "stderr" and not q.stderr:
        return False
    if q.since_ns is not None and entry.ns < q.since_ns:
        return False
    if q.until_ns is not None and entry.ns > q.until_ns:
        return False
    return True


def _encode(entry: LogEntry, q: LogQuery) -> bytes:
    data = (entry.time.encode() + b" " + entry.data) if q.timestamps else entry.data
    if q.tty:
        return data
    return frame(STDERR if entry.stream == "stderr" else STDOUT, data)


async def log_stream(path: Path, q: LogQuery, running: Callable[[], bool],
                     stopped: Callable[[], Awaitable[None]] | None = None) -> AsyncIterator[bytes]:
    """The log as the Engine API sends it; with ``follow`` new lines until ``stopped()`` completes."""
    # asked before the snapshot: a container that stopped before it has all its lines in it (its monitor writes
    # them before its exit record); asked after, the lines of one that ended in between would be lost
    follow = q.follow and running()
    entries, position, inode = await asyncio.to_thread(_snapshot, path)
    if q.tail is not None and q.tail >= 0:  # Docker takes the tail of the file first, then filters
        entries = list(deque(entries, maxlen=q.tail)) if q.tail else []
    for entry in entries:
        if _wanted(entry, q):
            yield _encode(entry, q)
    if not follow or q.until_ns is not None and q.until_ns <= time.time_ns():
        return  # as Docker: no following past ``until``
    # follow: read what is appended after the snapshot (and the new file after a rotation)
    done = asyncio.ensure_future(stopped()) if stopped is not None else None
    try:
        async with Watch([str(path.parent)]) as watch:
            pending = b""
            while True:
                try:
                    st = path.stat()
                except FileNotFoundError:
                    st = None
                if st is not None and st.st_ino != inode:  # rotated: finish the old file, start the new one
                    position, inode, pending = 0, st.st_ino, b""
                if st is not None and st.st_size > position:
                    with open(path, "rb") as fh:
                        fh.seek(position)
                        data = fh.read()
                    position += len(data)
                    pending += data
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        parsed = _parse(line)
                        if parsed is not None and _wanted(parsed, q):
                            yield _encode(parsed, q)
                if done is not None and done.done() or not running():
                    # the container stopped: one last read picks up its final lines
                    if st is not None and os.path.exists(path) and path.stat().st_size > position:
                        continue
                    return
                waits = [asyncio.ensure_future(watch.changed())]
                if done is not None:
                    waits.append(done)
                left = None if q.until_ns is None else max(0.0, (q.until_ns - time.time_ns()) / 1e9)
                finished, _ = await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                if waits[0] not in finished:
                    waits[0].cancel()
                if q.until_ns is not None and time.time_ns() >= q.until_ns:
                    return  # ``until`` has come: the follow ends, as Docker's
    finally:
        if done is not None and not done.done():
            done.cancel()
