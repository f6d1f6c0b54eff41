"""The network service: bridge networks, sandboxes (container netns), endpoints and published ports.

``NetworkService(root, run_dir)`` keeps one JSON record per network under ``<root>/networks`` (atomic writes),
port-proxy records under ``<root>/ports``, and sandboxes as nsfs bind mounts under ``<run_dir>/netns``. A new
instance over the same root re-adopts everything (:meth:`restore` rebuilds what a reboot took away).

Read API for the embedded DNS and the daemon: :meth:`list`, :meth:`get`, :meth:`endpoints`,
:meth:`endpoints_of`, :meth:`sandbox_path`, :meth:`endpoint_by_ip`; :meth:`subscribe` delivers a
:class:`NetworkEvent` after every create / remove / connect / disconnect (state already on disk).

A container's network life, as the daemon drives it:
1. ``check_ports(bindings)`` - a taken host port fails here, before anything exists;
2. ``sandbox_for_mode(network_mode, cid)`` - a new netns (``None`` for host, the other's for
   ``container:<id>``), given to the container spec as ``netns_path``;
3. ``connect(net, cid, name=..., aliases=..., priority=...)`` per network, highest priority first
   (``default_bridge()`` for Docker's ``bridge``/``default``); the best non-internal one gets the default route;
4. ``publish(cid, bindings)`` - host sockets bound, proxy started; ``network_settings(cid)`` for inspect;
5. on stop/remove: ``destroy_sandbox(cid)`` - unpublish, disconnect all, delete the netns.
At daemon start: ``restore()``.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import ipaddress
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute

from runtime.errors import Conflict, EngineError, InvalidArgument, InvalidState, NotFound, Unsupported
from runtime.network import bridge as _bridge
from runtime.network import bridgenet
from runtime.network import endpoint as _veth
from runtime.network import rtnl as _rtnl
from runtime.network.endpointcfg import endpoint_ifname, link_local_interfaces
from runtime.network.filters import created_before, filter_networks, label_match
from runtime.network.hostlock import host_lock
from runtime.network.ipam import DEFAULT_POOLS, AddressPool, IpamSpec, Pool, host_networks
from runtime.network.model import (
    OPT_BRIDGE_NAME, OPT_DEFAULT_BRIDGE, OPT_HOST_BINDING, OPT_ICC, OPT_IFACE_PREFIX, OPT_MASQUERADE, OPT_MTU,
    Endpoint, Network, NetworkEvent,
)
from runtime.network.conntrack import forget_udp_flows
from runtime.network.firewall import make_firewall
from runtime.network.nat import DEFAULT_TABLE
from runtime.network.netns import NetnsStore, is_netns_file
from runtime.network.portnat import PortRules, forwarded_families, plan_port_rules
from runtime.network.ports import BoundPort, PortBinding, PortTargets, bind_ports, close_sockets, ports_to_engine
from runtime.network.publisher import Publisher
from runtime.network.reaper import LinkReaper
from runtime.network.store import (
    atomic_write_json, network_record, read_cursor, read_endpoints, read_json, remove_endpoint,
    append_cursor, remove_network_files, write_endpoint,
)

__all__ = ["NetworkService", "Network", "Endpoint", "NetworkEvent"]

log = logging.getLogger(__name__)

_PREDEFINED = {"host": "host", "none": "null"}
_List = list  # the class has a method named ``list``: annotations inside it use this alias
_SANDBOX_SOCKS = 256  # sandboxes made and not yet connected that keep a netlink socket ready (one fd each)
_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat().replace("+00:00", "Z")


class NetworkService:
    """Networks, sandboxes and endpoints of one engine. Thread-safe; every call is blocking kernel work."""

    def __init__(self, root: str | os.PathLike[str], run_dir: str | os.PathLike[str], *,
                 pools: Iterable[Pool] = DEFAULT_POOLS, nft_table: str = DEFAULT_TABLE,
                 default_bridge_name: str = "pycompose0", enable_ip_forward: bool = True,
                 firewall_backend: str | None = None) -> None:
        self.root = Path(root).absolute()
        self.run_dir = Path(run_dir)
        self.pools = tuple(pools)
        self.default_bridge_name = default_bridge_name
        self.enable_ip_forward = enable_ip_forward
        self.netns = NetnsStore(self.run_dir)
        self.firewall = make_firewall(firewall_backend, nft_table)
        self.publisher = Publisher(self.root / "ports", self.run_dir / "proxy")
        self.reaper = LinkReaper()
        self._dir = self.root / "networks"
        self._lock = threading.RLock()
        self._subscribers: _List[Callable[[NetworkEvent], None]] = []
        self._networks: dict[str, Network] = {}
        self._cursors: dict[str, dict[str, str]] = {}  # network id -> IPAM's last pick per family (as saved)
        self._sandbox_socks: dict[str, socket.socket] = {}  # sandbox path -> netlink socket in it, until connect
        self._load()

    # -- persistence -----------------------------------------------------------------------------------

    def _load(self) -> None:
        if self._dir.is_dir():
            for path in sorted(self._dir.glob("*.json")):
                try:
                    raw = read_json(path)
                    net = Network.from_state(raw)
                    legacy = bool(net.endpoints)  # an older engine kept them in the network record
                    for ep_raw in read_endpoints(self.root, net.id):
                        try:
                            net.put_endpoint(Endpoint.from_state(ep_raw))
                        except (ValueError, KeyError, TypeError) as err:
                            log.error("endpoint record of %s on network %s is unreadable and was skipped: %s",
                                      str(ep_raw.get("container_id"))[:12], net.name, err)
                    cursor = read_cursor(self.root, net.id)
                    net.pools = _pools_of(net, cursor)
                except (OSError, ValueError, KeyError, TypeError) as err:  # one bad record must not stop the engine
                    log.error("network record %s is unreadable and was skipped: %s", path, err)
                    continue
                self._networks[net.id] = net
                self._cursors[net.id] = cursor
                if legacy:  # move them out: a file each, then the record without them
                    for ep in net.endpoints.values():
                        self._save_endpoint(ep)
                    self._save(net)
        for name, driver in _PREDEFINED.items():
            if not any(n.name == name and n.driver == driver for n in self._networks.values()):
                net = Network(os.urandom(32).hex(), name, driver, _now())
                self._networks[net.id] = net
                self._save(net)

    def _save(self, net: Network) -> None:
        """The network's own record (durable); its endpoints have a file each (:meth:`_save_endpoint`)."""
        state = dataclasses.replace(net, endpoints={}).to_state()
        del state["endpoints"]
        atomic_write_json(network_record(self.root, net.id), state)

    def _save_endpoint(self, ep: Endpoint) -> None:
        write_endpoint(self.root, ep.network_id, ep.container_id, ep.to_state())

    def _save_cursor(self, net: Network, ep: Endpoint) -> None:
        """Remember the addresses IPAM chose for ``ep`` as the network's round-robin position."""
        cursor = self._cursors.get(net.id)
        if cursor is None:
            cursor = self._cursors[net.id] = read_cursor(self.root, net.id)
        changed = False
        for family, iface, static in (("4", ep.ipv4, ep.static_ipv4), ("6", ep.ipv6, ep.static_ipv6)):
            if iface is not None and not static:
                cursor[family] = str(iface.ip)
                changed = True
        if changed:
            append_cursor(self.root, net.id, cursor)

    # -- events ----------------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[NetworkEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` after each change; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def _unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)
        return _unsubscribe

    def _emit(self, event: NetworkEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - a listener's bug must not undo a finished change
                log.exception("network event listener failed on %s", event.action)

    # -- lookup ----------------------------------------------------------------------------------------

    def get(self, ref: str) -> Network:
        """By full id, exact name, or unique id prefix (Docker's order)."""
        with self._lock:
            if ref in self._networks:
                return self._networks[ref]
            by_name = [n for n in self._networks.values() if n.name == ref]
            if by_name:
                return by_name[0]
            by_prefix = [n for n in self._networks.values() if n.id.startswith(ref)] if ref else []
            if len(by_prefix) == 1:
                return by_prefix[0]
            if len(by_prefix) > 1:
                raise InvalidArgument(f"network {ref} is ambiguous ({len(by_prefix)} matches found on id prefix)")
            raise NotFound(f"network {ref} not found")

    def list(self, filters: Mapping[str, Iterable[str]] | None = None) -> _List[Network]:
        """Networks matching Docker's filters: ``name`` (substring), ``id`` (prefix), ``label`` (``k`` or
        ``k=v``), ``driver``, ``type`` (``custom``/``builtin``)."""
        with self._lock:
            nets = sorted(self._networks.values(), key=lambda n: (n.created, n.name))
        return filter_networks(nets, filters)

    def inspect(self, ref: str) -> dict[str, Any]:
        with self._lock:
            return self.get(ref).inspect()

    def endpoints(self, ref: str) -> _List[Endpoint]:
        return list(self.get(ref).endpoints.values())

    def endpoints_of(self, container_id: str) -> _List[Endpoint]:
        """The container's endpoints, eth0 first."""
        with self._lock:
            eps = [n.endpoints[container_id] for n in self._networks.values() if container_id in n.endpoints]
        return sorted(eps, key=lambda e: (len(e.ifname), e.ifname))

    def endpoint_by_ip(self, address: str) -> Endpoint | None:
        """The endpoint holding ``address`` (IPv4 or IPv6) on any network."""
        ip = ipaddress.ip_address(address)
        with self._lock:
            for net in self._networks.values():
                for ep in net.endpoints.values():
                    if (ep.ipv4 and ep.ipv4.ip == ip) or (ep.ipv6 and ep.ipv6.ip == ip):
                        return ep
        return None

    # -- networks --------------------------------------------------------------------------------------

    def create(self, name: str, driver: str = "bridge", ipam: IpamSpec | Mapping[str, Any] | None = None,
               internal: bool = False, enable_ipv6: bool = False, options: Mapping[str, str] | None = None,
               labels: Mapping[str, str] | None = None, attachable: bool = False,
               check_duplicate: bool = True, enable_ipv4: bool = True) -> Network:
        """Create a bridge network: subnets, bridge with gateways, firewall rules. All or nothing.

        ``enable_ipv4=False`` (with ``enable_ipv6``) makes an IPv6-only network: no IPv4 subnet at all."""
        if not name or "/" in name:
            raise InvalidArgument(f"invalid network name {name!r}")
        driver = driver or "bridge"
        if driver != "bridge":
            if driver in ("host", "null"):
                raise Unsupported(f"only one instance of \"{driver}\" network is allowed")
            raise Unsupported(f"network driver {driver!r} is not supported (only 'bridge')")
        spec = ipam if isinstance(ipam, IpamSpec) else IpamSpec.from_dict(dict(ipam) if ipam else None)
        opts = {str(k): str(v) for k, v in (options or {}).items()}
        _check_families(spec, enable_ipv4, enable_ipv6)
        with self._lock, host_lock():
            if any(n.name == name for n in self._networks.values()):
                raise Conflict(f"network with name {name} already exists")
            net_id = os.urandom(32).hex()
            bridge = _bridge.check_ifname(opts.get(OPT_BRIDGE_NAME) or _bridge.bridge_name_for(net_id))
            if any(n.bridge == bridge for n in self._networks.values()):
                raise Conflict(f"bridge name {bridge} is already used by another network")
            pools = bridgenet.plan_pools(net_id, spec, enable_ipv6,
                                         [p.subnet for n in self._networks.values() for p in n.pools],
                                         host_networks(), self.pools)
            if not enable_ipv4:
                pools = [p for p in pools if p.subnet.version == 6]
            net = Network(net_id, name, driver, _now(), bridge=bridge, internal=internal, attachable=attachable,
                          enable_ipv6=enable_ipv6, ipam=spec, options=opts, labels=dict(labels or {}),
                          pools=pools, enable_ipv4=enable_ipv4)
            self._save(net)  # write-ahead: restore() completes a create cut short by a crash
            try:
                bridgenet.build(net, self.firewall, self.enable_ip_forward, self.root)
            except BaseException:
                remove_network_files(self.root, net.id)
                raise
            self._networks[net.id] = net
        self._emit(NetworkEvent("create", net.id, net.name))
        return net

    def _teardown(self, net: Network, reap: bool = False) -> None:
        """Rules and bridge of ``net``; with ``reap`` the bridge is retired now and deleted by the reaper."""
        bridgenet.teardown(net, self.firewall, self.reaper if reap else None)

    def remove(self, ref: str) -> None:
        """Delete a network; refused while any container is attached."""
        with self._lock:
            net = self.get(ref)
            if net.driver in ("host", "null") or net.options.get(OPT_DEFAULT_BRIDGE) == "true":
                raise Conflict(f"{net.name} is a pre-defined network and cannot be removed")
            if net.endpoints:
                names = ", ".join(sorted(ep.name or cid[:12] for cid, ep in net.endpoints.items()))
                raise Conflict(f"error while removing network: network {net.name} id {net.id} has active "
                               f"endpoints ({names})")
            self._drop(net)
        self._emit(NetworkEvent("remove", net.id, net.name))

    def _drop(self, net: Network) -> None:
        net.removing = True
        self._save(net)  # restore() finishes a removal cut short by a crash
        with host_lock():
            self._teardown(net, reap=True)
        remove_network_files(self.root, net.id)
        del self._networks[net.id]
        self._cursors.pop(net.id, None)

    def prune(self, filters: Mapping[str, Iterable[str]] | None = None) -> _List[str]:
        """Remove unused custom networks matching ``label`` / ``label!`` / ``until`` filters; their names."""
        wanted: dict[str, _List[str]] = {k: _List(v) for k, v in (filters or {}).items()}
        removed = []
        for net in self.list({"type": ["custom"], **({"label": wanted["label"]} if "label" in wanted else {})}):
            if net.endpoints:
                continue
            if any(label_match(net.labels, v) for v in wanted.get("label!", [])):
                continue
            if wanted.get("until") and not created_before(net.created, wanted["until"][0]):
                continue
            try:
                self.remove(net.id)
            except (Conflict, NotFound):
                continue
            removed.append(net.name)
        return removed

    def close(self, timeout: float = 30.0) -> None:
        """The engine stops: release the default bridge if idle, finish deleting removed bridges, end the spare
        port proxy (published ports keep their proxies)."""
        self.release_default_bridge()
        with self._lock:
            socks, self._sandbox_socks = list(self._sandbox_socks.values()), {}
        for sock in socks:
            sock.close()
        self.reaper.drain(timeout)
        self.publisher.close()

    def release_default_bridge(self) -> bool:
        """The engine is stopping: remove Docker's default ``bridge`` network (bridge, rules and record) when no
        container is attached to it; the next engine makes it again on first use. True when it was removed."""
        with self._lock:
            net = next((n for n in self._networks.values() if n.options.get(OPT_DEFAULT_BRIDGE) == "true"), None)
            if net is None or net.endpoints:
                return False
            self._drop(net)
        self._emit(NetworkEvent("remove", net.id, net.name))
        return True

    def default_bridge(self) -> Network:
        """Docker's default ``bridge`` network, created on first use."""
        with self._lock:
            for net in self._networks.values():
                if net.options.get(OPT_DEFAULT_BRIDGE) == "true":
                    return net
            return self.create("bridge", options={OPT_BRIDGE_NAME: self.default_bridge_name,
                                                  OPT_DEFAULT_BRIDGE: "true", OPT_ICC: "true",
                                                  OPT_MASQUERADE: "true"})

    # -- sandboxes -------------------------------------------------------------------------------------

    def sandbox_path(self, container_id: str) -> Path:
        return self.netns.path(container_id)

    def create_sandbox(self, container_id: str) -> Path:
        """A fresh network namespace for the container (only ``lo``, up); returns its path.

        As Docker does, unprivileged processes in it may bind ports below 1024 and send pings (both sysctls
        are per network namespace, so the host is unaffected)."""
        with self._lock:
            # The thread that makes the namespace also sets the sysctls and opens the netlink socket the first
            # connect will use: neither that nor the connect needs a thread of its own to enter the namespace.
            path, fd = self.netns.create_then(container_id, _prepare_sandbox)
            if fd is not None:
                old = self._sandbox_socks.pop(str(path), None)
                if old is not None:
                    old.close()
                if len(self._sandbox_socks) < _SANDBOX_SOCKS:
                    self._sandbox_socks[str(path)] = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0, fileno=fd)
                else:
                    os.close(fd)
            return path

    def sandbox_for_mode(self, mode: str, container_id: str) -> Path | None:
        """The netns a container joins for its ``network_mode``: ``None`` for ``host`` (no new namespace),
        the other container's for ``container:<id>``, a new one for ``none`` and every network name."""
        if mode == "host":
            return None
        if mode.startswith("container:"):
            other = mode.split(":", 1)[1]
            path = self.sandbox_path(other)
            if not is_netns_file(path):
                raise NotFound(f"cannot join network of container {other[:12]}: it has no network namespace")
            return path
        if mode.startswith("service:"):
            raise InvalidArgument("network_mode service:NAME is resolved by the client to container:<id>")
        return self.create_sandbox(container_id)

    def destroy_sandbox(self, container_id: str) -> None:
        """Unpublish the ports, disconnect every network, delete the namespace. Missing parts are fine.

        ``container_id`` is the sandbox's key: endpoints of any container living in that sandbox go too."""
        path = str(self.netns.path(container_id))
        with self._lock:
            eps = [ep for n in self._networks.values() for ep in n.endpoints.values()
                   if ep.container_id == container_id or ep.sandbox == path]
        for cid in {container_id, *(ep.container_id for ep in eps)}:
            self.unpublish(cid)
        for ep in eps:
            self._leave(ep)
        with self._lock:
            sock = self._sandbox_socks.pop(path, None)
        if sock is not None:
            sock.close()
        if self.netns.path(container_id).exists():
            self.netns.delete(container_id)

    def _leave(self, ep: Endpoint) -> None:
        """:meth:`destroy_sandbox`'s disconnect. The sandbox goes next, so its default route is not re-elected
        and its ports are already unpublished; the pair is cut off the bridge now (about a millisecond) and
        deleted by the reaper (the kernel's 20-50 ms of RCU grace periods off the caller's path)."""
        with self._lock:
            net = self._networks.get(ep.network_id)
            current = net.endpoints.get(ep.container_id) if net is not None else None
            if net is None or current is None or current.endpoint_id != ep.endpoint_id:
                return
            # The record goes first: should the engine die before the veth is cut off, restore removes the veth
            # as a stray on the bridge.
            net.drop_endpoint(ep.container_id)
            remove_endpoint(self.root, net.id, ep.container_id)
            for pool, iface in ((net.pool(4), current.ipv4), (net.pool(6), current.ipv6)):
                if pool and iface:
                    pool.release(iface.ip)
            retired = _veth.retire_veth(current.host_veth)
            if retired is not None:
                self.reaper.delete_later(retired)
        self._emit(NetworkEvent("disconnect", net.id, net.name, current))

    # -- endpoints -------------------------------------------------------------------------------------

    def connect(self, network: str, container_id: str, sandbox: str | os.PathLike[str] | None = None, *,
                name: str | None = None, aliases: Iterable[str] = (), ipv4_address: str | None = None,
                ipv6_address: str | None = None, mac_address: str | None = None, priority: int = 0,
                ifname: str | None = None, driver_opts: Mapping[str, Any] | None = None,
                link_local_ips: Iterable[str] | None = None, links: Iterable[tuple[str, str]] = ()) -> Endpoint:
        """Attach the container's sandbox to ``network``: veth on the bridge, ``ethN`` with addresses inside.

        ``ifname`` (compose ``interface_name``, else the endpoint's ``com.docker.network.endpoint.ifname``
        driver option) names the interface instead of the next free ``eth<N>`` (the prefix comes from the
        ``com.docker.network.container_iface_prefix`` option when set). ``link_local_ips`` are added to it too.
        ``links``: (alias, container name) pairs, names the embedded DNS answers for this container alone on
        this network (Docker's links on a user-defined network)."""
        with self._lock:
            net = self.get(network)
            if net.driver != "bridge":
                raise InvalidArgument(f"container cannot be connected to the {net.name} network")
            if container_id in net.endpoints:
                raise Conflict(f"endpoint with name {name or container_id[:12]} already exists in network "
                               f"{net.name}")
            sandbox_path = str(sandbox) if sandbox else str(self.sandbox_path(container_id))
            if not is_netns_file(sandbox_path):
                raise InvalidState(f"container {container_id[:12]} has no network namespace at {sandbox_path}")
            if mac_address and (not _MAC.match(mac_address) or int(mac_address[:2], 16) & 1):
                raise InvalidArgument(f"invalid MAC address {mac_address!r} (a unicast xx:xx:xx:xx:xx:xx)")
            if ifname is not None:
                _bridge.check_ifname(ifname)
            else:
                ifname = endpoint_ifname(driver_opts)
            link_local = link_local_interfaces(link_local_ips)
            if ipv6_address and not net.enable_ipv6:
                raise InvalidArgument(f"network {net.name} does not have IPv6 enabled")
            if ipv4_address and not net.enable_ipv4:
                raise InvalidArgument(f"network {net.name} does not have IPv4 enabled")
            v4_pool, v6_pool = net.pool(4), net.pool(6)
            ipv4 = v4_pool.allocate(ipv4_address) if v4_pool else None
            try:
                ipv6 = v6_pool.allocate(ipv6_address) if v6_pool else None
            except BaseException:
                if v4_pool and ipv4:
                    v4_pool.release(ipv4)
                raise
            # The default route goes to the best non-internal network: this one if it outranks the holder.
            holder = next((e for e in self.endpoints_of(container_id) if e.default_route), None)
            takes = not net.internal and (v4_pool is not None or v6_pool is not None) and (
                holder is None or priority > holder.priority)
            try:
                ep = self._attach(net, container_id, sandbox_path, name, tuple(aliases), ipv4, ipv6,
                                  mac_address, priority, takes, ifname, bool(ipv4_address), bool(ipv6_address),
                                  link_local)
                ep = replace(ep, link_local=tuple(str(a.ip) for a in link_local),
                             driver_opts=tuple((str(k), str(v)) for k, v in (driver_opts or {}).items()),
                             links=tuple((str(a), str(t)) for a, t in links))
            except BaseException:
                for pool, addr in ((v4_pool, ipv4), (v6_pool, ipv6)):
                    if pool and addr:
                        pool.release(addr)
                raise
            net.put_endpoint(ep)
            self._save_endpoint(ep)
            self._save_cursor(net, ep)
            if takes and holder is not None:
                demoted = holder.with_default_route(False)
                self._networks[holder.network_id].put_endpoint(demoted)
                self._save_endpoint(demoted)
        self._emit(NetworkEvent("connect", net.id, net.name, ep))
        return ep

    def _attach(self, net: Network, container_id: str, sandbox: str, name: str | None, aliases: tuple[str, ...],
                ipv4: Any, ipv6: Any, mac_address: str | None, priority: int, default_route: bool,
                ifname: str | None, ipv4_address: bool, ipv6_address: bool,
                link_local: tuple[Any, ...] = ()) -> Endpoint:
        v4_pool, v6_pool = net.pool(4), net.pool(6)
        mac = mac_address or _veth.mac_for(ipv4)
        addrs = []
        if ipv4 is not None and v4_pool:
            addrs.append(ipaddress.ip_interface(f"{ipv4}/{v4_pool.subnet.prefixlen}"))
        if ipv6 is not None and v6_pool:
            addrs.append(ipaddress.ip_interface(f"{ipv6}/{v6_pool.subnet.prefixlen}"))
        mtu = int(net.options[OPT_MTU]) if net.options.get(OPT_MTU) else None
        gateways = [p.gateway for p in (v4_pool, v6_pool) if p is not None] if default_route else []
        sock = self._sandbox_socks.pop(sandbox, None)  # opened by create_sandbox, used once
        with _rtnl.Rtnl(sandbox, sock=sock) as ns:
            if ifname is None:
                prefix = _bridge.check_ifname(net.options.get(OPT_IFACE_PREFIX) or "eth")
                ifname = _veth.next_ifname(_veth.sandbox_ifnames(ns), prefix)
            spec = _veth.VethSpec(net.bridge, sandbox, ifname, tuple(addrs) + link_local, mac, mtu)
            host = _veth.attach_veth(spec, gateways, ns=ns)
        return Endpoint(
            net.id, container_id, os.urandom(32).hex(), (name or container_id[:12]).lstrip("/"), aliases,
            ifname, host, sandbox, mac,
            addrs[0] if addrs and addrs[0].version == 4 else None,
            next((a for a in addrs if a.version == 6), None),
            v4_pool.gateway if v4_pool else None,  # type: ignore[arg-type]
            v6_pool.gateway if v6_pool else None,  # type: ignore[arg-type]
            priority, default_route,
            str(ipv4) if ipv4_address else "", str(ipv6) if ipv6_address else "",
        )

    def _elect_gateway(self, container_id: str) -> None:
        """Give the sandbox's default route to its best non-internal endpoint (highest priority, then eth0..)."""
        eps = self.endpoints_of(container_id)
        candidates = [e for e in eps if not self._networks[e.network_id].internal and (e.gateway or e.gateway6)]
        best = max(candidates, key=lambda e: e.priority, default=None)
        current = next((e for e in eps if e.default_route), None)
        if current is not None and best is not None and best.priority <= current.priority \
                and current in candidates:
            return
        if best is not None:
            if best.gateway:  # an IPv6-only network has none
                _veth.set_default_route(best.sandbox, best.ifname, best.gateway)
            if best.gateway6:
                _veth.set_default_route(best.sandbox, best.ifname, best.gateway6)
        elif eps:
            for version in (4, 6):
                _veth.clear_default_route(eps[0].sandbox, version)
        for ep in eps:
            flag = best is not None and ep.network_id == best.network_id
            if ep.default_route != flag:
                changed = ep.with_default_route(flag)
                self._networks[ep.network_id].put_endpoint(changed)
                self._save_endpoint(changed)

    def disconnect(self, network: str, container_id: str, force: bool = False) -> None:
        """Detach the container from ``network`` (its ``ethN`` disappears); re-elect the default route."""
        with self._lock:
            net = self.get(network)
            ep = net.endpoints.get(container_id)
            if ep is None:
                if force:
                    return
                raise NotFound(f"container {container_id[:12]} is not connected to network {net.name}")
            # The record goes first: should the engine die before the veth is cut off, restore removes the veth
            # as a stray on the bridge. The pair is cut off now (ethN gone from the sandbox, host side off the
            # bridge) and deleted by the reaper: the kernel's 20-50 ms of RCU grace periods off the caller's path.
            net.drop_endpoint(container_id)
            remove_endpoint(self.root, net.id, container_id)
            for pool, iface in ((net.pool(4), ep.ipv4), (net.pool(6), ep.ipv6)):
                if pool and iface:
                    pool.release(iface.ip)
            live = is_netns_file(ep.sandbox)
            # the reaper deletes the pair; the call returns once ethN is off the container's link list (~2 ms)
            _veth.retire_veth(ep.host_veth, sandbox=ep.sandbox if live else None, ifname=ep.ifname,
                              reaper=self.reaper)
            if ep.default_route and live:
                self._elect_gateway(container_id)
            try:
                self._retarget_ports(container_id, ep)
            except EngineError as err:  # the disconnect itself is done; say what was lost
                log.warning("published ports of %s dropped on disconnect: %s", container_id[:12], err)
        self._emit(NetworkEvent("disconnect", net.id, net.name, ep))

    def _retarget_ports(self, container_id: str, gone: Endpoint) -> None:
        """Published ports aimed at a disconnected endpoint move to the container's next eligible address
        (same host ports), or are unpublished when there is none."""
        targets = self.publisher.targets(container_id)
        if targets is None or not set(targets.addresses()) & set(_addresses(gone)):
            return
        ports = self.publisher.published(container_id)
        self.unpublish(container_id)
        target = self._port_target(container_id)
        if target is not None:
            self._publish(container_id, [PortBinding(p.container_port, p.protocol, p.host_ip, p.host_port)
                                         for p in ports], target)

    # -- published ports -------------------------------------------------------------------------------

    def check_ports(self, bindings: Iterable[PortBinding]) -> None:
        """Raise :class:`Conflict` now if any wished host port is taken (binds, then lets go)."""
        close_sockets(s for _, s in bind_ports(bindings))

    def publish(self, container_id: str, bindings: Iterable[PortBinding]) -> _List[BoundPort]:
        """Publish ports to the container's address on its default-route network; returns what was bound."""
        bindings = list(bindings)
        if not bindings:
            return []
        target = self._port_target(container_id)
        if target is None:
            raise InvalidState(f"container {container_id[:12]} has no address on a non-internal bridge network "
                               "to publish ports to")
        default_ip = self._networks[target.network_id].options.get(OPT_HOST_BINDING, "")
        if default_ip:
            bindings = [b if b.host_ip else PortBinding(b.container_port, b.protocol, default_ip, b.host_port,
                                                        b.host_port_end) for b in bindings]
        return self._publish(container_id, bindings, target)

    def _publish(self, container_id: str, bindings: Iterable[PortBinding], target: Endpoint) -> _List[BoundPort]:
        """The proxy, then the kernel DNAT beside it (one nft transaction); the proxy goes again if that fails."""
        targets = PortTargets(*_addresses(target))
        bound = self.publisher.publish(container_id, bindings, targets)
        try:
            self.firewall.add_ports(self._port_rules(container_id, target, bound, targets))
        except BaseException:
            self.publisher.unpublish(container_id)
            raise
        return bound

    def _port_rules(self, container_id: str, target: Endpoint, bound: Iterable[BoundPort], targets: PortTargets
                    ) -> PortRules:
        """The DNAT rules of the container's published ports: none on an internal network (proxy only)."""
        net = self._networks.get(target.network_id)
        if net is None or net.internal or not net.bridge:
            return PortRules(container_id, "", ())
        return plan_port_rules(container_id, net.bridge, bound, targets, forwarded_families())

    def _port_target(self, container_id: str) -> Endpoint | None:
        """The endpoint published ports forward to: the default-route one, else the first non-internal one
        with an address (IPv4, IPv6 or both: each host socket goes to the address of its family if any)."""
        eps = self.endpoints_of(container_id)
        return next((e for e in eps if e.default_route and (e.ipv4 or e.ipv6)), None) or \
            next((e for e in eps if (e.ipv4 or e.ipv6) and not self._networks[e.network_id].internal), None)

    def unpublish(self, container_id: str) -> bool:
        """Remove the container's DNAT rules and stop its proxy. False when nothing was published."""
        targets = self.publisher.targets(container_id)
        if targets is None:
            return False
        forwards = plan_port_rules(container_id, "", self.publisher.published(container_id), targets).forwards
        if not forwards:
            return self.publisher.unpublish(container_id)  # no DNAT rules for ports on loopback alone
        # The rules' removal waits out a kernel grace period (~15 ms): the proxy stops meanwhile.
        failed: _List[BaseException] = []

        def _remove_rules() -> None:
            try:
                self.firewall.remove_ports(container_id)
            except BaseException as err:  # noqa: BLE001 - raised in the caller's thread below
                failed.append(err)
        worker = threading.Thread(target=_remove_rules, name="unpublish-rules")
        worker.start()
        try:
            return self.publisher.unpublish(container_id)
        finally:
            worker.join()
            if failed:
                raise failed[0]
            forget_udp_flows(forwards)  # the rules are gone: flows DNAT'd to the container are NAT'd afresh

    def published(self, container_id: str) -> _List[BoundPort]:
        return self.publisher.published(container_id)

    def network_settings(self, container_id: str, exposed: Iterable[str] = ()) -> dict[str, Any]:
        """``NetworkSettings`` of a container inspect: per-network settings, ports, the sandbox key, and the
        legacy top-level address fields (from the default-route endpoint, as Docker fills them)."""
        eps = self.endpoints_of(container_id)
        nets = {ep.network_id: self._networks[ep.network_id] for ep in eps}
        main = next((e for e in eps if e.default_route), eps[0] if eps else None)
        # The sandbox may be keyed by something other than the container id: the endpoints know its path.
        path = Path(eps[0].sandbox) if eps else self.sandbox_path(container_id)
        return {
            "SandboxID": path.name if is_netns_file(path) else "",
            "SandboxKey": str(path) if is_netns_file(path) else "",
            "Ports": ports_to_engine(self.published(container_id), exposed),
            "Networks": {nets[e.network_id].name: e.settings(nets[e.network_id]) for e in eps},
            "EndpointID": main.endpoint_id if main else "", "Gateway": str(main.gateway or "") if main else "",
            "IPAddress": main.ip if main else "", "IPPrefixLen": main.prefix if main else 0,
            "MacAddress": main.mac if main else "",
            "GlobalIPv6Address": str(main.ipv6.ip) if main and main.ipv6 else "",
            "GlobalIPv6PrefixLen": main.ipv6.network.prefixlen if main and main.ipv6 else 0,
            "IPv6Gateway": str(main.gateway6 or "") if main else "",
        }

    # -- restart ---------------------------------------------------------------------------------------

    def restore(self) -> None:
        """Re-adopt after a daemon restart: rebuild missing bridges and rules, forget dead endpoints/proxies."""
        with self._lock, host_lock():
            with IPRoute() as ipr, _rtnl.Rtnl() as rt:
                for net in list(self._networks.values()):
                    if net.driver != "bridge":
                        continue
                    if net.removing:
                        self._teardown(net)
                        remove_network_files(self.root, net.id)
                        del self._networks[net.id]
                        self._cursors.pop(net.id, None)
                        continue
                    if _bridge.link_index(ipr, net.bridge) is None:
                        bridgenet.build(net, self.firewall, self.enable_ip_forward, self.root)
                    elif not self.firewall.rules_of(net.id):
                        self.firewall.add(bridgenet.bridge_rules(net))
                    for cid, ep in list(net.endpoints.items()):
                        if rt.link_index(ep.host_veth) is None or not is_netns_file(ep.sandbox):
                            for pool, iface in ((net.pool(4), ep.ipv4), (net.pool(6), ep.ipv6)):
                                if pool and iface:
                                    pool.release(iface.ip)
                            net.drop_endpoint(cid)
                            remove_endpoint(self.root, net.id, cid)
                    bridgenet.drop_stray_veths(ipr, net)
                    self._save(net)
                bridgenet.sweep_orphans(ipr, self.root, self._networks)
                for name in _veth.retired_veths([
                        (ln.get("ifname") or "", ln.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") or "",
                         bool(ln["flags"] & 1), ln.get("master") or 0) for ln in ipr.get_links()]):
                    log.warning("deleting veth %s, left cut off by an engine stopped before deleting it", name)
                    self.reaper.delete_later(name)
        self.publisher.restore()
        self._restore_port_rules()
        self.publisher.prepare()

    def _restore_port_rules(self) -> None:
        """DNAT rules agree with the proxies left: rules of a container without one go, a proxy's missing
        rules (a flushed table) come back."""
        live = set(self.publisher.containers())
        have = self.firewall.port_owners()
        for cid in have - live:
            self.firewall.remove_ports(cid)
        for cid in live - have:
            targets = self.publisher.targets(cid)
            wanted = set(targets.addresses()) if targets is not None else set()
            ep = next((e for e in self.endpoints_of(cid) if wanted & set(_addresses(e))), None)
            if targets is not None and ep is not None:
                self.firewall.add_ports(self._port_rules(cid, ep, self.publisher.published(cid), targets))


