"""Sysctls a container may set: only those namespaced with a namespace the container owns (Docker's rules).

ipc: ``kernel.msgmax``, ``kernel.msgmnb``, ``kernel.msgmni``, ``kernel.sem``, ``kernel.shmall``, ``kernel.shmmax``,
``kernel.shmmni``, ``kernel.shm_rmid_forced``, ``fs.mqueue.*``; net: ``net.*``; uts: ``kernel.domainname``
(``kernel.hostname`` is refused: use ``hostname``). The child writes them to /proc/sys before it is made read-only.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["IPC_SYSCTLS", "normalize", "check_sysctls", "apply_sysctls"]

IPC_SYSCTLS = frozenset({
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
    "kernel.shmmni", "kernel.shm_rmid_forced",
})


def normalize(key: str) -> str:
    """``net/ipv4/ip_forward`` -> ``net.ipv4.ip_forward``."""
    return key.strip().replace("/", ".")


def check_sysctls(sysctls: Mapping[str, str], *, ipc_private: bool = True, net_private: bool = True,
                  uts_private: bool = True) -> dict[str, str]:
    """Normalized sysctls, or ``InvalidArgument`` for one that is not namespaced or whose namespace is the host's."""
    from runtime.errors import InvalidArgument

    out: dict[str, str] = {}
    for raw, value in sysctls.items():
        key = normalize(raw)
        if not key or ".." in key or key.startswith("."):
            raise InvalidArgument(f"invalid sysctl name {raw!r}")
        if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if not ipc_private:
                raise InvalidArgument(f"sysctl {key!r} is not allowed in the host's ipc namespace")
        elif key.startswith("net."):
            if not net_private:
                raise InvalidArgument(f"sysctl {key!r} is not allowed in the host's network namespace")
        elif key == "kernel.domainname":
            if not uts_private:
                raise InvalidArgument(f"sysctl {key!r} is not allowed in the host's uts namespace")
        elif key == "kernel.hostname":
            raise InvalidArgument("sysctl 'kernel.hostname' is not allowed: set the container's hostname instead")
        else:
            raise InvalidArgument(f"sysctl {key!r} is not namespaced: it would change the host, so it is refused")
        out[key] = str(value)
    return out


def apply_sysctls(sysctls: Mapping[str, str], proc: str = "/proc") -> None:
    """Child side (in the container's namespaces, /proc/sys still writable): write each value."""
    for key, value in sysctls.items():
        path = os.path.join(proc, "sys", *key.split("."))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError as err:
            raise FileNotFoundError(err.errno, f"sysctl {key}: no such kernel parameter ({path})") from err
        try:
            os.write(fd, str(value).encode())
        except OSError as err:
            raise OSError(err.errno, f"sysctl {key}={value}: {err.strerror}") from err
        finally:
            os.close(fd)
