"""The container's ``/etc/hosts``: loopback names, the container's own name, and ``extra_hosts``.

As Docker writes it: ``127.0.0.1 localhost``, the IPv6 loopback/multicast names, the extra hosts, then one line
per container address naming the host (the daemon passes each network's IPv4 address, then its IPv6 one)."""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from runtime.errors import InvalidArgument

__all__ = ["HOST_GATEWAY", "parse_extra_host", "render_hosts", "host_names", "add_host_entries",
           "remove_host_entries"]

HOST_GATEWAY = "host-gateway"  # the magic address compose and Docker accept in extra_hosts
_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$")
_BASE = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def parse_extra_host(entry: str, host_gateway: str | None = None) -> tuple[str, str]:
    """``"name:ip"``, ``"name=ip"`` or ``"name:[v6]"`` -> (name, ip). ``host-gateway`` needs ``host_gateway``."""
    sep = "=" if "=" in entry else ":"
    name, _, addr = entry.partition(sep)
    name, addr = name.strip(), addr.strip()
    if addr.startswith("[") and addr.endswith("]"):
        addr = addr[1:-1]
    if not _HOSTNAME.match(name):
        raise InvalidArgument(f"extra_hosts: {entry!r}: {name!r} is not a valid host name")
    if addr == HOST_GATEWAY:
        if not host_gateway:
            raise InvalidArgument(f"extra_hosts: {entry!r}: no host-gateway address is known")
        addr = host_gateway
    try:
        ipaddress.ip_address(addr)
    except ValueError as err:
        raise InvalidArgument(f"extra_hosts: {entry!r}: {addr!r} is not an IP address (use name:ip)") from err
    return name, addr


def render_hosts(hostname: str, addresses: Iterable[str] = (), extra_hosts: Iterable[str] = (), *,
                 domainname: str = "", aliases: Iterable[str] = (), host_gateway: str | None = None,
                 ipv6: bool = True) -> str:
    """/etc/hosts text: the base entries, ``extra_hosts`` in order, then each address of the container.

    ``ipv6=False`` (IPv6 off in the container) leaves out the IPv6 names and the container's IPv6 addresses."""
    out = [_BASE if ipv6 else "127.0.0.1\tlocalhost\n"]
    for entry in extra_hosts:
        name, addr = parse_extra_host(entry, host_gateway)
        out.append(f"{addr}\t{name}\n")
    names = host_names(hostname, domainname)
    names += [a for a in aliases if a and a not in names]
    for addr in addresses:
        try:
            version = ipaddress.ip_address(addr).version
        except ValueError as err:
            raise InvalidArgument(f"container address {addr!r} is not an IP address") from err
        if version == 6 and not ipv6:
            continue
        out.append(f"{addr}\t{' '.join(names)}\n")
    return "".join(out)


def host_names(hostname: str, domainname: str = "") -> list[str]:
    """The names a line of the container's own address carries: ``host.domain host``, or ``host``."""
    return [f"{hostname}.{domainname}", hostname] if domainname else [hostname]


def add_host_entries(text: str, addresses: Iterable[str], names: Iterable[str]) -> str:
    """``text`` (a hosts file) with a line per address naming ``names`` appended, as Docker does when a running
    container joins a network; an identical line already there is not repeated."""
    joined = " ".join(names)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for addr in addresses:
        line = f"{addr}\t{joined}\n"
        if line not in lines:
            lines.append(line)
    return "".join(lines)


def remove_host_entries(text: str, addresses: Iterable[str], names: Iterable[str]) -> str:
    """``text`` without the lines :func:`add_host_entries` made for ``addresses`` (the container left that
    network); other lines, the user's own edits among them, stay as they are."""
    wanted = set(names)
    gone = set(addresses)
    kept = []
    for line in text.splitlines(keepends=True):
        fields = line.split()
        if len(fields) >= 2 and fields[0] in gone and set(fields[1:]) == wanted:
            continue
        kept.append(line)
    return "".join(kept)