def _addresses(ep: Endpoint) -> tuple[str, str]:
    """The endpoint's (IPv4, IPv6) addresses, ``""`` for a family it lacks: where its published ports go."""
    return ep.ip, str(ep.ipv6.ip) if ep.ipv6 else ""


def _pools_of(net: Network, cursor: Mapping[str, str]) -> _List[AddressPool]:
    """The network's pools with their allocations rebuilt from its endpoints (each endpoint holds its
    addresses) and the round-robin position from the saved cursor (the network record's when there is none)."""
    pools = []
    for pool in net.pools:
        state = pool.to_state()
        state["allocated"] = sorted({str(iface.ip) for ep in net.endpoints.values()
                                     for iface in (ep.ipv4, ep.ipv6) if iface is not None and iface.ip in pool.subnet})
        last = cursor.get(str(pool.subnet.version))
        if last:
            try:
                ip = ipaddress.ip_address(last)
            except ValueError:
                ip = None
            if ip is not None and ip in pool.subnet:
                state["last"] = int(ip)
        pools.append(AddressPool.from_state(state))
    return pools


def _check_families(spec: IpamSpec, enable_ipv4: bool, enable_ipv6: bool) -> None:
    """Docker's rules for the address families of a new network."""
    if not enable_ipv4 and not enable_ipv6:
        raise InvalidArgument("IPv4 or IPv6 must be enabled")
    if not enable_ipv4 and any(c.subnet is not None and c.subnet.version == 4 for c in spec.config):
        raise InvalidArgument("IPv4 is disabled for this network: remove its IPv4 subnet from the IPAM config")


def _prepare_sandbox() -> int:
    """In a thread that joined a new sandbox: Docker's sysctls, and a netlink socket opened in there (its fd)."""
    _container_sysctls()
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).detach()


def _container_sysctls() -> None:
    """Docker's defaults inside a container's network namespace (run in a thread that joined it)."""
    for key, value in (("net/ipv4/ip_unprivileged_port_start", "0"),
                       ("net/ipv4/ping_group_range", "0 2147483647")):
        try:
            with open(f"/proc/sys/{key}", "w") as fh:
                fh.write(value)
        except OSError as err:  # an older kernel without the knob: keep its default
            log.debug("sandbox sysctl %s not set: %s", key, err)
