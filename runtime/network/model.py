"""The network service's records: networks and their endpoints, their on-disk form and Docker's inspect shape."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Any

from runtime.network.ipam import AddressPool, IpamSpec, SubnetConfig

__all__ = ["Endpoint", "Network", "NetworkEvent", "OPT_BRIDGE_NAME", "OPT_MASQUERADE", "OPT_ICC", "OPT_MTU",
           "OPT_DEFAULT_BRIDGE", "OPT_HOST_BINDING", "OPT_IFACE_PREFIX"]

OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MTU = "com.docker.network.driver.mtu"
OPT_DEFAULT_BRIDGE = "com.docker.network.bridge.default_bridge"
OPT_HOST_BINDING = "com.docker.network.bridge.host_binding_ipv4"
OPT_IFACE_PREFIX = "com.docker.network.container_iface_prefix"


@dataclass(frozen=True)
class Endpoint:
    """One container's attachment to one network."""

    network_id: str
    container_id: str
    endpoint_id: str
    name: str  # the container's name (without Docker's leading "/")
    aliases: tuple[str, ...]
    ifname: str  # inside the sandbox: eth0, eth1, ...
    host_veth: str
    sandbox: str  # the netns path
    mac: str
    ipv4: ipaddress.IPv4Interface | None
    ipv6: ipaddress.IPv6Interface | None
    gateway: ipaddress.IPv4Address | None
    gateway6: ipaddress.IPv6Address | None
    priority: int = 0
    default_route: bool = False  # this endpoint's gateway is the sandbox's default route
    static_ipv4: str = ""  # the addresses asked for (Docker's IPAMConfig), "" when chosen by IPAM
    static_ipv6: str = ""
    link_local: tuple[str, ...] = ()  # extra addresses asked for (Docker's IPAMConfig.LinkLocalIPs)
    driver_opts: tuple[tuple[str, str], ...] = ()  # the endpoint's DriverOpts, as given (inspect shows them)
    links: tuple[tuple[str, str], ...] = ()  # (alias, container name): names only this container resolves here

    @property
    def ip(self) -> str:
        return str(self.ipv4.ip) if self.ipv4 else ""

    @property
    def prefix(self) -> int:
        return self.ipv4.network.prefixlen if self.ipv4 else 0

    def to_state(self) -> dict[str, Any]:
        return {
            "network_id": self.network_id, "container_id": self.container_id, "endpoint_id": self.endpoint_id,
            "name": self.name, "aliases": list(self.aliases), "ifname": self.ifname, "host_veth": self.host_veth,
            "sandbox": self.sandbox, "mac": self.mac,
            "ipv4": str(self.ipv4) if self.ipv4 else None, "ipv6": str(self.ipv6) if self.ipv6 else None,
            "gateway": str(self.gateway) if self.gateway else None,
            "gateway6": str(self.gateway6) if self.gateway6 else None,
            "priority": self.priority, "default_route": self.default_route,
            "static_ipv4": self.static_ipv4, "static_ipv6": self.static_ipv6, "link_local": list(self.link_local),
            "driver_opts": dict(self.driver_opts), "links": [list(link) for link in self.links],
        }

    @classmethod
    def from_state(cls, raw: dict[str, Any]) -> "Endpoint":
        return cls(
            raw["network_id"], raw["container_id"], raw["endpoint_id"], raw["name"], tuple(raw["aliases"]),
            raw["ifname"], raw["host_veth"], raw["sandbox"], raw["mac"],
            ipaddress.IPv4Interface(raw["ipv4"]) if raw.get("ipv4") else None,
            ipaddress.IPv6Interface(raw["ipv6"]) if raw.get("ipv6") else None,
            ipaddress.IPv4Address(raw["gateway"]) if raw.get("gateway") else None,
            ipaddress.IPv6Address(raw["gateway6"]) if raw.get("gateway6") else None,
            int(raw.get("priority", 0)), bool(raw.get("default_route", False)),
            raw.get("static_ipv4", ""), raw.get("static_ipv6", ""), tuple(raw.get("link_local") or ()),
            tuple((raw.get("driver_opts") or {}).items()),
            tuple((str(alias), str(target)) for alias, target in raw.get("links") or ()),
        )

    def with_default_route(self, value: bool) -> "Endpoint":
        return replace(self, default_route=value)

    def inspect(self) -> dict[str, Any]:
        """The entry of ``Containers`` in a network inspect."""
        return {
            "Name": self.name, "EndpointID": self.endpoint_id, "MacAddress": self.mac,
            "IPv4Address": str(self.ipv4) if self.ipv4 else "",
            "IPv6Address": str(self.ipv6) if self.ipv6 else "",
        }

    def settings(self, network: "Network") -> dict[str, Any]:
        """``NetworkSettings.Networks[<name>]`` of a container inspect."""
        return {
            "IPAMConfig": {k: v for k, v in (("IPv4Address", self.static_ipv4), ("IPv6Address", self.static_ipv6),
                                             ("LinkLocalIPs", list(self.link_local))) if v} or None,
            "Links": [f"{target}:{alias}" for alias, target in self.links] or None,
            "Aliases": list(self.aliases) or None,
            "NetworkID": network.id, "EndpointID": self.endpoint_id,
            "Gateway": str(self.gateway) if self.gateway else "",
            "IPAddress": self.ip, "IPPrefixLen": self.prefix,
            "IPv6Gateway": str(self.gateway6) if self.gateway6 else "",
            "GlobalIPv6Address": str(self.ipv6.ip) if self.ipv6 else "",
            "GlobalIPv6PrefixLen": self.ipv6.network.prefixlen if self.ipv6 else 0,
            "MacAddress": self.mac, "DriverOpts": dict(self.driver_opts) or None,
            "DNSNames": list(dict.fromkeys([self.name, *self.aliases, self.container_id[:12]])),
            "GwPriority": self.priority,
        }


