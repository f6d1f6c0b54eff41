"""Veth endpoints: one pair per (container, network), host side on the bridge, peer ``ethN`` in the sandbox.

The peer is created directly inside the container's network namespace under its final name, so no interface
named ``eth0`` ever appears on the host. Addresses, MAC, MTU, link state and the default route are then set
through a netlink socket opened inside that namespace.
"""
from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from runtime.errors import Conflict
from runtime.network.bridge import delete_link, link_index
from runtime.network.netns import netlink_in, write_sysctl_in

__all__ = ["VethSpec", "new_veth_name", "mac_for", "attach_veth", "detach_veth", "set_default_route",
           "clear_default_route", "sandbox_ifnames", "next_ifname"]

_EEXIST = 17
_ENODEV = 19
_ESRCH = 3
_IFA_F_NODAD = 0x02

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


def new_veth_name() -> str:
    return "veth" + os.urandom(4).hex()[:7]


def mac_for(ip: ipaddress.IPv4Address | None) -> str:
    """Docker's classic scheme: 02:42 followed by the IPv4 address; random when there is none."""
    if ip is None:
        raw = bytearray(os.urandom(6))
        raw[0], raw[1] = 0x02, 0x42
    else:
        raw = bytearray(b"\x02\x42" + ip.packed)
    return ":".join(f"{b:02x}" for b in raw)


@dataclass(frozen=True)
class VethSpec:
    bridge: str
    sandbox: str
    ifname: str
    addresses: tuple[Interface, ...]
    mac: str
    mtu: int | None = None


def sandbox_ifnames(sandbox: str) -> list[str]:
    with netlink_in(sandbox) as ipr:
        return [link.get("ifname") for link in ipr.get_links()]


def next_ifname(taken: Sequence[str], prefix: str = "eth") -> str:
    n = 0
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}"


def attach_veth(ipr: IPRoute, spec: VethSpec, ns: IPRoute | None = None,
                gateways: Sequence[ipaddress.IPv4Address | ipaddress.IPv6Address] = ()) -> str:
    """Create the pair (host side enslaved to ``spec.bridge`` and up), address the peer, and point the sandbox's
    default routes at ``gateways`` when given. Returns the host side's name.

    ``ns``: an open netlink socket inside the sandbox (one is opened otherwise).
    """
    bridge = link_index(ipr, spec.bridge)
    if bridge is None:
        raise Conflict(f"bridge {spec.bridge} does not exist")
    mtu = {"mtu": spec.mtu} if spec.mtu else {}
    nsfd = os.open(spec.sandbox, os.O_RDONLY | os.O_CLOEXEC)
    host = new_veth_name()
    try:
        for _ in range(8):
            try:
                ipr.link("add", ifname=host, kind="veth", master=bridge, state="up",
                         peer={"ifname": spec.ifname, "net_ns_fd": nsfd, "address": spec.mac, **mtu}, **mtu)
                break
            except NetlinkError as err:
                if err.code != _EEXIST:
                    raise
                if link_index(ipr, host) is None:
                    raise Conflict(f"the sandbox already has an interface named {spec.ifname}") from err
                host = new_veth_name()
        else:
            raise Conflict("could not find a free veth name")
    finally:
        os.close(nsfd)
    try:
        if any(a.version == 6 for a in spec.addresses):
            write_sysctl_in(spec.sandbox, f"net/ipv6/conf/{spec.ifname}/disable_ipv6", "0")
        if ns is None:
            with netlink_in(spec.sandbox) as own:
                _configure_peer(spec, own, gateways)
        else:
            _configure_peer(spec, ns, gateways)
    except BaseException:
        detach_veth(ipr, host)
        raise
    return host


def _configure_peer(spec: VethSpec, ns: IPRoute,
                    gateways: Sequence[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> None:
    index = link_index(ns, spec.ifname)
    assert index is not None
    for addr in spec.addresses:
        ns.addr("add", index=index, address=str(addr.ip), prefixlen=addr.network.prefixlen,
                **({"flags": _IFA_F_NODAD} if addr.version == 6 else {}))
    ns.link("set", index=index, state="up")
    for gateway in gateways:
        family = socket.AF_INET if gateway.version == 4 else socket.AF_INET6
        ns.route("replace", dst="default", family=family, gateway=str(gateway), oif=index)


def detach_veth(ipr: IPRoute, host: str) -> bool:
    """Delete the pair by its host side; the peer in the sandbox goes with it."""
    return delete_link(ipr, host)


def set_default_route(sandbox: str, ifname: str, gateway: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """Point the sandbox's default route of the gateway's family at ``gateway`` via ``ifname`` (replacing)."""
    with netlink_in(sandbox) as ns:
        index = link_index(ns, ifname)
        if index is None:
            raise Conflict(f"the sandbox has no interface {ifname}")
        family = socket.AF_INET if gateway.version == 4 else socket.AF_INET6
        ns.route("replace", dst="default", family=family, gateway=str(gateway), oif=index)


def clear_default_route(sandbox: str, version: int) -> None:
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    with netlink_in(sandbox) as ns:
        for route in ns.get_routes(family=family, table=254):
            if route["dst_len"] == 0:
                try:
                    ns.route("del", dst="default", family=family, table=254, gateway=route.get("gateway"))
                except NetlinkError as err:
                    if err.code not in (_ESRCH, _ENODEV):
                        raise
