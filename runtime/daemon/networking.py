"""The daemon's glue to the network service and the embedded DNS: a sandbox (network namespace) per container
from create to removal; endpoints, published ports, /etc/hosts and a DNS scope while it runs; network events on
the bus; everything re-adopted after a daemon restart."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime import trace
from runtime.errors import EngineError, InvalidArgument, InvalidState, NotFound
from runtime.network.endpointcfg import endpoint_links

if TYPE_CHECKING:
    from runtime.daemon.app import Engine

__all__ = ["Networking", "BUILTIN_MODES"]

_log = logging.getLogger(__name__)
BUILTIN_MODES = ("host", "none", "default", "bridge")


class Networking:
    def __init__(self, engine: Engine, default_bridge: str = "pycompose0") -> None:
        from runtime.network.ipam import Pool
        from runtime.network.service import NetworkService

        cfg = engine.config
        self.engine = engine
        pools = [Pool(p.base, p.size) for p in cfg.default_address_pools]
        self.svc = NetworkService(engine.root, engine.root / "run", pools=pools, default_bridge_name=default_bridge,
                                  nft_table=cfg.nft_table, enable_ip_forward=cfg.ip_forward,
                                  firewall_backend=cfg.firewall_backend)
        self.dns: Any = None
        self._hosts_lock = threading.Lock()  # /etc/hosts edits are read-modify-write: one at a time
        self._sync: Any = None
        self._unsubscribe: Any = None

    # --- life ------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        from runtime.network.dns.records import Records
        from runtime.network.dns.server import DnsServer
        from runtime.network.dns.sync import DnsSync

        loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.svc.restore)
        self.dns = DnsServer(Records())
        self._sync = DnsSync(self.dns.records, loop)
        self._sync.load(self.svc.list())
        self._unsubscribe = self.svc.subscribe(self._on_event)

    def _on_event(self, event: Any) -> None:
        self._sync(event)
        attrs = {"name": event.network_name, "type": "bridge"}
        if event.endpoint is not None:
            attrs["container"] = event.endpoint.container_id
        action = {"remove": "destroy"}.get(event.action, event.action)  # Docker's word for it
        self.engine.bus.publish("network", action, event.network_id, attrs)

    async def close(self) -> None:
        with contextlib.suppress(EngineError):  # no container on Docker's default bridge: it goes (docs/architecture.md)
            await asyncio.to_thread(self.svc.close)
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.dns is not None:
            self.dns.close()  # prepared sockets are closed as their work ends: wait for that
            await self.dns.settle()

    # --- container hooks ---------------------------------------------------------------------------------------
    def _mode(self, rec: dict[str, Any]) -> str:
        mode = rec.get("NetworkMode") or "default"
        return "bridge" if mode == "default" else mode

    async def sandbox_for_create(self, rec: dict[str, Any]) -> str:
        """Before the container exists: the netns path its spec names ("" for host mode). The sandbox is keyed
        by a token of ours (the container id is not known yet); the record keeps it. Its networks are checked
        (``NotFound`` now, not at start) and the sandbox made in one thread hop."""
        mode = self._mode(rec)
        if mode == "host":
            return ""
        names = [name for name in (rec.get("Endpoints") or {}) if name not in (mode, "default", "bridge")]
        endpoints = rec.get("Endpoints") or {}
        if mode.startswith("container:"):
            if names:
                await asyncio.to_thread(self._check_networks, None, names, None, endpoints)
            other = self.engine.records.find(mode.split(":", 1)[1])
            shared = other.get("SandboxKeyName")
            if not shared:
                raise InvalidArgument(f"cannot join network of container {other['Id'][:12]}: it has no network "
                                      f"namespace")
            rec["SandboxShared"] = True
            rec["SandboxKeyName"] = shared
            return str(self.svc.sandbox_path(shared))
        key = secrets.token_hex(16)
        path = await asyncio.to_thread(self._check_networks, None if mode == "none" else mode, names, key, endpoints)
        rec["SandboxKeyName"] = key
        if self.dns is not None and self.uses_embedded_dns(rec):
            self.dns.prepare(path)  # the DNS scope's sockets and redirect, off the start path
        return str(path)

    def _check_networks(self, mode: str | None, names: list[str], key: str | None = None,
                        endpoints: dict[str, Any] | None = None) -> Path | None:
        """In a worker thread: the networks exist (the default bridge made if need be) and take the static
        addresses their endpoint settings ask for (Docker's checks, before anything is made); the sandbox
        ``key`` made when given."""
        from runtime.network.endpointcfg import check_static_addresses

        endpoints = endpoints or {}
        nets = []
        if mode == "bridge":
            nets.append((self.svc.default_bridge(), endpoints.get(mode) or endpoints.get("default")))
        elif mode is not None:
            nets.append((self.svc.get(mode), endpoints.get(mode) or endpoints.get("default")))
        for name in names:
            nets.append((self.svc.get(name), endpoints.get(name)))
        for net, cfg in nets:
            check_static_addresses(net, cfg if isinstance(cfg, dict) else {})
        return self.svc.create_sandbox(key) if key is not None else None

    def uses_embedded_dns(self, rec: dict[str, Any]) -> bool:
        """Containers on a user-defined network resolve names through 127.0.0.11, as with Docker."""
        mode = self._mode(rec)
        if mode in ("host", "none") or mode.startswith("container:"):
            return False
        return any(name not in ("bridge", "default") for name, _c, _p in self._wishes(rec))

    def resolv_conf(self, rec: dict[str, Any], host_config: dict[str, Any]) -> str:
        from runtime.network.dns.resolvconf import render_resolv_conf

        return render_resolv_conf(["127.0.0.11"], host_config.get("DnsSearch") or self.engine.config.dns_search,
                                  host_config.get("DnsOptions") or self.engine.config.dns_opts)

    def _wishes(self, rec: dict[str, Any]) -> list[tuple[str, dict[str, Any], int]]:
        mode = self._mode(rec)
        if mode in ("host", "none") or mode.startswith("container:"):
            return []
        endpoints = dict(rec.get("Endpoints") or {})
        out = [(mode, endpoints.pop(mode, None) or endpoints.pop("default", None) or {}, 1)]
        out += [(name, cfg or {}, 0) for name, cfg in endpoints.items()]
        return out

    async def before_start(self, rec: dict[str, Any]) -> None:
        """Connect the sandbox to its networks, publish ports, write /etc/hosts (one thread hop for all the
        blocking work; none without networks or ports to attach: the hosts file alone is written on the loop), open
        the DNS scope (its sockets are mostly ready since create: ``sandbox_for_create``)."""
        cid = rec["Id"]
        key = rec.get("SandboxKeyName")
        if not key:
            return
        sandbox = str(self.svc.sandbox_path(key))
        dns = self.dns if self.dns is not None and not rec.get("SandboxShared") else None
        if dns is not None and self.uses_embedded_dns(rec):
            dns.prepare(sandbox)  # a no-op when create did; else it runs beside the connect below
        links = self._link_targets(rec)
        if links or self._wishes(rec) or self._port_wishes(rec):
            user_defined, settings = await asyncio.to_thread(self._attach, rec, sandbox, links)
        else:  # nothing to connect or publish (network none, a shared sandbox): a hosts file, no thread hop
            user_defined, settings = self._attach(rec, sandbox, links)
        trace.mark("net.attached", cid)
        if dns is not None:
            if user_defined:
                with contextlib.suppress(EngineError):
                    host_cfg = rec.get("HostConfig") or {}
                    upstreams = list(host_cfg.get("Dns") or self.engine.config.dns) or None
                    await dns.add_scope(cid, sandbox, upstreams, host_cfg.get("DnsSearch") or ())
                trace.mark("net.dns_scope", cid)
            else:
                dns.discard_prepared(sandbox)
        self._apply_settings(rec, settings)

    def _attach(self, rec: dict[str, Any], sandbox: str, links: list[tuple[list[str], str]]
                ) -> tuple[bool, dict[str, Any]]:
        """In a worker thread: endpoints, published ports and /etc/hosts. Returns whether a network is
        user-defined (the container then gets a DNS scope) and the network settings to copy into the record."""
        cid = rec["Id"]
        wishes = [w for w in self._port_wishes(rec) if w.host_port]
        if wishes:  # a taken host port fails the start before any endpoint is made
            self.svc.check_ports(wishes)
        name = rec["Name"].lstrip("/")
        user_defined = False
        addresses = []
        for net_name, cfg, priority in self._wishes(rec):
            net = self.svc.default_bridge() if net_name == "bridge" else self.svc.get(net_name)
            if net.options.get("com.docker.network.bridge.default_bridge") != "true":
                user_defined = True
            if cid in net.endpoints:
                continue
            ipam = cfg.get("IPAMConfig") or {}
            ep = self.svc.connect(net.id, cid, sandbox, name=name, aliases=list(cfg.get("Aliases") or []),
                                  ipv4_address=ipam.get("IPv4Address") or None,
                                  ipv6_address=ipam.get("IPv6Address") or None,
                                  mac_address=cfg.get("MacAddress") or None, priority=priority,
                                  driver_opts=cfg.get("DriverOpts"), link_local_ips=ipam.get("LinkLocalIPs"),
                                  links=endpoint_links(cfg.get("Links")))
            addresses += [str(a.ip) for a in (ep.ipv4, ep.ipv6) if a]  # Docker: IPv4 line, then IPv6
        trace.mark("net.connected", cid)
        all_wishes = self._port_wishes(rec)
        if all_wishes:
            self.svc.publish(cid, all_wishes)
        self._write_hosts(rec, addresses, links)
        if user_defined:  # connected to its first user-defined network after create: 127.0.0.11 now
            self._ensure_embedded_resolv(rec)
        trace.mark("net.hosts", cid)
        return user_defined, self.svc.network_settings(cid, rec.get("Exposed", []))

    @staticmethod
    def _port_wishes(rec: dict[str, Any]) -> list[Any]:
        from runtime.network.ports import PortBinding

        wishes = [PortBinding(p["container_port"], p["protocol"], p["host_ip"], p["host_port"],
                              p.get("host_port_end", 0)) for p in rec.get("Ports", [])]
        if rec.get("HostConfig", {}).get("PublishAllPorts"):
            for key in rec.get("Exposed", []):
                port, _, proto = key.partition("/")
                wishes.append(PortBinding(int(port), proto or "tcp"))
        return wishes

    def _write_hosts(self, rec: dict[str, Any], addresses: list[str], links: list[tuple[list[str], str]]) -> None:
        """In a worker thread: the container's /etc/hosts."""
        from runtime.network.dns.hostsfile import render_hosts

        if rec.get("SandboxShared") or self._mode(rec) == "host":
            return
        cfg = rec["Config"]
        extra = list(rec.get("HostConfig", {}).get("ExtraHosts") or []) + self._link_hosts(rec, links)
        gateway = None
        if any("host-gateway" in e for e in extra):  # Docker's special value: the default bridge's address
            pool = self.svc.default_bridge().pool(4)
            gateway = str(pool.gateway) if pool is not None else None
        try:
            text = render_hosts(cfg.get("Hostname") or rec["Id"][:12], addresses, extra,
                                domainname=cfg.get("Domainname") or "", host_gateway=gateway)
        except InvalidArgument as err:
            _log.warning("hosts file of %s not written: %s", rec["Id"][:12], err)
            return
        with contextlib.suppress(NotFound, OSError):
            self.engine.containers.write_managed_file(rec["Id"], "hosts", text)

    def _link_targets(self, rec: dict[str, Any]) -> list[tuple[list[str], str]]:
        """Legacy links (``HostConfig.Links``: ``name:alias`` or ``/name:/me/alias``): (host names, the linked
        container's id) each, looked up in the loop (``NotFound`` fails the start)."""
        out = []
        for link in rec.get("HostConfig", {}).get("Links") or []:
            name, _, alias = link.partition(":")
            other = self.engine.records.find(name.lstrip("/"))
            hosts = [h for h in dict.fromkeys([alias.rsplit("/", 1)[-1] if alias else "", other["Name"].lstrip("/")])
                     if h]
            out.append((hosts, other["Id"]))
        return out

    def _link_hosts(self, rec: dict[str, Any], links: list[tuple[list[str], str]]) -> list[str]:
        """In a worker thread: the links as /etc/hosts entries with the linked container's address on a network
        both share (or its first one)."""
        if not links:
            return []
        out = []
        mine = {ep.network_id for ep in self.svc.endpoints_of(rec["Id"])}
        for hosts, other_id in links:
            eps = self.svc.endpoints_of(other_id)
            ep = next((e for e in eps if e.network_id in mine and e.ipv4), None) or \
                next((e for e in eps if e.ipv4), None)
            if ep is None or ep.ipv4 is None:
                raise InvalidArgument(f"cannot link to {hosts[-1]}: it has no address (is it running?)")
            out += [f"{host}:{ep.ipv4.ip}" for host in hosts]
        return out

    async def after_stop(self, rec: dict[str, Any]) -> None:
        """The container ended: close its DNS scope, unpublish, leave its networks (the sandbox stays)."""
        await self._leave(rec, None)

    async def on_remove(self, rec: dict[str, Any]) -> None:
        """As :meth:`after_stop`, and the sandbox goes too (with sockets prepared for its DNS scope)."""
        key = rec.get("SandboxKeyName")
        if not key or rec.get("SandboxShared"):
            key = None
        elif self.dns is not None:
            self.dns.discard_prepared(self.svc.sandbox_path(key))  # its sockets would keep the netns alive
        await self._leave(rec, key)

    async def _leave(self, rec: dict[str, Any], sandbox_key: str | None) -> None:
        if self.dns is not None:
            self.dns.remove_scope(rec["Id"])
        settings = await asyncio.to_thread(self._detach, rec["Id"], rec.get("Exposed", []), sandbox_key)
        self._apply_settings(rec, settings, running=False)

    def _detach(self, cid: str, exposed: list[str], sandbox_key: str | None) -> dict[str, Any]:
        """In a worker thread: unpublish, leave every network, remove the sandbox when given; the network
        settings left."""
        with contextlib.suppress(EngineError):
            self.svc.unpublish(cid)
        for ep in self.svc.endpoints_of(cid):
            with contextlib.suppress(EngineError):
                self.svc.disconnect(ep.network_id, cid, True)
        if sandbox_key is not None:
            with contextlib.suppress(EngineError, OSError):
                self.svc.destroy_sandbox(sandbox_key)
        return self.svc.network_settings(cid, exposed)

    async def adopt(self, rec: dict[str, Any]) -> None:
        """A running container found at daemon start: reopen its DNS scope (sockets died with the daemon)."""
        cid = rec["Id"]
        key = rec.get("SandboxKeyName")
        if not key or self.dns is None or rec.get("SandboxShared"):
            return
        nets = [self.svc.get(ep.network_id) for ep in self.svc.endpoints_of(cid)]
        if any(n.options.get("com.docker.network.bridge.default_bridge") != "true" for n in nets):
            host_cfg = rec.get("HostConfig") or {}
            with contextlib.suppress(EngineError):
                await self.dns.add_scope(cid, str(self.svc.sandbox_path(key)),
                                         list(host_cfg.get("Dns") or self.engine.config.dns) or None,
                                         host_cfg.get("DnsSearch") or ())

    def refresh(self, rec: dict[str, Any], running: bool = True) -> None:
        """Copy the network view into the record (what inspect and list show)."""
        self._apply_settings(rec, self.svc.network_settings(rec["Id"], rec.get("Exposed", [])), running)

    def _apply_settings(self, rec: dict[str, Any], settings: dict[str, Any], running: bool = True) -> None:
        key = rec.get("SandboxKeyName")
        if key:
            settings["SandboxKey"] = str(self.svc.sandbox_path(key))
            settings["SandboxID"] = key
        if not running or not settings["Networks"]:
            names = [n for n, _c, _p in self._wishes(rec)]
            settings["Networks"] = {n: {**(rec.get("Networks", {}).get(n) or {}), "IPAddress": "",
                                        "Gateway": "", "EndpointID": "", "MacAddress": "", "IPPrefixLen": 0}
                                    for n in names} if not running else settings["Networks"]
        rec["Networks"] = settings.pop("Networks")
        rec["NetworkSettings"] = settings
        rec["PortsPublished"] = [{"IP": b["HostIp"], "PrivatePort": int(k.split("/")[0]),
                                  "PublicPort": int(b["HostPort"]), "Type": k.split("/")[1]}
                                 for k, v in (settings.get("Ports") or {}).items() for b in (v or [])]

    async def connect(self, rec: dict[str, Any], network: str, cfg: dict[str, Any]) -> None:
        """``POST /networks/{id}/connect``: remember the wish (Docker's checks first); a running container is
        attached at once with every endpoint setting honoured as at create, gets its new address in /etc/hosts,
        and, on its first user-defined network, a DNS scope (its resolv.conf then names 127.0.0.11)."""
        from runtime.errors import Conflict
        from runtime.network.endpointcfg import check_static_addresses

        cfg = dict(cfg or {})
        # Docker's default bridge always exists; ours is made when first needed.
        net = await asyncio.to_thread(self.svc.default_bridge) if network == "bridge" else \
            await asyncio.to_thread(self.svc.get, network)
        endpoints = dict(rec.get("Endpoints") or {})
        mode = self._mode(rec)
        if mode in ("host", "none") or mode.startswith("container:"):
            raise InvalidArgument(f"container with network mode {mode!r} cannot be connected to another network")
        if net.name in endpoints or net.name == mode or (mode == "bridge" and net.options.get(
                "com.docker.network.bridge.default_bridge") == "true"):
            if rec["Id"] in net.endpoints:
                raise Conflict(f"endpoint with name {rec['Name'].lstrip('/')} already exists in network {net.name}")
        check_static_addresses(net, cfg)
        for _alias, target in endpoint_links(cfg.get("Links")):
            self.engine.records.find(target)  # NotFound: no such container to link to
        running = self.engine.supervisor.live(rec["Id"]).status in ("running", "paused")
        if running and rec["Id"] not in net.endpoints:
            await self._join(rec, net, cfg)
        endpoints[net.name] = cfg
        rec["Endpoints"] = endpoints
        if running:
            self.refresh(rec)
        self.engine.records.save(rec)

    async def _join(self, rec: dict[str, Any], net: Any, cfg: dict[str, Any]) -> None:
        """Attach a running container to ``net`` (kernel work and /etc/hosts in one thread hop), then open its
        DNS scope if this is its first user-defined network."""
        cid = rec["Id"]
        key = rec.get("SandboxKeyName")
        if not key:
            raise InvalidState(f"container {cid[:12]} has no network namespace to connect")
        sandbox = str(self.svc.sandbox_path(key))
        await asyncio.to_thread(self._join_sync, rec, net, cfg, sandbox)
        user_defined = net.options.get("com.docker.network.bridge.default_bridge") != "true"
        if self.dns is None or not user_defined or rec.get("SandboxShared") or cid in self.dns.scopes():
            return
        host_cfg = rec.get("HostConfig") or {}
        try:
            await self.dns.add_scope(cid, sandbox, list(host_cfg.get("Dns") or self.engine.config.dns) or None,
                                     host_cfg.get("DnsSearch") or ())
        except EngineError as err:
            _log.warning("no DNS scope for %s after connect to %s: %s", cid[:12], net.name, err)
            return
        await asyncio.to_thread(self._ensure_embedded_resolv, rec)  # its names come from the embedded DNS now

    def _join_sync(self, rec: dict[str, Any], net: Any, cfg: dict[str, Any], sandbox: str) -> None:
        """In a worker thread: the endpoint as :meth:`_attach` makes it at start, and its /etc/hosts lines."""
        ipam = cfg.get("IPAMConfig") or {}
        ep = self.svc.connect(net.id, rec["Id"], sandbox, name=rec["Name"].lstrip("/"),
                              aliases=list(cfg.get("Aliases") or []),
                              ipv4_address=ipam.get("IPv4Address") or None,
                              ipv6_address=ipam.get("IPv6Address") or None,
                              mac_address=cfg.get("MacAddress") or None, priority=int(cfg.get("GwPriority") or 0),
                              driver_opts=cfg.get("DriverOpts"), link_local_ips=ipam.get("LinkLocalIPs"),
                              links=endpoint_links(cfg.get("Links")))
        self._edit_hosts(rec, ep, add=True)

    def _ensure_embedded_resolv(self, rec: dict[str, Any]) -> None:
        """In a worker thread: the container's resolv.conf names the embedded DNS (rewritten, as Docker does,
        when its first user-defined network came after create, by a connect)."""
        if rec.get("SandboxShared"):
            return
        try:
            text = (self.engine.containers.state_dir(rec["Id"]) / "resolv.conf").read_text()
            if "nameserver 127.0.0.11" not in text:
                self.engine.containers.write_managed_file(rec["Id"], "resolv.conf",
                                                          self.resolv_conf(rec, rec.get("HostConfig") or {}))
        except (NotFound, OSError) as err:
            _log.warning("resolv.conf of %s not updated: %s", rec["Id"][:12], err)

    def _edit_hosts(self, rec: dict[str, Any], ep: Any, add: bool) -> None:
        """In a worker thread: add (connect) or remove (disconnect) the endpoint's address lines in the running
        container's /etc/hosts, in place as Docker does: other lines, the user's edits among them, stay."""
        from runtime.network.dns.hostsfile import add_host_entries, host_names, remove_host_entries

        if rec.get("SandboxShared") or self._mode(rec) == "host":
            return
        cfg = rec.get("Config") or {}
        names = host_names(cfg.get("Hostname") or rec["Id"][:12], cfg.get("Domainname") or "")
        addresses = [str(a.ip) for a in (ep.ipv4, ep.ipv6) if a]
        try:
            path = self.engine.containers.state_dir(rec["Id"]) / "hosts"
            self._hosts_lock.acquire()
        except NotFound as err:
            _log.warning("hosts file of %s not updated: %s", rec["Id"][:12], err)
            return
        try:
            text = path.read_text()
            edited = add_host_entries(text, addresses, names) if add else remove_host_entries(text, addresses, names)
            if edited != text:
                self.engine.containers.write_managed_file(rec["Id"], "hosts", edited)
        except (NotFound, OSError) as err:
            _log.warning("hosts file of %s not updated: %s", rec["Id"][:12], err)
        finally:
            self._hosts_lock.release()

    async def disconnect(self, rec: dict[str, Any], network: str, force: bool) -> None:
        """``POST /networks/{id}/disconnect``: forget the wish; a running container leaves at once (its
        interface moved out of its namespace, its address lines out of /etc/hosts, its names out of DNS)."""
        net = await asyncio.to_thread(self.svc.get, network)
        endpoints = dict(rec.get("Endpoints") or {})
        known = net.name in endpoints or net.name == self._mode(rec) or rec["Id"] in net.endpoints
        if not known and not force:
            raise NotFound(f"container {rec['Id'][:12]} is not connected to network {net.name}")
        ep = net.endpoints.get(rec["Id"])
        if ep is not None:
            await asyncio.to_thread(self._part_sync, rec, net.id, ep, force)
        endpoints.pop(net.name, None)
        rec["Endpoints"] = endpoints
        if net.name == self._mode(rec):
            rec["NetworkMode"] = "none" if not endpoints else next(iter(endpoints))
        self.refresh(rec, running=self.engine.supervisor.live(rec["Id"]).status in ("running", "paused"))
        self.engine.records.save(rec)

    def _part_sync(self, rec: dict[str, Any], network_id: str, ep: Any, force: bool) -> None:
        """In a worker thread: leave the network, then drop the endpoint's /etc/hosts lines."""
        self.svc.disconnect(network_id, rec["Id"], force)
        self._edit_hosts(rec, ep, add=False)


def sandbox_path(path: str) -> Path:
    return Path(path)