@dataclass
class Network:
    """A network: its identity, its IPAM request and result, its bridge and its endpoints by container id."""

    id: str
    name: str
    driver: str
    created: str
    bridge: str = ""
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False
    enable_ipv4: bool = True  # False: an IPv6-only network (Engine API 1.48 EnableIPv4)
    ipam: IpamSpec = field(default_factory=IpamSpec)
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    pools: list[AddressPool] = field(default_factory=list)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    scope: str = "local"
    removing: bool = False  # set on disk before teardown starts, so a crash mid-removal is finished later

    @property
    def predefined(self) -> bool:
        return self.driver in ("host", "null") or self.options.get(OPT_DEFAULT_BRIDGE) == "true"

    def put_endpoint(self, ep: Endpoint) -> None:
        """Add or replace an endpoint. Copy-on-write: a reader iterating ``endpoints`` is never disturbed."""
        self.endpoints = {**self.endpoints, ep.container_id: ep}

    def drop_endpoint(self, container_id: str) -> None:
        self.endpoints = {cid: ep for cid, ep in self.endpoints.items() if cid != container_id}

    def pool(self, version: int) -> AddressPool | None:
        return next((p for p in self.pools if p.subnet.version == version), None)

    def to_state(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "driver": self.driver, "created": self.created,
            "bridge": self.bridge, "internal": self.internal, "attachable": self.attachable,
            "enable_ipv6": self.enable_ipv6, "enable_ipv4": self.enable_ipv4,
            "ipam": {"driver": self.ipam.driver, "config": [c.to_engine() for c in self.ipam.config],
                     "options": self.ipam.options},
            "options": self.options, "labels": self.labels,
            "pools": [p.to_state() for p in self.pools],
            "endpoints": {cid: ep.to_state() for cid, ep in self.endpoints.items()},
            "removing": self.removing,
        }

    @classmethod
    def from_state(cls, raw: dict[str, Any]) -> "Network":
        return cls(
            id=raw["id"], name=raw["name"], driver=raw["driver"], created=raw["created"], bridge=raw["bridge"],
            internal=raw["internal"], attachable=raw["attachable"], enable_ipv6=raw["enable_ipv6"],
            enable_ipv4=bool(raw.get("enable_ipv4", True)),
            ipam=IpamSpec.from_dict(raw.get("ipam")), options=dict(raw.get("options", {})),
            labels=dict(raw.get("labels", {})), pools=[AddressPool.from_state(p) for p in raw.get("pools", [])],
            endpoints={cid: Endpoint.from_state(ep) for cid, ep in raw.get("endpoints", {}).items()},
            removing=bool(raw.get("removing", False)),
        )

    def inspect(self) -> dict[str, Any]:
        """Docker's ``GET /networks/{id}`` body."""
        configs = []
        for pool in self.pools:
            requested = next((c for c in self.ipam.config if c.subnet == pool.subnet), SubnetConfig())
            entry: dict[str, Any] = {"Subnet": str(pool.subnet), "Gateway": str(pool.gateway)}
            if pool.ip_range != pool.subnet:
                entry["IPRange"] = str(pool.ip_range)
            if requested.aux_addresses:
                entry["AuxiliaryAddresses"] = {k: str(v) for k, v in requested.aux_addresses.items()}
            configs.append(entry)
        return {
            "Name": self.name, "Id": self.id, "Created": self.created, "Scope": self.scope,
            "Driver": self.driver, "EnableIPv6": self.enable_ipv6,
            "EnableIPv4": self.enable_ipv4 and self.driver == "bridge",  # host and none have none, as Docker
            "IPAM": {"Driver": self.ipam.driver, "Options": self.ipam.options or None, "Config": configs},
            "Internal": self.internal, "Attachable": self.attachable, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
            "Containers": {cid: ep.inspect() for cid, ep in self.endpoints.items()},
            "Options": dict(self.options), "Labels": dict(self.labels),
        }


@dataclass(frozen=True)
class NetworkEvent:
    """What changed: ``create`` / ``remove`` (endpoint is None), ``connect`` / ``disconnect``. (Docker's event
    stream calls a removal ``destroy``: the daemon maps it.)"""

    action: str
    network_id: str
    network_name: str
    endpoint: Endpoint | None = None
