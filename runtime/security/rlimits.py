"""Ulimits by Docker's names (``nofile``, ``nproc``, ...) -> ``RLIMIT_*``: checked in the parent, set in the child.

Without CAP_SYS_RESOURCE (not granted on every host) no process may raise a hard limit above its own: the check
says so up front instead of the child failing later. The child side imports only the standard library.
"""
from __future__ import annotations

import resource
from collections.abc import Iterable

__all__ = ["RLIMITS", "INFINITY", "Rlimit", "parse_ulimit", "check_ulimits", "apply_rlimits"]

INFINITY = resource.RLIM_INFINITY
RLIMITS = {
    "as": resource.RLIMIT_AS, "core": resource.RLIMIT_CORE, "cpu": resource.RLIMIT_CPU,
    "data": resource.RLIMIT_DATA, "fsize": resource.RLIMIT_FSIZE, "locks": getattr(resource, "RLIMIT_LOCKS", 10),
    "memlock": resource.RLIMIT_MEMLOCK, "msgqueue": resource.RLIMIT_MSGQUEUE, "nice": resource.RLIMIT_NICE,
    "nofile": resource.RLIMIT_NOFILE, "nproc": resource.RLIMIT_NPROC, "rss": resource.RLIMIT_RSS,
    "rtprio": resource.RLIMIT_RTPRIO, "rttime": getattr(resource, "RLIMIT_RTTIME", 15),
    "sigpending": resource.RLIMIT_SIGPENDING, "stack": resource.RLIMIT_STACK,
}
_NAMES = {v: k for k, v in RLIMITS.items()}
_CAP_SYS_RESOURCE = 24

Rlimit = tuple[int, int, int]  # (RLIMIT_* number, soft, hard)


def parse_ulimit(text: str) -> tuple[str, int, int]:
    """Docker CLI form ``nofile=1024:2048`` or ``nofile=1024`` -> (name, soft, hard); ``-1`` = unlimited."""
    from runtime.errors import InvalidArgument

    name, sep, values = text.partition("=")
    if not sep:
        raise InvalidArgument(f"invalid ulimit argument: {text!r}: want name=soft[:hard]")
    soft_s, _, hard_s = values.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if hard_s else soft
    except ValueError as err:
        raise InvalidArgument(f"invalid ulimit argument: {text!r}: limits must be integers") from err
    return name.strip(), soft, hard


def check_ulimits(ulimits: Iterable[tuple[str, int, int]]) -> list[Rlimit]:
    """Validate (name, soft, hard) triples and convert them; raises ``InvalidArgument`` naming the ulimit."""
    from runtime.errors import InvalidArgument

    can_raise = _has_sys_resource()
    out: list[Rlimit] = []
    seen: set[str] = set()
    for name, soft, hard in ulimits:
        key = name.strip().lower()
        if key not in RLIMITS:
            raise InvalidArgument(f"invalid ulimit type: {name!r} (known: {', '.join(sorted(RLIMITS))})")
        if key in seen:
            raise InvalidArgument(f"ulimit {key} given twice")
        seen.add(key)
        soft_v = INFINITY if soft < 0 else soft
        hard_v = INFINITY if hard < 0 else hard
        if not _le(soft_v, hard_v):
            raise InvalidArgument(f"ulimit {key}: soft limit {soft} is above the hard limit {hard}")
        _cur_soft, cur_hard = resource.getrlimit(RLIMITS[key])
        if not can_raise and not _le(hard_v, cur_hard):
            raise InvalidArgument(
                f"ulimit {key}: hard limit {_fmt(hard_v)} is above the engine's own hard limit {_fmt(cur_hard)};"
                " raising a hard limit needs CAP_SYS_RESOURCE, which this host does not give the engine -"
                f" use at most {_fmt(cur_hard)}")
        if key == "nofile" and hard_v != INFINITY and hard_v > _nr_open():
            raise InvalidArgument(f"ulimit nofile: {hard_v} is above the kernel's fs.nr_open ({_nr_open()})")
        out.append((RLIMITS[key], soft_v, hard_v))
    return out


def apply_rlimits(limits: Iterable[Rlimit]) -> None:
    """Child side: set each limit; a refusal names the ulimit and the limit the process already has."""
    for res, soft, hard in limits:
        try:
            resource.setrlimit(res, (soft, hard))
        except (ValueError, OSError) as err:
            cur = resource.getrlimit(res)
            raise PermissionError(
                1, f"setting ulimit {_NAMES.get(res, res)}={_fmt(soft)}:{_fmt(hard)} failed ({err}); the current "
                   f"limit is {_fmt(cur[0])}:{_fmt(cur[1])} and raising it needs CAP_SYS_RESOURCE") from err


def _le(a: int, b: int) -> bool:
    if b == INFINITY:
        return True
    return a != INFINITY and a <= b


def _fmt(v: int) -> str:
    return "unlimited" if v == INFINITY else str(v)


def _has_sys_resource() -> bool:
    with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
        for line in fh:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> _CAP_SYS_RESOURCE & 1)
    return False


def _nr_open() -> int:
    try:
        with open("/proc/sys/fs/nr_open", encoding="ascii") as fh:
            return int(fh.read())
    except OSError:
        return 1 << 20
