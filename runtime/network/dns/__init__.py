"""Embedded DNS: containers on user-defined networks resolve each other by name via 127.0.0.11.

The daemon makes one :class:`DnsServer` in its loop, attaches a :class:`DnsSync` to the network service
(``DnsSync(server.records, loop).attach(network_service)``), and for each started container with its own
netns (not ``network_mode: host``; once for containers sharing one) calls ``await server.add_scope(container_id, netns_path,
upstreams=HostConfig.Dns or None, search=HostConfig.DnsSearch)``; ``server.remove_scope(container_id)`` when
it stops (a scope's sockets keep the netns alive). ``server.prepare(netns_path)`` at create opens the sockets
and the redirect in the background, so ``add_scope`` at start only takes them; ``server.discard_prepared``
when the netns goes before that, ``await server.settle()`` before the loop closes. The container gets ``render_resolv_conf(search=...,
options=...)`` as /etc/resolv.conf and ``render_hosts(...)`` as /etc/hosts.

``server.DnsServer`` (scopes, sockets, caches), ``answer`` (replies from the table), ``fastpath`` (the native
cache-hit thread serving UDP), ``listener`` (sockets made inside a netns), ``sockets`` (a scope's, redirected or not), ``prepared``
(opened before start), ``redirect``
(127.0.0.11:53 DNAT-ed to the server's port, leaving port 53 to the container), ``records.Records`` (the
name table), ``sync.DnsSync`` (network-service events into the table), ``forwarder`` (upstreams), ``wire``
(the message codec), ``resolvconf`` and ``hostsfile`` (the files containers get).
"""
from __future__ import annotations

from runtime.network.dns.forwarder import Forwarder, host_upstreams, parse_upstreams
from runtime.network.dns.hostsfile import parse_extra_host, render_hosts
from runtime.network.dns.records import Endpoint, Records
from runtime.network.dns.resolvconf import ResolvConf, reachable_nameservers, read_resolv_conf, render_resolv_conf
from runtime.network.dns.server import DEFAULT_ADDRESS, DnsServer
from runtime.network.dns.sync import DnsSync

__all__ = [
    "DEFAULT_ADDRESS", "DnsServer", "DnsSync", "Endpoint", "Forwarder", "Records", "ResolvConf", "host_upstreams",
    "parse_extra_host", "parse_upstreams", "reachable_nameservers", "read_resolv_conf", "render_hosts",
    "render_resolv_conf",
]
