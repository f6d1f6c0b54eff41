"""Veth endpoints: one pair per (container, network), host side on the bridge, peer ``ethN`` in the sandbox.

The peer is created directly inside the container's network namespace under its final name, so no interface
named ``eth0`` ever appears on the host. The connect path speaks raw rtnetlink (:mod:`runtime.network.rtnl`):
on the host a lookup of the bridge by name and one request that makes the pair with the host side enslaved and
up; in the sandbox (a socket opened inside it) a lookup of the peer and one batch that brings it up and adds the
addresses and the default routes. No step grows with the number of links on the host.

Leaving is :func:`retire_veth`: the pair is cut off in about a millisecond and deleted later by the network
service's reaper, since a delete waits 20-50 ms for RCU grace periods.
"""
from __future__ import annotations

import errno
import ipaddress
import logging
import os
import select
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from runtime.errors import Conflict, EngineError
from runtime.network import rtnl as _rtnl
from runtime.network.bridge import delete_link
from runtime.network.netns import netlink_in, write_sysctl_in
from runtime.network.reaper import RETIRED_PREFIX, LinkReaper

log = logging.getLogger(__name__)

__all__ = ["VethSpec", "new_veth_name", "mac_for", "attach_veth", "detach_veth", "remove_veth", "retire_veth",
           "retired_veths", "set_default_route", "clear_default_route", "sandbox_ifnames", "next_ifname"]

_ESRCH = 3
_SOL_NETLINK, _NETLINK_ADD_MEMBERSHIP, _RTNLGRP_LINK = 270, 1, 1
_NAME_TRIES = 8

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
Gateway = ipaddress.IPv4Address | ipaddress.IPv6Address


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


def sandbox_ifnames(sandbox: str | _rtnl.Rtnl) -> list[str]:
    """Names of the sandbox's links (given its path or an open socket inside it)."""
    if isinstance(sandbox, _rtnl.Rtnl):
        return sandbox.link_names()
    with _rtnl.Rtnl(sandbox) as ns:
        return ns.link_names()


def next_ifname(taken: Sequence[str], prefix: str = "eth") -> str:
    n = 0
    while f"{prefix}{n}" in taken:
        n += 1
    return f"{prefix}{n}"


def attach_veth(spec: VethSpec, gateways: Sequence[Gateway] = (), *, host: _rtnl.Rtnl | None = None,
                ns: _rtnl.Rtnl | None = None) -> str:
    """Create the pair (host side enslaved to ``spec.bridge``, both ends up), address the peer, and point the
    sandbox's default routes at ``gateways`` when given. Returns the host side's name.

    ``host`` / ``ns``: open rtnetlink sockets on the host and inside the sandbox (opened here otherwise).
    Raises :class:`Conflict` when the bridge is gone or the sandbox already has ``spec.ifname``.
    """
    own_host = host is None
    host = host if host is not None else _rtnl.Rtnl()
    try:
        name = _create_pair(host, spec)
        try:
            if ns is None:
                with _rtnl.Rtnl(spec.sandbox) as own:
                    _configure_peer(spec, own, gateways)
            else:
                _configure_peer(spec, ns, gateways)
        except BaseException:
            _delete(host, name)
            raise
        return name
    finally:
        if own_host:
            host.close()


