"""Linux capabilities: names and numbers (linux/capability.h), Docker's default set, the cap_add/cap_drop/
privileged arithmetic (``ALL`` included), and the child-side calls that give a process exactly that set.

Child order (what runc does), around the switch to the container's user::

    prepare_capabilities(mask)   # still uid 0 with every capability: drop the bounding set, keep caps on setuid
    <setgroups / setgid / setuid>
    finish_capabilities(mask)    # capset effective=permitted=mask, inheritable empty; ambient cleared

``apply_capabilities(mask)`` does both when the user does not change. Standard library only.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable

from runtime import linux

__all__ = [
    "CAPABILITIES", "DEFAULT_CAPABILITIES", "DEFAULT_MASK", "cap_number", "cap_name", "normalize", "to_mask",
    "to_names", "last_cap", "all_capabilities", "compute_capabilities", "compute_mask", "ungrantable",
    "bounding_mask", "prepare_capabilities", "finish_capabilities", "apply_capabilities", "read_status_caps",
]

# Index = capability number, as in linux/capability.h.
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
_NUMBER = {name: i for i, name in enumerate(CAPABILITIES)}

# Docker's default set (moby oci/caps/defaults.go); mask 0x00000000a80425fb.
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
)


def cap_number(name: str) -> int:
    """``CHOWN``/``cap_chown``/``CAP_CHOWN`` -> 0. Raises ``ValueError`` for an unknown name."""
    full = normalize(name)
    if full not in _NUMBER:
        raise ValueError(f"unknown capability: {name!r}")
    return _NUMBER[full]


def cap_name(number: int) -> str:
    return CAPABILITIES[number] if 0 <= number < len(CAPABILITIES) else f"CAP_{number}"


def normalize(name: str) -> str:
    """Docker's spelling: upper case with the ``CAP_`` prefix; ``ALL`` stays ``ALL``."""
    up = name.strip().upper()
    if up == "ALL":
        return up
    return up if up.startswith("CAP_") else "CAP_" + up


def to_mask(names: Iterable[str]) -> int:
    mask = 0
    for name in names:
        mask |= 1 << cap_number(name)
    return mask


def to_names(mask: int) -> list[str]:
    return [cap_name(i) for i in range(64) if mask >> i & 1]


DEFAULT_MASK = to_mask(DEFAULT_CAPABILITIES)


@functools.cache
def last_cap() -> int:
    """The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap); read once per process
    (and inherited by forked children, which then need not read it)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as fh:
            return int(fh.read())
    except OSError:
        return len(CAPABILITIES) - 1


def all_capabilities() -> list[str]:
    """Every capability both we and the running kernel know."""
    return [CAPABILITIES[i] for i in range(min(last_cap(), len(CAPABILITIES) - 1) + 1)]


def compute_capabilities(cap_add: Iterable[str] = (), cap_drop: Iterable[str] = (), privileged: bool = False,
                         base: Iterable[str] = DEFAULT_CAPABILITIES) -> list[str]:
    """Docker's rules: privileged -> every capability; ``cap_add: [ALL]`` -> all but the dropped ones;
    ``cap_drop: [ALL]`` -> only the added ones; else base minus drops plus adds. Raises ``ValueError`` for an
    unknown name. Order: capability number."""
    if privileged:
        return all_capabilities()
    adds = [normalize(c) for c in cap_add]
    drops = [normalize(c) for c in cap_drop]
    for name in (*adds, *drops):
        if name != "ALL" and name not in _NUMBER:
            raise ValueError(f"unknown capability: {name.removeprefix('CAP_')!r}")
    if "ALL" in adds:
        chosen = {c for c in all_capabilities() if c not in drops}
    elif "ALL" in drops:
        chosen = {c for c in adds if c != "ALL"}
    else:
        chosen = ({normalize(c) for c in base} - set(drops)) | set(adds)
    return sorted(chosen, key=_NUMBER.__getitem__)


def compute_mask(cap_add: Iterable[str] = (), cap_drop: Iterable[str] = (), privileged: bool = False) -> int:
    """``compute_capabilities`` as a bit mask. ``privileged`` and ``cap_add: [ALL]`` mean "everything this engine
    holds": a capability missing from our own bounding set can never be granted, so it is left out (a named one
    is kept, for the caller to refuse with ``ungrantable``)."""
    adds = list(cap_add)
    mask = to_mask(compute_capabilities(adds, cap_drop, privileged))
    if privileged or "ALL" in (normalize(c) for c in adds):
        named = 0 if privileged else to_mask(c for c in adds if normalize(c) != "ALL")
        mask &= bounding_mask() | named
    return mask


def bounding_mask(pid: int | str = "self") -> int:
    """The bounding set of ``pid`` (default: this process), from /proc/<pid>/status."""
    return read_status_caps(pid)["CapBnd"]


def ungrantable(mask: int) -> list[str]:
    """Capabilities in ``mask`` this engine cannot give (absent from its own bounding set), by name."""
    return to_names(mask & ~bounding_mask())


def read_status_caps(pid: int | str = "self") -> dict[str, int]:
    """``CapInh``, ``CapPrm``, ``CapEff``, ``CapBnd``, ``CapAmb`` of a process as integers."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
        for line in fh:
            if line.startswith("Cap"):
                key, _, value = line.partition(":")
                out[key] = int(value.strip(), 16)
    return out


# -- child side ----------------------------------------------------------------------------------------------------

def prepare_capabilities(mask: int) -> None:
    """Drop every capability outside ``mask`` from the bounding set and keep permitted caps across setuid.
    Needs CAP_SETPCAP (call while still root with the engine's capabilities)."""
    for cap in range(last_cap() + 1):
        if not mask >> cap & 1:
            linux.prctl(linux.PR_CAPBSET_DROP, cap)  # dropping an absent capability succeeds too
    linux.prctl(linux.PR_SET_KEEPCAPS, 1)


def finish_capabilities(mask: int) -> None:
    """Set effective = permitted = ``mask``, inheritable empty, clear the ambient set; undo keep-caps."""
    linux.prctl(linux.PR_SET_KEEPCAPS, 0)
    _, permitted, _ = linux.capget()
    missing = mask & ~permitted
    if missing:
        raise PermissionError(1, "cannot grant capabilities not held by the engine: "
                                 + ", ".join(to_names(missing)))
    linux.capset(mask, mask, 0)
    try:
        linux.prctl(linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:  # kernels before 4.3 have no ambient set
        pass


def apply_capabilities(mask: int) -> None:
    """Both steps, for a process that keeps uid 0."""
    prepare_capabilities(mask)
    finish_capabilities(mask)


last_cap()  # warm the cache at import, before any fork
