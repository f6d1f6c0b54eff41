"""Our side of an exec or attach session: the local terminal in raw mode while a TTY session runs, and the
connection's output written to our stdout and stderr (Docker's multiplexed frames unless a TTY)."""
from __future__ import annotations

import os
import sys
from collections.abc import Callable

from compose.engineapi.frames import STDERR, split_frames

__all__ = ["raw_mode", "write_output"]


def raw_mode(fd: int) -> Callable[[], None]:
    """Put the terminal ``fd`` in raw mode, keeping what was typed ahead; returns what restores it."""
    import termios
    import tty as ttymod

    saved = termios.tcgetattr(fd)
    ttymod.setraw(fd, termios.TCSANOW)

    def restore() -> None:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    return restore


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_output(data: bytes, pending: bytes, *, tty: bool) -> bytes:
    """Write what the connection sent: as it is for a TTY, else each whole frame to stdout or stderr. Returns the
    bytes of a frame not yet whole (pass them back with the next ``data``)."""
    if tty:
        _write_all(sys.stdout.fileno(), data)
        return pending
    frames, pending = split_frames(pending + data)
    for kind, payload in frames:
        _write_all((sys.stderr if kind == STDERR else sys.stdout).fileno(), payload)
    return pending
