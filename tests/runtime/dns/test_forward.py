"""Names the table does not know go to upstream stubs on 127.0.0.x (never to the host's resolvers)."""
from __future__ import annotations

import socket

import dns.flags
import dns.message
import dns.rcode
import pytest

from runtime.errors import InvalidArgument
from runtime.network.dns import host_upstreams, parse_upstreams
from tests.runtime.dns.support import addresses, ask

pytestmark = pytest.mark.root

CLIENT = "c" * 64


def _scope(dns_server, make_netns, upstreams):
    path = make_netns()
    dns_server.add_endpoint("n1", "a" * 64, "web", ipv4="10.50.0.2")
    dns_server.add_endpoint("n1", CLIENT, "client", ipv4="10.50.0.3")
    dns_server.add_scope(CLIENT, path, upstreams=upstreams)
    return path


def _closed_port() -> str:
    """An address on loopback where nothing listens (a bound, unlistened UDP port we then close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.9", 0))
        return f"127.0.0.9:{s.getsockname()[1]}"


def test_unknown_names_are_forwarded_and_local_ones_are_not(dns_server, make_netns, make_stub):
    stub = make_stub({"example.org": ["192.0.2.10"], "web": ["192.0.2.99"]})
    path = _scope(dns_server, make_netns, [stub.upstream])
    assert addresses(ask(path, "example.org")) == ["192.0.2.10"]
    assert ask(path, "missing.example.org").rcode() == dns.rcode.NXDOMAIN  # upstream's NXDOMAIN passes through
    assert stub.udp_queries == 2
    assert addresses(ask(path, "web")) == ["10.50.0.2"]  # ours wins, upstream never asked
    assert stub.udp_queries == 2


def test_truncated_udp_reply_is_retried_over_tcp(dns_server, make_netns, make_stub):
    stub = make_stub(big={"big.example"}, udp_limit=512)
    path = _scope(dns_server, make_netns, [stub.upstream])
    reply = ask(path, "big.example", use_edns=0, payload=4096)
    assert len(addresses(reply)) == 60 and not reply.flags & dns.flags.TC
    assert stub.udp_queries == 1 and stub.tcp_queries == 1
    # Without EDNS the asker's limit is 512 bytes: it gets TC and comes back over TCP.
    small = ask(path, "big.example")
    assert small.flags & dns.flags.TC and small.answer == []
    assert len(addresses(ask(path, "big.example", tcp=True))) == 60


def test_dead_upstream_fails_over_to_the_next(dns_server, make_netns, make_stub):
    dead = make_stub(mode="drop")
    good = make_stub({"example.org": ["192.0.2.10"]})
    path = _scope(dns_server, make_netns, [dead.upstream, good.upstream])
    assert addresses(ask(path, "example.org", timeout=5)) == ["192.0.2.10"]
    assert dead.udp_queries == 1 and good.udp_queries == 1


def test_refused_port_and_servfail_fail_over(dns_server, make_netns, make_stub):
    sick = make_stub(mode="servfail")
    good = make_stub({"example.org": ["192.0.2.10"]})
    path = _scope(dns_server, make_netns, [_closed_port(), sick.upstream, good.upstream])
    assert addresses(ask(path, "example.org", timeout=5)) == ["192.0.2.10"]
    assert sick.udp_queries == 1


def test_all_upstreams_dead_gives_servfail_within_the_bound(dns_server, make_netns, make_stub):
    # The fixture's forwarder: 0.4 s per upstream, 1.5 s in all; the client waits up to 5 s.
    dead = [make_stub(mode="drop") for _ in range(5)]
    path = _scope(dns_server, make_netns, [d.upstream for d in dead])
    reply = ask(path, "example.org", timeout=5)
    assert reply.rcode() == dns.rcode.SERVFAIL
    # 0.4 s each for the first three, the 4th gets what is left of the 1.5 s (if the loop was not starved
    # past it); the total bound always stops it before the 5th.
    counts = [d.udp_queries for d in dead]
    assert counts[:3] == [1, 1, 1] and counts[3] in (0, 1) and counts[4] == 0


def test_tcp_asker_is_forwarded_over_tcp(dns_server, make_netns, make_stub):
    stub = make_stub({"example.org": ["192.0.2.10"]})
    path = _scope(dns_server, make_netns, [stub.upstream])
    assert addresses(ask(path, "example.org", tcp=True)) == ["192.0.2.10"]
    assert stub.tcp_queries == 1 and stub.udp_queries == 0


def test_upstream_parsing():
    assert parse_upstreams(["1.2.3.4", "127.0.0.53:5353", "[::1]:54", "::1", ("10.0.0.1", 53)]) == [
        ("1.2.3.4", 53), ("127.0.0.53", 5353), ("::1", 54), ("::1", 53), ("10.0.0.1", 53)]
    for bad in ("dns.google", "1.2.3.4:0", "1.2.3.4:x"):
        with pytest.raises(InvalidArgument):
            parse_upstreams([bad])


def test_host_upstreams_from_resolv_conf(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# c\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\nnameserver bogus\nsearch x\n")
    assert host_upstreams(conf) == [("127.0.0.53", 53), ("fe80::1%eth0", 53)]
    assert host_upstreams(tmp_path / "missing") == []


def test_new_upstreams_replace_cached_nxdomain(dns_server, make_netns, make_stub):
    stub = make_stub({"example.org": ["192.0.2.10"]})
    path = _scope(dns_server, make_netns, [])
    assert ask(path, "example.org").rcode() == dns.rcode.NXDOMAIN
    dns_server.lt.call(dns_server.server.set_upstreams, CLIENT, [stub.upstream])
    assert addresses(ask(path, "example.org")) == ["192.0.2.10"]


def test_forwarder_refuses_beyond_its_inflight_cap():
    import asyncio

    from runtime.network.dns import Forwarder
    from runtime.network.dns.wire import parse_query

    wire = dns.message.make_query("example.org", "A").to_wire()
    query = parse_query(wire)
    reply = asyncio.run(Forwarder(max_inflight=0).forward(wire, query, [("127.0.0.1", 9)]))
    assert dns.message.from_wire(reply).rcode() == dns.rcode.SERVFAIL
    none = asyncio.run(Forwarder().forward(wire, query, []))
    assert dns.message.from_wire(none).rcode() == dns.rcode.SERVFAIL


def test_one_container_cannot_take_every_forwarding_slot(dns_server, make_netns, make_stub):
    import socket

    from tests.runtime.dns.support import DNS_ADDR, netns_socket

    dead = make_stub(mode="drop")
    path = _scope(dns_server, make_netns, [dead.upstream])
    sock = netns_socket(path, socket.SOCK_DGRAM)
    with sock:
        sock.settimeout(5)
        for i in range(300):
            sock.sendto(dns.message.make_query(f"n{i}.example.org", "A", id=i).to_wire(), (DNS_ADDR, 53))
        codes = [dns.message.from_wire(sock.recv(512)).rcode() for _ in range(300)]
    assert codes == [dns.rcode.SERVFAIL] * 300
    assert dead.udp_queries == 256  # the rest were refused at once, never sent upstream


def test_search_domain_names_are_local_only_when_upstream_has_none(dns_server, make_netns, make_stub):
    stub = make_stub({"www.corp.example": ["192.0.2.80"]})
    path = make_netns()
    dns_server.add_endpoint("n1", "a" * 64, "web", aliases=["www"], ipv4="10.50.0.2")
    dns_server.add_endpoint("n1", CLIENT, "client", ipv4="10.50.0.3")
    dns_server.add_scope(CLIENT, path, upstreams=[stub.upstream], search=["corp.example"])
    # A real upstream name is never shadowed by a local one...
    assert addresses(ask(path, "www.corp.example")) == ["192.0.2.80"]
    # ...but what upstream does not know, the search domain's local meaning answers (saving a round trip).
    assert addresses(ask(path, "web.corp.example")) == ["10.50.0.2"]
    assert addresses(ask(path, "web.corp.example", tcp=True)) == ["10.50.0.2"]
    assert ask(path, "nosuch.corp.example").rcode() == dns.rcode.NXDOMAIN


def test_cleanup_of_old_mappings_spares_queries_in_flight(dns_server, make_netns, make_stub):
    import socket

    from runtime.network.dns.redirect import forget_mappings
    from tests.runtime.dns.support import DNS_ADDR, netns_socket

    dead = make_stub(mode="drop")
    good = make_stub({"example.org": ["192.0.2.10"]})
    path = _scope(dns_server, make_netns, [dead.upstream, good.upstream])  # answers after ~0.4 s
    scope = dns_server.server.scope(CLIENT)
    if scope.address[1] == 53:
        pytest.skip("the server runs without redirection here (no nft)")
    sock = netns_socket(path, socket.SOCK_DGRAM)
    with sock:
        sock.settimeout(5)
        sock.sendto(dns.message.make_query("example.org", "A", id=4242).to_wire(), (DNS_ADDR, 53))
        # While the query waits on the dead upstream, the cleanup a re-added scope runs must spare its flow.
        dropped = dns_server.lt.run(forget_mappings(path, DNS_ADDR, scope.address[1], scope.tcp.getsockname()[1]))
        data, source = sock.recvfrom(512)
    assert dropped == 0
    assert source == (DNS_ADDR, 53)  # still translated back: the flow's mapping survived
    assert addresses(dns.message.from_wire(data)) == ["192.0.2.10"]


def test_ipv6_upstream_over_udp_and_tcp(dns_server, make_netns, make_stub):
    stub = make_stub({"example.org": ["192.0.2.10"]}, big={"big.example"}, udp_limit=512, ipv6=True)
    path = _scope(dns_server, make_netns, [stub.upstream])
    assert addresses(ask(path, "example.org")) == ["192.0.2.10"]
    assert len(addresses(ask(path, "big.example", use_edns=0, payload=4096))) == 60  # UDP, then TCP
    assert stub.udp_queries == 2 and stub.tcp_queries == 1
