"""Keeps the DNS name table in step with the network service: its events, from any thread, into the loop.

The network service (``runtime.network.service``) does blocking kernel work in worker threads and calls its
subscribers there, after each create / remove / connect / disconnect. :class:`DnsSync` is such a subscriber:
it hands each event to the DNS loop (``call_soon_threadsafe``), which applies it to :class:`Records` before
the API call that caused it can answer, so a container that has just started resolves at once.
As Docker does, names resolve on user-defined networks only: the default ``bridge`` (and ``host``/``none``)
are skipped unless ``resolvable`` says otherwise.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from runtime.errors import InvalidArgument
from runtime.network.dns.records import Records, is_dns_name

__all__ = ["DnsSync", "default_resolvable"]

log = logging.getLogger(__name__)


class _Endpoint(Protocol):  # what runtime.network.model.Endpoint offers
    network_id: str
    container_id: str
    name: str
    aliases: tuple[str, ...]
    ipv4: Any  # IPv4Interface | None
    ipv6: Any  # IPv6Interface | None
    links: tuple[tuple[str, str], ...]


class _Event(Protocol):  # runtime.network.model.NetworkEvent
    action: str
    network_id: str
    network_name: str
    endpoint: Any


def default_resolvable(network_id: str, network_name: str) -> bool:
    """Docker's rule: the predefined networks have no embedded DNS names."""
    return network_name not in ("bridge", "host", "none")


def _address(iface: Any) -> str | None:
    if iface is None:
        return None
    return str(getattr(iface, "ip", iface))


class DnsSync:
    """A network-service subscriber feeding ``records``; call it from any thread, it applies in ``loop``."""

    def __init__(self, records: Records, loop: asyncio.AbstractEventLoop, *,
                 resolvable: Callable[[str, str], bool] = default_resolvable) -> None:
        self.records = records
        self.loop = loop
        self.resolvable = resolvable

    def __call__(self, event: _Event) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.apply, event)

    def attach(self, service: Any) -> Callable[[], None]:
        """Subscribe to a network service, then load what it has (call in the loop); returns unsubscribe.

        In that order, a change made meanwhile by another thread is queued behind the load and applied
        after it, so nothing is missed.
        """
        unsubscribe: Callable[[], None] = service.subscribe(self)
        self.load(service.list())
        return unsubscribe

    def load(self, networks: Iterable[Any]) -> None:
        """Fill the table from existing networks (``Network`` objects with ``endpoints``); call in the loop."""
        for net in networks:
            if not self.resolvable(net.id, net.name):
                continue
            self._name_network(net.id, net.name)
            for ep in net.endpoints.values():
                self._add(ep)

    def apply(self, event: _Event) -> None:
        """Apply one event to the table (in the loop's thread)."""
        action = event.action
        if action == "remove":
            self.records.remove_network(event.network_id)
            return
        if not self.resolvable(event.network_id, event.network_name):
            return
        if action == "create":
            self._name_network(event.network_id, event.network_name)
        elif action == "connect" and event.endpoint is not None:
            self._name_network(event.network_id, event.network_name)
            self._add(event.endpoint)
        elif action == "disconnect" and event.endpoint is not None:
            self.records.remove_endpoint(event.network_id, event.endpoint.container_id)

    def _name_network(self, network_id: str, name: str) -> None:
        self.records.set_network_name(network_id, name if is_dns_name(name) else None)

    def _add(self, ep: _Endpoint) -> None:
        aliases = [a for a in ep.aliases if is_dns_name(a)]
        skipped = [a for a in ep.aliases if not is_dns_name(a)]
        if skipped:
            log.warning("container %s: aliases %s are not DNS names and will not resolve", ep.container_id[:12],
                        skipped)
        name = ep.name if is_dns_name(ep.name) else ep.container_id[:12]
        try:
            self.records.add_endpoint(ep.network_id, ep.container_id, name, aliases=aliases,
                                      ipv4=_address(ep.ipv4), ipv6=_address(ep.ipv6),
                                      links=[(a, t) for a, t in getattr(ep, "links", ()) if is_dns_name(a)
                                             and is_dns_name(t)])
        except InvalidArgument as err:
            log.warning("container %s not added to DNS on network %s: %s", ep.container_id[:12],
                        ep.network_id[:12], err)
