"""Kernel DNAT of published ports beside the userland proxy, as Docker does with ``userland-proxy: true``.

The proxy (:mod:`runtime.network.proxy`) serves every published port, but the container then sees the bridge
gateway as the client. So, as Docker, each host socket of a family the container has an address of also gets
kernel rules (the firewall backends render them: ``nat.Firewall.add_ports``, ``iptables.IptablesFirewall``):

- nat prerouting: to a local address (the host IP when one was given) on the host port/protocol, not coming in
  from the container's own bridge -> DNAT to the container's address:port (the client's address is kept);
- nat output: the same for the host's own traffic to a local address that is not loopback; ``127.0.0.1`` and
  ``::1`` (and traffic from the container's own bridge: hairpin) keep going to the proxy;
- forward: the DNAT'd connection (both directions) accepted before our isolation rules, so a container on
  another of our networks dialling the host's address still reaches it.

A port bound on a loopback address, or of a family the container has no address of (an IPv6 client of an
IPv4-only container), stays proxy-only; so does every port of a container on an internal network, and every
port of a family the host does not forward (``ip-forward: false`` on a host without forwarding): DNAT'd
packets would be dropped there, while the proxy, a local process, still serves them. Each rule
carries the comment ``pycompose:port:<container id>`` by which it is found and removed.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from runtime.network.ports import BoundPort, PortTargets

__all__ = ["Forward", "PortRules", "plan_port_rules", "port_comment", "owner_of", "forwarded_families",
           "PORT_COMMENT_PREFIX"]

PORT_COMMENT_PREFIX = "pycompose:port:"


def port_comment(container_id: str) -> str:
    return PORT_COMMENT_PREFIX + container_id


def owner_of(comment: str | None) -> str | None:
    """The container id a rule comment names, ``None`` for a comment that is not a port rule's."""
    if comment and comment.startswith(PORT_COMMENT_PREFIX):
        return comment[len(PORT_COMMENT_PREFIX):]
    return None


@dataclass(frozen=True)
class Forward:
    """One host port's DNAT: ``host_ip`` ``""`` means every local address of the target's family."""

    protocol: str
    host_ip: str
    host_port: int
    target: str
    target_port: int

    @property
    def version(self) -> int:
        return 6 if ":" in self.target else 4


@dataclass(frozen=True)
class PortRules:
    """A container's DNAT rules: its forwards, and the bridge its traffic comes from (left to the proxy)."""

    container_id: str
    bridge: str
    forwards: tuple[Forward, ...]


def _is_loopback(host_ip: str) -> bool:
    return bool(host_ip) and ipaddress.ip_address(host_ip).is_loopback


_FORWARDING = {4: "/proc/sys/net/ipv4/ip_forward", 6: "/proc/sys/net/ipv6/conf/all/forwarding"}


def forwarded_families() -> frozenset[int]:
    """The IP versions this host (the caller's netns) forwards."""
    out = set()
    for version, path in _FORWARDING.items():
        try:
            if Path(path).read_text().strip() == "1":
                out.add(version)
        except OSError:
            pass
    return frozenset(out)


def plan_port_rules(container_id: str, bridge: str, bound: Iterable[BoundPort], targets: PortTargets,
                    families: Iterable[int] = (4, 6)) -> PortRules:
    """The forwards of ``bound`` (as the publisher bound them) to the container's address of each socket's
    family; loopback host addresses, families without a container address and families not in ``families``
    (the forwarded ones) are left out."""
    out = []
    families = frozenset(families)
    for port in bound:
        v6 = ":" in port.host_ip
        target = targets.ipv6 if v6 else targets.ipv4
        if not target or _is_loopback(port.host_ip) or (6 if v6 else 4) not in families:
            continue
        host = "" if port.host_ip in ("0.0.0.0", "::") else port.host_ip
        out.append(Forward(port.protocol, host, port.host_port, target, port.container_port))
    return PortRules(container_id, bridge, tuple(out))
