"""The kernel side of one bridge network: its subnets, bridge, forwarding and firewall rules.

``plan_pools`` picks subnets (configured ones checked against everything, others from the pools); ``build``
makes the bridge with its gateways and adds the rules, undoing itself on failure; ``teardown`` removes both;
``drop_stray_veths`` removes veths on the bridge that no endpoint record names.

A bridge name already on the host (say ``pycompose0`` after an engine with another data root stopped) is
adopted only when its mark says we made it, its network's record is gone (or belongs to this engine) and
nothing is attached to it; the old network's firewall rules go with the adoption. Anything else is refused
with a ``Conflict`` naming the owner; a foreign interface is never touched.
"""
from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from pyroute2 import IPRoute

from runtime.errors import Conflict, InvalidArgument
from runtime.network import bridge as _bridge
from runtime.network import endpoint as _veth
from runtime.network.ipam import AddressPool, IpamSpec, IPNetwork, Pool, choose_subnet, ula_subnet
from runtime.network.model import OPT_BRIDGE_NAME, OPT_ICC, OPT_MASQUERADE, OPT_MTU, Network
from runtime.network.iptables import IptablesFirewall
from runtime.network.nat import BridgeRules, Firewall
from runtime.network.reaper import LinkReaper
from runtime.network.store import network_record

__all__ = ["plan_pools", "bridge_rules", "build", "teardown", "drop_stray_veths", "enable_host_forwarding",
           "claim_leftover", "sweep_orphans"]

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


def claim_leftover(ipr: IPRoute, name: str, root: Path | None) -> _bridge.BridgeMark | None:
    """The mark of bridge ``name`` when it is a leftover of ours that the engine at ``root`` may adopt;
    ``None`` when there is no such interface. Raises :class:`Conflict` for anything else."""
    index = _bridge.link_index(ipr, name)
    if index is None:
        return None
    mark = _bridge.read_mark(ipr, index)
    if mark is None:
        raise Conflict(f"an interface named {name} already exists on the host and pycompose did not make it; "
                       f"it is left alone: choose another bridge name (network option {OPT_BRIDGE_NAME}, or "
                       f"the engine's default bridge name)")
    here = root is not None and Path(mark.root) == root
    if mark.root and not here and network_record(Path(mark.root), mark.network_id).exists():
        raise Conflict(f"bridge {name} belongs to network {mark.network_id[:12]} of the pycompose engine with "
                       f"data root {mark.root}; remove that network there, or choose another bridge name")
    attached = _bridge.members(ipr, index)
    if attached:
        raise Conflict(f"bridge {name} was left by pycompose network {mark.network_id[:12]} but interfaces are "
                       f"still attached to it ({', '.join(sorted(attached))}); stop the containers using it, or "
                       f"choose another bridge name")
    return mark


def build(net: Network, firewall: Firewall | IptablesFirewall, enable_ip_forward: bool,
          root: Path | None = None) -> None:
    """Bridge with gateway addresses, per-bridge forwarding, firewall rules; all or nothing.

    ``root`` (the engine's data root, absolute) goes into the bridge's mark; a leftover of ours of the same
    name is adopted (see :func:`claim_leftover`)."""
    gateways = [ipaddress.ip_interface(f"{p.gateway}/{p.subnet.prefixlen}") for p in net.pools]
    mtu = int(net.options[OPT_MTU]) if net.options.get(OPT_MTU) else None
    mark = _bridge.BridgeMark(net.id, str(root) if root else "")
    with IPRoute() as ipr:
        try:
            _bridge.create_bridge(ipr, net.bridge, gateways, mtu, mark)
        except Conflict:
            stale = claim_leftover(ipr, net.bridge, root)
            if stale is None:
                raise
            log.warning("adopting bridge %s left behind by pycompose network %s", net.bridge, stale.network_id[:12])
            firewall.remove(stale.network_id, net.bridge)
            _bridge.create_bridge(ipr, net.bridge, gateways, mtu, mark, adopt=True)
        try:
            _bridge.set_forwarding(net.bridge, not net.internal)
            firewall.add(bridge_rules(net))
            if enable_ip_forward and not net.internal:
                enable_host_forwarding(net.enable_ipv6)
        except BaseException:
            firewall.remove(net.id, net.bridge)
            _bridge.delete_bridge(ipr, net.bridge)
            raise


def teardown(net: Network, firewall: Firewall | IptablesFirewall, reaper: LinkReaper | None = None) -> None:
    """Rules, then the bridge: deleted here, or retired to ``reaper`` (gone from view now, deleted soon)."""
    firewall.remove(net.id, net.bridge)
    with IPRoute() as ipr:
        if reaper is not None:
            reaper.retire(ipr, net.bridge)
        else:
            _bridge.delete_bridge(ipr, net.bridge)


def sweep_orphans(ipr: IPRoute, root: Path, known: Iterable[str]) -> list[str]:
    """Delete bridges marked as made by the engine at ``root`` for a network not in ``known`` (left by a crash
    mid-remove); returns their names."""
    known = set(known)
    gone = []
    for link in ipr.get_links():
        mark = _bridge.mark_of(link)
        if mark is not None and mark.root == str(root) and mark.network_id not in known:
            log.warning("removing bridge %s of network %s, which no record knows", link.get("ifname"),
                        mark.network_id[:12])
            if _bridge.delete_link(ipr, link.get("ifname")):
                gone.append(link.get("ifname"))
    return gone


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
