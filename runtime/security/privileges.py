"""Process-wide privilege switches set in the child: ``no_new_privs`` and the OOM score adjustment."""
from __future__ import annotations

import errno
import os

from runtime import linux

__all__ = ["set_no_new_privs", "no_new_privs", "set_oom_score_adj", "oom_score_adj", "drop_inherited_oom_protection",
           "note_oom_score_adj"]

_PR_GET_NO_NEW_PRIVS = 39
_own_score: int | None = None  # this process's oom_score_adj, once read ahead (``note_oom_score_adj``) or set


def set_no_new_privs() -> None:
    """From now on execve never grants privileges (setuid bits, file capabilities); irreversible."""
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)


def no_new_privs() -> bool:
    return linux.prctl(_PR_GET_NO_NEW_PRIVS) == 1


def set_oom_score_adj(value: int, pid: int | str = "self") -> None:
    """Write ``oom_score_adj`` (-1000..1000). Lowering it below the current value needs CAP_SYS_RESOURCE."""
    if not -1000 <= value <= 1000:
        raise ValueError(f"oom_score_adj {value} is out of range -1000..1000")
    global _own_score
    fd = os.open(f"/proc/{pid}/oom_score_adj", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(value).encode())
    except OSError as err:
        if err.errno in (errno.EACCES, errno.EPERM):
            raise PermissionError(err.errno, f"oom_score_adj {value}: lowering the OOM score needs "
                                             "CAP_SYS_RESOURCE, which this host does not give the engine") from err
        raise
    finally:
        os.close(fd)
    if pid == "self":
        _own_score = value

def oom_score_adj(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/oom_score_adj", encoding="ascii") as fh:
        return int(fh.read())


def note_oom_score_adj() -> None:
    """Read this process's score now, for ``drop_inherited_oom_protection`` to use later: a process forked ahead
    of need (a spare container's init) reads it while it waits, not on the start's path, where the read is the
    first lookup in the container's fresh /proc (~0.1 ms). The score is inherited at fork and only changes when
    written, so the value stays true. Never raises."""
    global _own_score
    try:
        _own_score = oom_score_adj()
    except (OSError, ValueError):
        _own_score = None


def drop_inherited_oom_protection() -> None:
    """A container without its own ``oom_score_adj`` gets Docker's 0, never the engine's protective negative
    value (raising the score needs no privilege; a positive inherited score is left alone)."""
    if (oom_score_adj() if _own_score is None else _own_score) < 0:
        set_oom_score_adj(0)
