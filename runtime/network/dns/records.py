"""The embedded DNS name table: networks -> endpoints -> names and addresses.

An asking container sees only the networks it is itself attached to, so names from two projects on
separate networks never collide. On each shared network it resolves: every name given for an endpoint
(container name, service name, network aliases), the endpoint's short container id (12 hex), and
``<name>.<network name>``. Reverse (PTR) names map container addresses back to ``<container>.<network>``.
Every change bumps :attr:`Records.version` and calls the :meth:`Records.watch` callbacks; the server drops its
answer caches on either.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from runtime.errors import InvalidArgument

__all__ = ["Endpoint", "Records", "Resolution", "is_dns_name", "reverse_name"]

_LABEL = re.compile(r"^[a-z0-9_-]{1,63}$")  # lenient: Docker accepts names like "web-" as aliases
_HEX12 = re.compile(r"^[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One container's attachment to one network, as the name table sees it."""

    network_id: str
    container_id: str
    name: str  # the container name: PTR answers point at it
    aliases: tuple[str, ...]
    ipv4: bytes | None  # packed, ready to be A rdata
    ipv6: bytes | None  # packed, ready to be AAAA rdata
    links: tuple[tuple[str, str], ...] = ()  # (alias, name): what this container alone resolves on the network


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a shared network knows about a name: its addresses (packed), or PTR targets."""

    ipv4: tuple[bytes, ...] = ()
    ipv6: tuple[bytes, ...] = ()
    ptr: tuple[str, ...] = ()


def reverse_name(address: str) -> str:
    """``10.0.0.2`` -> ``2.0.0.10.in-addr.arpa`` (and the nibble form for IPv6)."""
    return ipaddress.ip_address(address).reverse_pointer


def _normalize(name: str) -> str | None:
    norm = name.strip().lstrip("/").rstrip(".").lower()  # Docker names come as "/name"
    if not norm or len(norm) > 253 or not all(_LABEL.match(part) for part in norm.split(".")):
        return None
    return norm


def is_dns_name(name: str) -> bool:
    """Whether ``name`` can be put in the table (letters, digits, ``-``/``_``, dots between labels)."""
    return _normalize(name) is not None


def _clean_name(name: str, what: str) -> str:
    norm = _normalize(name)
    if norm is None:
        raise InvalidArgument(f"invalid DNS {what} {name!r}")
    return norm


def _pack(address: str | None, version: int) -> bytes | None:
    if address is None or address == "":
        return None
    try:
        ip = ipaddress.ip_address(str(address).split("/")[0])
    except ValueError as err:
        raise InvalidArgument(f"invalid IP address {address!r}") from err
    if ip.version != version:
        raise InvalidArgument(f"{address!r} is not an IPv{version} address")
    return ip.packed


class _Network:
    __slots__ = ("name", "endpoints", "v4", "v6", "ptr")

    def __init__(self, name: str | None) -> None:
        self.name = name
        self.endpoints: dict[str, Endpoint] = {}
        self.v4: dict[str, tuple[bytes, ...]] = {}
        self.v6: dict[str, tuple[bytes, ...]] = {}
        self.ptr: dict[str, tuple[str, ...]] = {}

    def rebuild(self) -> None:
        v4: dict[str, list[bytes]] = {}
        v6: dict[str, list[bytes]] = {}
        ptr: dict[str, list[str]] = {}
        for ep in self.endpoints.values():
            names = [ep.name, *ep.aliases]
            if _HEX12.match(ep.container_id):
                names.append(ep.container_id[:12])
            target = f"{ep.name}.{self.name}" if self.name else ep.name
            for name in dict.fromkeys(names):
                for table, addr in ((v4, ep.ipv4), (v6, ep.ipv6)):
                    entry = table.setdefault(name, [])
                    if addr is not None and addr not in entry:
                        entry.append(addr)
            for addr in (ep.ipv4, ep.ipv6):
                if addr is not None:
                    ptr.setdefault(ipaddress.ip_address(addr).reverse_pointer, []).append(target)
        self.v4 = {k: tuple(v) for k, v in v4.items()}
        self.v6 = {k: tuple(v) for k, v in v6.items()}
        self.ptr = {k: tuple(v) for k, v in ptr.items()}


class Records:
    """The name table shared by every scope of a :class:`~runtime.network.dns.server.DnsServer`."""

    def __init__(self) -> None:
        self._networks: dict[str, _Network] = {}
        self._member: dict[str, dict[str, None]] = {}  # container id -> its network ids, in attach order
        self.version = 0
        self._watchers: list[Callable[[], None]] = []

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every change, in the changing thread, before the change returns."""
        self._watchers.append(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        if callback in self._watchers:
            self._watchers.remove(callback)

    def _changed(self) -> None:
        self.version += 1
        for callback in self._watchers:
            callback()

    # -- changes -------------------------------------------------------------------------------------

    def set_network_name(self, network_id: str, name: str | None) -> None:
        """Name a network so ``<container>.<network>`` resolves and PTR answers carry it."""
        net = self._networks.setdefault(network_id, _Network(None))
        net.name = _clean_name(name, "network name") if name else None
        net.rebuild()
        self._changed()

    def add_endpoint(self, network_id: str, container_id: str, name: str, *, aliases: Iterable[str] = (),
                     ipv4: str | None = None, ipv6: str | None = None,
                     links: Iterable[tuple[str, str]] = ()) -> Endpoint:
        """Attach (or re-attach, replacing the old record) ``container_id`` to ``network_id``.

        ``name`` is the container name; ``aliases`` are the service name and network aliases. The short
        container id (first 12 hex digits) resolves too. ``links``: (alias, name) pairs that ``container_id``
        alone resolves on this network, as ``name`` (Docker's links on a user-defined network). Takes effect
        for the next query.
        """
        if not network_id or not container_id:
            raise InvalidArgument("network id and container id must not be empty")
        clean = tuple(dict.fromkeys(_clean_name(a, "alias") for a in aliases if a))
        linked = tuple((_clean_name(alias, "link alias"), _clean_name(target, "linked container"))
                       for alias, target in links)
        ep = Endpoint(network_id, container_id, _clean_name(name, "container name"), clean,
                      _pack(ipv4, 4), _pack(ipv6, 6), linked)
        net = self._networks.setdefault(network_id, _Network(None))
        net.endpoints[container_id] = ep
        net.rebuild()
        self._member.setdefault(container_id, {})[network_id] = None
        self._changed()
        return ep

    def remove_endpoint(self, network_id: str, container_id: str) -> None:
        """Detach a container from a network; a no-op when it was not attached."""
        net = self._networks.get(network_id)
        if net is None or net.endpoints.pop(container_id, None) is None:
            return
        net.rebuild()
        member = self._member.get(container_id)
        if member is not None:
            member.pop(network_id, None)
            if not member:
                del self._member[container_id]
        if not net.endpoints and net.name is None:
            del self._networks[network_id]
        self._changed()

    def remove_container(self, container_id: str) -> None:
        """Detach a container from every network it is on."""
        for network_id in list(self._member.get(container_id, ())):
            self.remove_endpoint(network_id, container_id)

    def remove_network(self, network_id: str) -> None:
        """Forget a network and every endpoint on it."""
        net = self._networks.pop(network_id, None)
        if net is None:
            return
        for container_id in net.endpoints:
            member = self._member.get(container_id)
            if member is not None:
                member.pop(network_id, None)
                if not member:
                    del self._member[container_id]
        self._changed()

    # -- queries -------------------------------------------------------------------------------------

    def networks_of(self, container_id: str) -> list[str]:
        return list(self._member.get(container_id, ()))

    def endpoints(self, network_id: str) -> list[Endpoint]:
        net = self._networks.get(network_id)
        return list(net.endpoints.values()) if net else []

    def resolve(self, asker: str, name: str) -> Resolution | None:
        """Addresses of ``name`` (lower-case, no final dot) on the networks ``asker`` shares with it.

        ``None`` when no shared network knows the name; a :class:`Resolution` (maybe without addresses
        of one family) when one does.
        """
        member = self._member.get(asker)
        if not member:
            return None
        found = False
        v4: list[bytes] = []
        v6: list[bytes] = []
        nets = self._networks
        for network_id in member:
            net = nets[network_id]
            key = name
            mine = net.endpoints.get(asker)
            if mine is not None and mine.links:  # its links first: a link alias hides a name
                key = next((target for alias, target in mine.links if alias == name), name)
            if key not in net.v4:
                if not net.name or not key.endswith("." + net.name):
                    continue
                key = key[:-len(net.name) - 1]
                if key not in net.v4:
                    continue
            found = True
            for addr in net.v4[key]:
                if addr not in v4:
                    v4.append(addr)
            for addr in net.v6[key]:
                if addr not in v6:
                    v6.append(addr)
        if not found:
            return None
        return Resolution(tuple(v4), tuple(v6))

    def resolve_ptr(self, asker: str, name: str) -> Resolution | None:
        """PTR targets for a reverse name (``…in-addr.arpa`` / ``…ip6.arpa``) on the asker's networks."""
        member = self._member.get(asker)
        if not member:
            return None
        targets: list[str] = []
        for network_id in member:
            for target in self._networks[network_id].ptr.get(name, ()):
                if target not in targets:
                    targets.append(target)
        return Resolution(ptr=tuple(targets)) if targets else None
