"""Process trees read from /proc, for tests and benches that look at what a daemon or monitor forked."""
from __future__ import annotations

import os

__all__ = ["children", "gone"]


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` now (field 4 of /proc/<pid>/stat); processes that vanish meanwhile are
    left out."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                data = fh.read()
            if int(data[data.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(entry))
        except (OSError, ValueError):
            continue
    return out


def gone(pid: int) -> bool:
    """No process ``pid`` any more (a zombie still counts as there)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