def _create_pair(host: _rtnl.Rtnl, spec: VethSpec) -> str:
    bridge = host.link_index(spec.bridge)
    if bridge is None:
        raise Conflict(f"bridge {spec.bridge} does not exist")
    nsfd = os.open(spec.sandbox, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for _ in range(_NAME_TRIES):
            name = new_veth_name()
            answer = host.exchange([_rtnl.new_veth(name, spec.ifname, nsfd, master=bridge, mtu=spec.mtu,
                                                   peer_mac=spec.mac)])[0]
            if answer.error != errno.EEXIST:
                answer.check()
                return name
            # Either our random host name is taken (try another) or the sandbox has the peer's name.
            if host.link_index(name) is None:
                raise Conflict(f"the sandbox already has an interface named {spec.ifname}")
        raise Conflict("could not find a free veth name")
    finally:
        os.close(nsfd)


def _configure_peer(spec: VethSpec, ns: _rtnl.Rtnl, gateways: Sequence[Gateway]) -> None:
    if any(a.version == 6 for a in spec.addresses):
        write_sysctl_in(spec.sandbox, f"net/ipv6/conf/{spec.ifname}/disable_ipv6", "0")
    index = ns.link_index(spec.ifname)
    if index is None:
        raise EngineError(f"the new interface {spec.ifname} is not in the sandbox {spec.sandbox}")
    batch = [_rtnl.set_link_up(index), *(_rtnl.new_address(index, addr) for addr in spec.addresses)]
    batch += [_rtnl.new_default_route(index, gateway) for gateway in gateways]
    for answer in ns.exchange(batch):
        answer.check()


def remove_veth(name: str, host: _rtnl.Rtnl | None = None) -> bool:
    """Delete the pair by its host side, in one request; the peer in the sandbox goes with it. False when
    there was no such link."""
    if host is not None:
        return _delete(host, name)
    with _rtnl.Rtnl() as own:
        return _delete(own, name)


def retire_veth(name: str, host: _rtnl.Rtnl | None = None, *, sandbox: str | None = None,
                ifname: str | None = None, reaper: LinkReaper | None = None) -> str | None:
    """Cut the pair off at once, in about a millisecond: with ``sandbox`` and ``ifname`` the peer is taken down
    (the kernel drops its routes) and renamed ``pcx<hex>`` first, so ``ifname`` is free for the next connect; then
    the host side goes down, out of its bridge, and takes a ``pcx<hex>`` name too (a crash before it is deleted
    leaves a link :func:`retired_veths` recognises). Returns that name (``None`` when there was no such link).

    Deleting the pair costs the kernel 20-50 ms of RCU grace periods (moving the peer to another namespace
    costs as much), so it is left to ``reaper`` (else to the caller, under the returned name). With ``reaper``
    and ``sandbox`` this waits until the kernel has taken the peer off the container's link list - the
    ``RTM_DELLINK`` it announces there about 2 ms into the reaper's delete, before the grace periods - so the
    container sees no trace of the interface when this returns."""
    watch = _PeerWatch(sandbox, ifname) if sandbox is not None and ifname is not None else None
    try:
        own = host is None
        host = host if host is not None else _rtnl.Rtnl()
        try:
            index = host.link_index(name)
            if index is None:
                return None
            retired = RETIRED_PREFIX + os.urandom(6).hex()
            detached, renamed = host.exchange([_rtnl.detach_link(name), _rtnl.rename_link(index, retired)])
        finally:
            if own:
                host.close()
        if detached.error in (errno.ENODEV, errno.ENOENT):
            return None
        detached.check()
        if renamed.error:  # off the bridge and down all the same: keep its name
            log.debug("retired veth %s not renamed: %s", name, os.strerror(renamed.error))
            retired = name
        if reaper is not None:
            reaper.delete_later(retired, urgent=watch is not None)
            if watch is not None:
                watch.wait_gone(_GONE_WAIT)
        return retired
    finally:
        if watch is not None:
            watch.close()


_GONE_WAIT = 2.0  # seconds a disconnect waits at most for the peer to leave the container's link list


class _PeerWatch:
    """The peer ``ifname`` in ``sandbox``, taken down and renamed ``pcx<hex>`` at once, and a socket on the
    sandbox's link announcements that tells when the kernel has unlisted it."""

    def __init__(self, sandbox: str, ifname: str) -> None:
        self.ns = _rtnl.Rtnl(sandbox)
        self.index: int | None = None
        self.peer = ""
        try:
            self.ns.sock.setsockopt(_SOL_NETLINK, _NETLINK_ADD_MEMBERSHIP, _RTNLGRP_LINK)
            index = self.ns.link_index(ifname)
            if index is None:
                return
            self.peer = RETIRED_PREFIX + os.urandom(6).hex()
            for answer in self.ns.exchange([_rtnl.set_link_down(index), _rtnl.rename_link(index, self.peer)]):
                if answer.error == errno.ENODEV:  # gone meanwhile is fine
                    return
                answer.check()
            self.index = index
        except BaseException:
            self.ns.close()
            raise

    def wait_gone(self, timeout: float) -> bool:
        """Wait for the kernel's ``RTM_DELLINK`` of the peer in the sandbox; False on timeout (it goes later)."""
        if self.index is None:
            return True
        deadline = time.monotonic() + timeout
        sock = self.ns.sock
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                log.debug("link %d still in its sandbox after %.1f s: the reaper deletes it", self.index, timeout)
                return False
            try:
                data = sock.recv(1 << 16)
            except OSError as err:  # ENOBUFS: announcements lost; look instead
                log.debug("link announcements lost (%s): looking", err)
                return self.ns.link_index(self.peer) is None
            if self.index in _rtnl.deleted_links(data):
                return True

    def close(self) -> None:
        self.ns.close()


def retired_veths(links: Sequence[tuple[str, str, bool, int]]) -> list[str]:
    """The retired veths among ``links`` ((name, kind, up, master index) of the host's links): a ``pcx<hex>``
    veth, down and on no bridge, is one whose deletion a crash cut short (an engine's reaper deletes such links
    within milliseconds; deleting one twice is harmless)."""
    return [name for name, kind, up, master in links
            if kind == "veth" and name.startswith(RETIRED_PREFIX) and not up and not master]


def _delete(host: _rtnl.Rtnl, name: str) -> bool:
    answer = host.exchange([_rtnl.del_link(name)])[0]
    if answer.error in (errno.ENODEV, errno.ENOENT):
        return False
    answer.check()
    return True


def detach_veth(ipr: IPRoute, host: str) -> bool:
    """Delete the pair by its host side through pyroute2 (for callers holding an ``IPRoute``)."""
    return delete_link(ipr, host)


def set_default_route(sandbox: str, ifname: str, gateway: Gateway) -> None:
    """Point the sandbox's default route of the gateway's family at ``gateway`` via ``ifname`` (replacing)."""
    with _rtnl.Rtnl(sandbox) as ns:
        index = ns.link_index(ifname)
        if index is None:
            raise Conflict(f"the sandbox has no interface {ifname}")
        ns.call(_rtnl.new_default_route(index, gateway))


def clear_default_route(sandbox: str, version: int) -> None:
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    with netlink_in(sandbox) as ns:
        for route in ns.get_routes(family=family, table=254):
            if route["dst_len"] == 0:
                try:
                    ns.route("del", dst="default", family=family, table=254, gateway=route.get("gateway"))
                except NetlinkError as err:
                    if err.code not in (_ESRCH, errno.ENODEV):
                        raise
