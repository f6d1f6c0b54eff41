"""IP address management: choosing subnets that overlap nothing on the host, and addresses within them.

Subnets come from ``ipam.config`` or, when none is given, from address pools like Docker's defaults
(172.17.0.0/16 .. 172.31.0.0/16 split in /16s, then 192.168.0.0/16 in /20s). A pool subnet is skipped when it
overlaps any route or interface address of the host (read over netlink) or a subnet already given to one of our
networks. IPv6 subnets without configuration are unique-local /64s derived from the network id.

:class:`AddressPool` hands out addresses of one subnet round-robin, so a freed address is not reused at once.
Its state is a plain dict, persisted by the network service.
"""
from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from runtime.errors import Conflict, InvalidArgument
from runtime.network.rtdump import dump_addresses, dump_routes, route_socket

__all__ = [
    "IPNetwork", "IPAddress", "Pool", "DEFAULT_POOLS", "SubnetConfig", "IpamSpec", "AddressPool",
    "host_networks", "choose_subnet", "ula_subnet", "parse_pools",
]

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

_RTN_UNICAST = 1


@dataclass(frozen=True)
class Pool:
    """A range to carve subnets from: ``base`` split into prefixes of length ``size``."""

    base: IPNetwork
    size: int

    def __post_init__(self) -> None:
        if self.size < self.base.prefixlen or self.size > self.base.max_prefixlen:
            raise InvalidArgument(f"pool {self.base}: size /{self.size} does not fit")


DEFAULT_POOLS: tuple[Pool, ...] = tuple(
    [Pool(ipaddress.ip_network(f"172.{n}.0.0/16"), 16) for n in range(17, 32)]
    + [Pool(ipaddress.ip_network("192.168.0.0/16"), 20)]
)


def parse_pools(items: Iterable[dict[str, Any] | str]) -> tuple[Pool, ...]:
    """Pools from ``[{"base": "10.10.0.0/16", "size": 24}, "172.80.0.0/16"]`` (a bare base is one subnet)."""
    pools = []
    for item in items:
        if isinstance(item, str):
            net = _network(item, "pool")
            pools.append(Pool(net, net.prefixlen))
        else:
            net = _network(str(item["base"]), "pool base")
            pools.append(Pool(net, int(item.get("size", net.prefixlen))))
    return tuple(pools)


