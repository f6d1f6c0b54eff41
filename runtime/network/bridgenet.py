"""The kernel side of one bridge network: its subnets, bridge, forwarding and firewall rules.

``plan_pools`` picks subnets (configured ones checked against everything, others from the pools); ``build``
makes the bridge with its gateways and adds the rules, undoing itself on failure; ``teardown`` removes both;
``drop_stray_veths`` removes veths on the bridge that no endpoint record names.
"""
from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from pathlib import Path

from pyroute2 import IPRoute

from runtime.errors import Conflict, InvalidArgument
from runtime.network import bridge as _bridge
from runtime.network import endpoint as _veth
from runtime.network.ipam import AddressPool, IpamSpec, IPNetwork, Pool, choose_subnet, ula_subnet
from runtime.network.model import OPT_ICC, OPT_MASQUERADE, OPT_MTU, Network
from runtime.network.iptables import IptablesFirewall
from runtime.network.nat import BridgeRules, Firewall

__all__ = ["plan_pools", "bridge_rules", "build", "teardown", "drop_stray_veths", "enable_host_forwarding"]

log = logging.getLogger(__name__)


def _overlap(a: IPNetwork, b: IPNetwork) -> bool:
    return a.version == b.version and a.overlaps(b)


def _truthy(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.lower() in ("1", "true", "yes", "on")


def plan_pools(net_id: str, spec: IpamSpec, enable_ipv6: bool, ours: Sequence[IPNetwork],
               host: Sequence[IPNetwork], pools: Sequence[Pool]) -> list[AddressPool]:
    """Address pools for a new network: configured subnets (overlapping neither ``ours`` nor ``host``), then an
    IPv4 subnet from ``pools`` if none was configured, then an IPv6 one when enabled."""
    out: list[AddressPool] = []
    for cfg in spec.config:
        if cfg.subnet is None:
            continue
        if cfg.subnet.version == 6 and not enable_ipv6:
            raise InvalidArgument(f"subnet {cfg.subnet} is IPv6 but enable_ipv6 is not set")
        clash = [o for o in [*ours, *(p.subnet for p in out)] if _overlap(o, cfg.subnet)]
        if clash:
            raise Conflict(f"subnet {cfg.subnet} overlaps {clash[0]} of another network")
        clash = [o for o in host if _overlap(o, cfg.subnet)]
        if clash:
            raise Conflict(f"subnet {cfg.subnet} overlaps host route or address {clash[0]}")
        out.append(AddressPool(cfg.subnet, cfg.gateway, cfg.ip_range, cfg.aux_addresses.values()))
    taken = [*ours, *host, *(p.subnet for p in out)]
    if not any(p.subnet.version == 4 for p in out):
        out.insert(0, AddressPool(choose_subnet(pools, taken, 4)))
    if enable_ipv6 and not any(p.subnet.version == 6 for p in out):
        v6_pools = [p for p in pools if p.base.version == 6]
        subnet = choose_subnet(v6_pools, taken, 6) if v6_pools else ula_subnet(net_id, taken)
        out.append(AddressPool(subnet))
    return out


def bridge_rules(net: Network) -> BridgeRules:
    return BridgeRules(net.id, net.bridge, tuple(p.subnet for p in net.pools), net.internal,
                       _truthy(net.options.get(OPT_MASQUERADE), True), _truthy(net.options.get(OPT_ICC), True))


def build(net: Network, firewall: Firewall | IptablesFirewall, enable_ip_forward: bool) -> None:
    """Bridge with gateway addresses, per-bridge forwarding, firewall rules; all or nothing."""
    gateways = [ipaddress.ip_interface(f"{p.gateway}/{p.subnet.prefixlen}") for p in net.pools]
    mtu = int(net.options[OPT_MTU]) if net.options.get(OPT_MTU) else None
    with IPRoute() as ipr:
        _bridge.create_bridge(ipr, net.bridge, gateways, mtu)
        try:
            _bridge.set_forwarding(net.bridge, not net.internal)
            firewall.add(bridge_rules(net))
            if enable_ip_forward and not net.internal:
                enable_host_forwarding(net.enable_ipv6)
        except BaseException:
            firewall.remove(net.id, net.bridge)
            _bridge.delete_bridge(ipr, net.bridge)
            raise


def teardown(net: Network, firewall: Firewall | IptablesFirewall) -> None:
    firewall.remove(net.id, net.bridge)
    with IPRoute() as ipr:
        _bridge.delete_bridge(ipr, net.bridge)


def drop_stray_veths(ipr: IPRoute, net: Network) -> None:
    """Delete veths on the network's bridge that no endpoint names (left by a crash mid-connect)."""
    bridge = _bridge.link_index(ipr, net.bridge)
    known = {ep.host_veth for ep in net.endpoints.values()}
    for link in ipr.get_links():
        if link.get("master") == bridge and link.get("ifname") not in known \
                and link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") == "veth":
            log.warning("removing stray veth %s from bridge %s", link.get("ifname"), net.bridge)
            _veth.detach_veth(ipr, link.get("ifname"))


def enable_host_forwarding(ipv6: bool) -> None:
    """Docker's behaviour: turn on host-wide IP forwarding so non-internal networks reach the outside."""
    for key in (["net/ipv4/ip_forward"] + (["net/ipv6/conf/all/forwarding"] if ipv6 else [])):
        path = Path("/proc/sys") / key
        if path.read_text().strip() != "1":
            log.info("enabling %s for bridge networks", key.replace("/", "."))
            path.write_text("1")
