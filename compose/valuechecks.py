"""Values the engine would reject at container-create time, checked when the file is read instead: image
references, capability and signal names, IP addresses, subnets, MAC addresses.

Each function returns ``None`` for a good value or a message saying what is wrong (the caller adds the key path).
"""
from __future__ import annotations

import difflib
import ipaddress
import re
import signal

__all__ = ["image_reference", "capability", "stop_signal", "ip_address", "subnet", "mac_address", "interface_name",
           "CAPABILITIES"]

CAPABILITIES = frozenset({
    "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "CHOWN",
    "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE",
    "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYSLOG", "SYS_ADMIN", "SYS_BOOT",
    "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME",
    "SYS_TTY_CONFIG", "WAKE_ALARM",
})

# Docker's reference grammar (distribution/reference), written out.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?$")
_ID = re.compile(r"^(?:sha256:)?[0-9a-f]{64}$")
_MAC = re.compile(r"^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(?:\1[0-9a-fA-F]{2}){4}$")


def image_reference(value: str) -> str | None:
    """``nginx``, ``registry:5000/team/app:1.2@sha256:...`` or an image ID; names must be lowercase."""
    if _REFERENCE.match(value) or _ID.match(value):
        return None
    first, _, rest = value.partition("/")
    name = rest if rest and ("." in first or ":" in first or first == "localhost") else value
    if name.split(":")[0].split("@")[0].lower() != name.split(":")[0].split("@")[0]:
        return f"invalid image reference {value!r}: the repository name must be lowercase"
    return f"invalid image reference {value!r}: expected [registry/]name[:tag][@digest]"


def capability(value: str) -> str | None:
    """``NET_ADMIN``, ``CAP_NET_ADMIN`` or ``ALL`` (any case)."""
    name = value.upper().removeprefix("CAP_")
    if name in CAPABILITIES or name == "ALL":
        return None
    close = difflib.get_close_matches(name, sorted(CAPABILITIES), n=1)
    hint = f", did you mean {close[0]!r}?" if close else ""
    return f"unknown capability {value!r}{hint}"


def stop_signal(value: str) -> str | None:
    """``SIGTERM``, ``TERM``, ``SIGRTMIN+3`` or a number."""
    if value.isdigit():
        return None if 0 < int(value) < 65 else f"invalid signal number {value}"
    name = value.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    if re.fullmatch(r"SIGRT(MIN|MAX)([+-]\d+)?", name) or name in signal.Signals.__members__:
        return None
    return f"unknown signal {value!r}"


def ip_address(value: str, version: int | None = None) -> str | None:
    try:
        parsed = ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} is not an IP address"
    if version and parsed.version != version:
        return f"{value!r} is not an IPv{version} address"
    return None


def subnet(value: str) -> str | None:
    """A CIDR network such as ``172.28.0.0/16`` (host bits must be zero)."""
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as err:
        return f"invalid subnet {value!r}: {err}"
    return None


def mac_address(value: str) -> str | None:
    return None if _MAC.match(value) else f"invalid MAC address {value!r}: expected six hex pairs like 02:42:ac:11:00:02"


_IFNAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")


def interface_name(value: str) -> str | None:
    """A Linux interface name as the engine accepts it: 1-15 letters, digits, '_', '.', '-' (not '.' or '..')."""
    if _IFNAME.fullmatch(value) and value not in (".", ".."):
        return None
    return f"invalid interface name {value!r}: 1 to 15 letters, digits, '_', '.' or '-'"
