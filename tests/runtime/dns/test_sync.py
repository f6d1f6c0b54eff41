"""Network-service events (the real model objects) reach the name table through the DNS loop."""
from __future__ import annotations

import ipaddress
import threading

from runtime.network.dns import DnsSync, Records
from runtime.network.model import Endpoint, Network, NetworkEvent
from tests.runtime.dns.support import LoopThread


def _ep(net: str, cid: str, name: str, ip: str, aliases=(), ip6=None) -> Endpoint:
    return Endpoint(network_id=net, container_id=cid, endpoint_id="e" * 64, name=name, aliases=tuple(aliases),
                    ifname="eth0", host_veth="vethx", sandbox="/run/netns/x", mac="02:42:00:00:00:01",
                    ipv4=ipaddress.IPv4Interface(f"{ip}/24"),
                    ipv6=ipaddress.IPv6Interface(f"{ip6}/64") if ip6 else None,
                    gateway=ipaddress.IPv4Address("10.9.0.1"), gateway6=None)


def _resolve(records: Records, asker: str, name: str) -> list[str]:
    res = records.resolve(asker, name)
    return [str(ipaddress.ip_address(a)) for a in (res.ipv4 + res.ipv6)] if res else []


def test_events_from_a_worker_thread_apply_in_the_loop():
    lt = LoopThread()
    try:
        records = Records()
        sync = DnsSync(records, lt.loop)
        events = [
            NetworkEvent("create", "n1", "proj_default"),
            NetworkEvent("connect", "n1", "proj_default", _ep("n1", "a" * 64, "proj-web-1", "10.9.0.2", ["web"],
                                                               ip6="fd00::2")),
            NetworkEvent("connect", "n1", "proj_default", _ep("n1", "c" * 64, "proj-cli-1", "10.9.0.3",
                                                               ["cli", "not a dns name!"])),
            NetworkEvent("connect", "nb", "bridge", _ep("nb", "c" * 64, "proj-cli-1", "172.17.0.2")),
        ]
        worker = threading.Thread(target=lambda: [sync(e) for e in events])  # as the service calls it
        worker.start()
        worker.join()
        lt.call(lambda: None)  # everything scheduled before this has run
        assert lt.call(_resolve, records, "c" * 64, "web") == ["10.9.0.2", "fd00::2"]
        assert lt.call(_resolve, records, "c" * 64, "proj-web-1.proj_default") == ["10.9.0.2", "fd00::2"]
        assert lt.call(_resolve, records, "a" * 64, "cli") == ["10.9.0.3"]
        assert lt.call(records.networks_of, "c" * 64) == ["n1"]  # the default bridge has no names
        sync(NetworkEvent("disconnect", "n1", "proj_default", _ep("n1", "a" * 64, "proj-web-1", "10.9.0.2")))
        assert lt.call(_resolve, records, "c" * 64, "web") == []
        sync(NetworkEvent("remove", "n1", "proj_default"))
        assert lt.call(records.networks_of, "c" * 64) == []
    finally:
        lt.stop()


def test_load_existing_networks():
    records = Records()
    net = Network("n2", "other_net", "bridge", "2026-01-01T00:00:00Z")
    net.endpoints["b" * 64] = _ep("n2", "b" * 64, "db", "10.9.1.2", ["database"])
    net.endpoints["d" * 64] = _ep("n2", "d" * 64, "app", "10.9.1.3")
    lt = LoopThread()
    try:
        DnsSync(records, lt.loop).load([net])
    finally:
        lt.stop()
    assert _resolve(records, "d" * 64, "database") == ["10.9.1.2"]
    assert _resolve(records, "d" * 64, "bbbbbbbbbbbb") == ["10.9.1.2"]
    assert records.resolve_ptr("d" * 64, "2.1.9.10.in-addr.arpa").ptr == ("db.other_net",)


def test_attach_subscribes_then_loads():
    calls: list[str] = []
    net = Network("n3", "third_net", "bridge", "2026-01-01T00:00:00Z")
    net.endpoints["b" * 64] = _ep("n3", "b" * 64, "db", "10.9.2.2")

    class _Service:  # the two calls DnsSync needs from runtime.network.service.NetworkService
        def subscribe(self, callback):
            calls.append("subscribe")
            return lambda: calls.append("unsubscribe")

        def list(self):
            calls.append("list")
            return [net]

    records = Records()
    lt = LoopThread()
    try:
        unsubscribe = lt.call(DnsSync(records, lt.loop).attach, _Service())
        unsubscribe()
    finally:
        lt.stop()
    assert calls == ["subscribe", "list", "unsubscribe"]
    assert records.endpoints("n3")[0].name == "db"
