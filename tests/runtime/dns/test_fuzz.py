"""Fuzzing: random bytes and mutated valid queries never crash the codec or the server.

At the codec level every mutated query that is answered must give a reply dnspython can parse. At the
socket level the server inside a real netns takes a hail of garbage over UDP and TCP (answering locally,
and forwarding what parses to a stub upstream) and must then still answer valid queries, with no exception
ever reaching the loop's handler.
"""
from __future__ import annotations

import socket
import struct

import dns.message
import dns.rcode
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.network.dns import DnsServer, Records
from runtime.network.dns.server import Scope
from runtime.network.dns.wire import parse_query
from tests.runtime.dns.support import DNS_ADDR, addresses, ask, netns_socket

_SEEDS = [
    dns.message.make_query(name, rdtype, **kw).to_wire()
    for name, rdtype, kw in [
        ("web", "A", {}), ("web", "AAAA", {"use_edns": 0}), ("api", "ANY", {"use_edns": 0, "payload": 4096}),
        ("2.0.88.10.in-addr.arpa", "PTR", {}), ("example.org", "MX", {}), ("a1b2c3d4e5f6", "A", {}),
        ("web.corp.example", "A", {"use_edns": 0, "want_dnssec": True}),
    ]
]

_mutation = st.tuples(st.sampled_from(["flip", "set", "insert", "delete", "cut"]),
                      st.integers(min_value=0, max_value=600), st.integers(min_value=0, max_value=255))


def _mutate(data: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for op, pos, byte in ops:
        if not buf:
            break
        pos %= len(buf)
        if op == "flip":
            buf[pos] ^= 1 << (byte % 8)
        elif op == "set":
            buf[pos] = byte
        elif op == "insert":
            buf.insert(pos, byte)
        elif op == "delete":
            del buf[pos]
        else:
            del buf[pos:]
    return bytes(buf)


mutated_queries = st.builds(_mutate, st.sampled_from(_SEEDS), st.lists(_mutation, min_size=1, max_size=6))
garbage = st.one_of(st.binary(max_size=700), mutated_queries)


@settings(max_examples=2000, deadline=None)
@given(garbage)
def test_parse_query_never_raises(data):
    q = parse_query(data)
    assert q is None or (0 <= q.qtype < 65536 and q.udp_size >= 512)


@pytest.fixture
def offline_scope():
    """A server and a scope without sockets in a netns: drives the answering code directly."""
    records = Records()
    records.set_network_name("n1", "proj_default")
    records.add_endpoint("n1", "a1b2c3d4e5f6" + "0" * 52, "proj-web-1", aliases=["web"], ipv4="10.88.0.2",
                         ipv6="fd00::2")
    for i in range(3):
        records.add_endpoint("n1", f"{i}" * 64, f"proj-api-{i}", aliases=["api"], ipv4=f"10.88.0.{10 + i}")
    records.add_endpoint("n1", "c" * 64, "client", ipv4="10.88.0.4")
    server = DnsServer(records)
    udp, tcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket()
    scope = Scope("c" * 64, "/nonexistent", [], ("corp.example",), udp, tcp, ("127.0.0.11", 53))
    yield server, scope
    udp.close()
    tcp.close()


def test_mutated_queries_get_well_formed_replies(offline_scope):
    server, scope = offline_scope

    @settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(garbage, st.booleans())
    def run(data, udp):
        query, replies = server._answer(scope, data, udp)
        if query is None:
            assert replies is None
            return
        assert replies, "no upstreams: every parsed query gets a local reply"
        for reply in replies:
            if udp:
                assert len(reply) <= query.udp_size
            if query.opcode != 0:  # NOTIMP; dnspython reads an UPDATE's question as a zone, so: header only
                assert reply[:2] == data[:2] and reply[2] & 0x80 and reply[3] & 0xF == dns.rcode.NOTIMP
                continue
            msg = dns.message.from_wire(reply)
            assert msg.id == query.id

    run()


@pytest.mark.root
@pytest.mark.parametrize("upstream", [False, True], ids=["local", "forwarding"])
def test_server_keeps_answering_after_garbage(dns_server, make_netns, make_stub, upstream):
    path = make_netns()
    errors: list[dict] = []
    dns_server.lt.loop.call_soon_threadsafe(dns_server.lt.loop.set_exception_handler,
                                            lambda loop, ctx: errors.append(ctx))
    dns_server.add_endpoint("n1", "a" * 64, "web", ipv4="10.88.0.2")
    dns_server.add_endpoint("n1", "c" * 64, "client", ipv4="10.88.0.4")
    stub = make_stub({"example.org": ["192.0.2.10"]})
    dns_server.add_scope("c" * 64, path, upstreams=[stub.upstream] if upstream else [])
    udp = netns_socket(path, socket.SOCK_DGRAM)
    udp.connect((DNS_ADDR, 53))

    @settings(max_examples=600, deadline=None)
    @given(garbage)
    def hail(data):
        udp.send(data or b"\x00")

    @settings(max_examples=60, deadline=None)
    @given(st.lists(garbage, min_size=1, max_size=4), st.booleans())
    def hail_tcp(messages, honest_length):
        with netns_socket(path, socket.SOCK_STREAM) as tcp:
            tcp.settimeout(5)
            tcp.connect((DNS_ADDR, 53))
            for msg in messages:
                size = len(msg) if honest_length else (len(msg) * 7 + 3) % 65536
                try:
                    tcp.sendall(struct.pack("!H", size) + msg)
                except OSError:
                    break  # the server hung up on garbage, as it should

    try:
        hail()
        hail_tcp()
    finally:
        udp.close()
    assert addresses(ask(path, "web")) == ["10.88.0.2"]
    assert addresses(ask(path, "web", tcp=True)) == ["10.88.0.2"]
    assert ask(path, "nope").rcode() == dns.rcode.NXDOMAIN
    if upstream:
        assert addresses(ask(path, "example.org")) == ["192.0.2.10"]
        assert addresses(ask(path, "example.org", tcp=True)) == ["192.0.2.10"]
    assert errors == []
