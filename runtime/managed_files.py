"""The files the runtime manages in each container (bind-mounted over the image's ``/etc/hostname``,
``/etc/hosts``, ``/etc/resolv.conf``, as Docker does): their first content."""
from __future__ import annotations

from pathlib import Path

__all__ = ["default_hosts", "host_resolv"]

_LOCALHOST = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
              "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")


def default_hosts(extra: str = "") -> str:
    """Docker's /etc/hosts: the loopback names, then ``extra`` (the container's own lines)."""
    return _LOCALHOST + extra


def host_resolv() -> str:
    """The host's resolv.conf without loopback name servers (unreachable from a container's netns); Docker's
    fallback (8.8.8.8, 8.8.4.4) when nothing is left."""
    try:
        text = Path("/etc/resolv.conf").read_text()
    except OSError:
        text = ""
    lines = [ln for ln in text.splitlines()
             if not (ln.startswith("nameserver") and ln.split()[1:2] and
                     (ln.split()[1].startswith("127.") or ln.split()[1] == "::1"))]
    if not any(ln.startswith("nameserver") for ln in lines):
        lines += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]  # Docker's fallback when the host only has loopback
    return "\n".join(lines) + "\n"
