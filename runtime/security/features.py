"""The ``SecurityOptions`` of ``docker info`` as this host really supports them (parent side)."""
from __future__ import annotations

import functools
import os

__all__ = ["seccomp_supported", "security_options"]


@functools.cache
def seccomp_supported() -> bool:
    """The kernel filters syscalls (``Seccomp:`` in /proc/self/status) and libseccomp can be loaded."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            if not any(line.startswith("Seccomp:") for line in fh):
                return False
        from runtime.security import libseccomp
        libseccomp.library_version()
    except Exception:  # noqa: BLE001 - any failure means: not usable here
        return False
    return True


def security_options(no_new_privileges: bool = False) -> list[str]:
    """``name=seccomp,profile=builtin``, ``name=cgroupns``, ``name=no-new-privileges`` - those that apply."""
    out = []
    if seccomp_supported():
        out.append("name=seccomp,profile=builtin")
    if no_new_privileges:
        out.append("name=no-new-privileges")
    if os.path.exists("/proc/self/ns/cgroup"):
        out.append("name=cgroupns")
    return out
