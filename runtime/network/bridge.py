"""Linux bridges for bridge networks, over netlink (pyroute2): create with gateway addresses, look up, delete.

Every bridge we make carries a mark in its interface alias (``IFLA_IFALIAS``, what ``ip link show`` prints as
``alias``): ``pycompose:<network id>:<data root>``. A starting engine reads it to tell a leftover of ours (a
stopped engine's, or one whose data root is gone) from an interface someone else made, which it never touches.
"""
from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Sequence

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from runtime.errors import Conflict, InvalidArgument
from runtime.network.netns import write_sysctl_in

__all__ = ["bridge_name_for", "check_ifname", "random_mac", "create_bridge", "delete_bridge", "delete_link", "link_index",
           "set_forwarding", "BridgeMark", "read_mark", "mark_of", "members"]

_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_EEXIST = 17
_ENODEV = 19
_MARK = "pycompose:"
_IFALIASZ = 255


@dataclass(frozen=True)
class BridgeMark:
    """Who made a bridge: the network id and the engine's data root (``""`` when too long to keep)."""
    network_id: str
    root: str = ""

    def text(self) -> str:
        full = f"{_MARK}{self.network_id}:{self.root}"
        return full if len(full) <= _IFALIASZ else f"{_MARK}{self.network_id}:"


def read_mark(ipr: IPRoute, index: int) -> BridgeMark | None:
    """The mark of link ``index`` when it is a bridge we made, else ``None``."""
    (link,) = ipr.get_links(index)
    return mark_of(link)


def mark_of(link: Any) -> BridgeMark | None:
    """The mark in a link message (as ``IPRoute.get_links`` returns them) of a bridge we made, else ``None``."""
    alias = link.get("IFLA_IFALIAS") or ""
    if link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") != "bridge" or not alias.startswith(_MARK):
        return None
    network_id, _, root = alias[len(_MARK):].partition(":")
    return BridgeMark(network_id, root)


def members(ipr: IPRoute, index: int) -> list[str]:
    """Names of the interfaces enslaved to bridge ``index``."""
    return [link.get("ifname") for link in ipr.get_links() if link.get("master") == index]


def check_ifname(name: str) -> str:
    if not _IFNAME.match(name) or name in (".", ".."):
        raise InvalidArgument(f"invalid interface name {name!r} (1-15 letters, digits, '_', '.', '-')")
    return name


def bridge_name_for(network_id: str) -> str:
    """Docker's naming: ``br-`` and the first 12 hex digits of the network id."""
    return f"br-{network_id[:12]}"


def random_mac() -> str:
    """A random locally administered unicast MAC address."""
    raw = bytearray(os.urandom(6))
    raw[0] = (raw[0] & 0xFE) | 0x02
    return ":".join(f"{b:02x}" for b in raw)


def link_index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def create_bridge(ipr: IPRoute, name: str, gateways: Sequence[ipaddress.IPv4Interface | ipaddress.IPv6Interface],
                  mtu: int | None = None, mark: BridgeMark | None = None, adopt: bool = False) -> int:
    """Create bridge ``name`` holding the gateway addresses, marked with ``mark``, and set it up. Returns its index.

    A bridge of that name that already exists is an error (it may belong to someone else), unless ``adopt``
    is set: then the existing one (the caller has checked it is a leftover of ours) loses its addresses and is
    configured as if new.
    """
    check_ifname(name)
    index = link_index(ipr, name) if adopt else None
    if index is None:
        spec: dict[str, object] = {"ifname": name, "kind": "bridge", "address": random_mac()}
        if mtu:
            spec["mtu"] = mtu
        try:
            ipr.link("add", **spec)
        except NetlinkError as err:
            if err.code == _EEXIST:
                raise Conflict(f"an interface named {name} already exists on the host") from err
            raise
        index = link_index(ipr, name)
        assert index is not None
    else:
        ipr.flush_addr(index=index)
        if mtu:
            ipr.link("set", index=index, mtu=mtu)
    try:
        if any(gw.version == 6 for gw in gateways):
            write_sysctl_in(None, f"net/ipv6/conf/{name}/disable_ipv6", "0")
        for gw in gateways:
            ipr.addr("add", index=index, address=str(gw.ip), prefixlen=gw.network.prefixlen,
                     **({"flags": 0x02} if gw.version == 6 else {}))  # IFA_F_NODAD (pyroute2 ignores nodad=)
        ipr.link("set", index=index, state="up", **({"IFLA_IFALIAS": mark.text()} if mark else {}))
    except BaseException:
        delete_bridge(ipr, name)
        raise
    return index


def set_forwarding(name: str, enabled: bool) -> None:
    """Per-interface IPv4 forwarding of packets received on the bridge (leaves the host-wide switch alone)."""
    write_sysctl_in(None, f"net/ipv4/conf/{name}/forwarding", "1" if enabled else "0")


def delete_link(ipr: IPRoute, name: str) -> bool:
    """Delete link ``name`` (a bridge's addresses and routes, a veth's peer go with it). False when it did not
    exist."""
    index = link_index(ipr, name)
    if index is None:
        return False
    try:
        ipr.link("del", index=index)
    except NetlinkError as err:
        if err.code != _ENODEV:
            raise
        return False
    return True


def delete_bridge(ipr: IPRoute, name: str) -> bool:
    """Delete bridge ``name`` (its addresses and routes go with it). False when it did not exist."""
    return delete_link(ipr, name)