@dataclass(frozen=True)
class SubnetConfig:
    """One ``ipam.config`` entry."""

    subnet: IPNetwork | None = None
    ip_range: IPNetwork | None = None
    gateway: IPAddress | None = None
    aux_addresses: dict[str, IPAddress] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "SubnetConfig":
        """From snake_case (compose) or PascalCase (Engine API) keys."""
        def get(*keys: str) -> Any:
            for key in keys:
                if raw.get(key) not in (None, ""):
                    return raw[key]
            return None

        subnet = get("subnet", "Subnet")
        ip_range = get("ip_range", "IPRange")
        gateway = get("gateway", "Gateway")
        aux = get("aux_addresses", "AuxiliaryAddresses", "AuxAddress") or {}
        cfg = cls(
            subnet=_network(subnet, "subnet") if subnet else None,
            ip_range=_network(ip_range, "ip_range") if ip_range else None,
            gateway=_address(gateway, "gateway") if gateway else None,
            aux_addresses={str(k): _address(v, f"aux_addresses.{k}") for k, v in aux.items()},
        )
        cfg.check()
        return cfg

    def check(self) -> None:
        if self.subnet is None:
            if self.ip_range is not None or self.gateway is not None or self.aux_addresses:
                raise InvalidArgument("ipam config: ip_range, gateway and aux_addresses need a subnet")
            return
        if self.ip_range is not None and not self.ip_range.subnet_of(self.subnet):  # type: ignore[arg-type]
            raise InvalidArgument(f"ip_range {self.ip_range} is not inside subnet {self.subnet}")
        for what, addr in [("gateway", self.gateway), *self.aux_addresses.items()]:
            if addr is not None and addr not in self.subnet:
                raise InvalidArgument(f"{what} {addr} is not inside subnet {self.subnet}")

    def to_engine(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.subnet is not None:
            out["Subnet"] = str(self.subnet)
        if self.ip_range is not None:
            out["IPRange"] = str(self.ip_range)
        if self.gateway is not None:
            out["Gateway"] = str(self.gateway)
        if self.aux_addresses:
            out["AuxiliaryAddresses"] = {k: str(v) for k, v in self.aux_addresses.items()}
        return out


@dataclass(frozen=True)
class IpamSpec:
    """A network's ``ipam`` block: driver, per-subnet configs, driver options."""

    driver: str = "default"
    config: tuple[SubnetConfig, ...] = ()
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> "IpamSpec":
        raw = raw or {}
        driver = raw.get("driver", raw.get("Driver")) or "default"
        if driver != "default":
            raise InvalidArgument(f"ipam driver {driver!r} is not supported (only 'default')")
        configs = raw.get("config", raw.get("Config")) or []
        options = raw.get("options", raw.get("Options")) or {}
        return cls(driver, tuple(SubnetConfig.from_dict(c) for c in configs),
                   {str(k): str(v) for k, v in options.items()})


def _network(text: str, what: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError as err:
        raise InvalidArgument(f"invalid {what} {text!r}: {err}") from err


def _address(text: str, what: str) -> IPAddress:
    try:
        return ipaddress.ip_address(str(text).split("/")[0])
    except ValueError as err:
        raise InvalidArgument(f"invalid {what} {text!r}: {err}") from err


def host_networks(netns: str | os.PathLike[str] | None = None) -> list[IPNetwork]:
    """Every network the host (or the namespace at ``netns``) already routes, in any table, or holds an address
    in (default routes and link-local addresses excluded)."""
    found: list[IPNetwork] = []
    with route_socket(netns) as sock:
        for family in (socket.AF_INET, socket.AF_INET6):
            for route in dump_routes(sock, family):
                if route.type == _RTN_UNICAST and route.dst_len and route.dst:
                    found.append(ipaddress.ip_network(f"{route.dst}/{route.dst_len}", strict=False))
            for addr in dump_addresses(sock, family):
                if not addr.address.startswith("fe80"):
                    found.append(ipaddress.ip_network(f"{addr.address}/{addr.prefixlen}", strict=False))
    return found


def _overlaps(net: IPNetwork, others: Iterable[IPNetwork]) -> bool:
    return any(net.version == o.version and net.overlaps(o) for o in others)


def choose_subnet(pools: Sequence[Pool], taken: Iterable[IPNetwork], version: int = 4) -> IPNetwork:
    """The first pool subnet of the given IP version that overlaps nothing in ``taken``."""
    taken = list(taken)
    for pool in pools:
        if pool.base.version != version:
            continue
        for net in pool.base.subnets(new_prefix=pool.size):
            if not _overlaps(net, taken):
                return net
    raise Conflict("all predefined address pools have been fully subnetted "
                   "(or overlap host routes); give the network an explicit ipam subnet")


def ula_subnet(seed: str, taken: Iterable[IPNetwork]) -> ipaddress.IPv6Network:
    """A unique-local /64 (fdXX:XXXX:XXXX::/64) derived from ``seed`` that overlaps nothing in ``taken``."""
    taken = list(taken)
    for n in range(256):
        digest = hashlib.sha256(f"{seed}/{n}".encode()).digest()
        prefix = b"\xfd" + digest[:5] + b"\x00\x00" + b"\x00" * 8
        net = ipaddress.IPv6Network((prefix, 64))
        if not _overlaps(net, taken):
            return net
    raise Conflict("could not find a free IPv6 unique-local subnet")


class AddressPool:
    """Addresses of one subnet: the gateway, reserved aux addresses, and round-robin allocation."""

    def __init__(self, subnet: IPNetwork, gateway: IPAddress | None = None, ip_range: IPNetwork | None = None,
                 reserved: Iterable[IPAddress] = (), allocated: Iterable[str] = (), last: int | None = None) -> None:
        self.subnet = subnet
        self.ip_range = ip_range or subnet
        self.gateway = gateway if gateway is not None else self._first_host(subnet)
        self.reserved = {self.gateway, *reserved}
        self.allocated: set[IPAddress] = {ipaddress.ip_address(a) for a in allocated}
        self._last = last

    @staticmethod
    def _first_host(net: IPNetwork) -> IPAddress:
        return net.network_address + 1 if net.num_addresses > 2 else net.network_address

    def _usable(self, addr: IPAddress) -> bool:
        net = self.subnet
        if addr not in net or addr in self.reserved:
            return False
        if net.version == 4 and net.num_addresses > 2 and addr in (net.network_address, net.broadcast_address):
            return False
        if net.version == 6 and addr == net.network_address:
            return False
        return True

    def allocate(self, wanted: IPAddress | str | None = None) -> IPAddress:
        """Reserve ``wanted`` (must be free and in the subnet) or the next free address after the last one."""
        if wanted is not None:
            addr = ipaddress.ip_address(str(wanted))
            if addr not in self.subnet:
                raise InvalidArgument(f"address {addr} is not in subnet {self.subnet}")
            if not self._usable(addr) or addr in self.allocated:
                raise Conflict(f"Address already in use: {addr}")  # Docker's words, and which one
            self.allocated.add(addr)
            return addr
        first = int(self.ip_range.network_address)
        size = self.ip_range.num_addresses
        start = 0 if self._last is None else (self._last - first + 1) % size
        # Walking in order, at most every taken address plus network and broadcast come before a free one.
        for step in range(min(size, len(self.allocated) + len(self.reserved) + 3)):
            candidate = ipaddress.ip_address(first + (start + step) % size)
            if candidate not in self.allocated and self._usable(candidate):
                self.allocated.add(candidate)
                self._last = int(candidate)
                return candidate
        raise Conflict(f"no free address left in {self.ip_range}")

    def release(self, addr: IPAddress | str) -> None:
        self.allocated.discard(ipaddress.ip_address(str(addr)))

    def to_state(self) -> dict[str, Any]:
        return {
            "subnet": str(self.subnet), "gateway": str(self.gateway),
            "ip_range": str(self.ip_range) if self.ip_range != self.subnet else None,
            "reserved": sorted(str(a) for a in self.reserved if a != self.gateway),
            "allocated": sorted(str(a) for a in self.allocated), "last": self._last,
        }

    @classmethod
    def from_state(cls, raw: dict[str, Any]) -> "AddressPool":
        return cls(ipaddress.ip_network(raw["subnet"]), ipaddress.ip_address(raw["gateway"]),
                   ipaddress.ip_network(raw["ip_range"]) if raw.get("ip_range") else None,
                   [ipaddress.ip_address(a) for a in raw.get("reserved", [])], raw.get("allocated", []),
                   raw.get("last"))
