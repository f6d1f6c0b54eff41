"""The answering logic without sockets: opcodes, EDNS versions, classes, search domains, forwarding decisions."""
from __future__ import annotations

import socket

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import pytest

from runtime.network.dns import DnsServer, Records
from runtime.network.dns.server import Scope

ASKER = "c" * 64


@pytest.fixture
def answer():
    records = Records()
    records.add_endpoint("n1", "a" * 64, "web", aliases=["www"], ipv4="10.0.0.2")
    records.add_endpoint("n1", ASKER, "client", ipv4="10.0.0.3")
    server = DnsServer(records)
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket()]
    scopes = {
        "none": Scope(ASKER, "/x", [], ("corp.example",), socks[0], socks[1], ("127.0.0.11", 53)),
        "up": Scope(ASKER, "/x", [("127.0.0.77", 53)], (), socks[0], socks[1], ("127.0.0.11", 53)),
    }

    def _answer(msg: dns.message.Message, scope: str = "none", udp: bool = True):
        query, replies = server._answer(scopes[scope], msg.to_wire(), udp)  # noqa: SLF001
        return query, [dns.message.from_wire(r) for r in replies] if replies else replies

    yield _answer
    for s in socks:
        s.close()


def test_other_opcodes_get_notimp(answer):
    msg = dns.message.make_query("web", "A")
    msg.set_opcode(dns.opcode.STATUS)
    _, replies = answer(msg)
    assert replies[0].rcode() == dns.rcode.NOTIMP


def test_unknown_edns_version_gets_badvers(answer):
    _, replies = answer(dns.message.make_query("web", "A", use_edns=1))
    assert replies[0].rcode() == dns.rcode.BADVERS and replies[0].edns == 0


def test_chaos_class_is_not_ours(answer):
    q = dns.message.make_query("version.bind", "TXT", rdclass=dns.rdataclass.CH)
    _, replies = answer(q)
    assert replies[0].rcode() == dns.rcode.NXDOMAIN  # no upstream
    _, forward = answer(q, "up")
    assert forward is None  # with an upstream it is forwarded


def test_unknown_name_is_forwarded_only_with_upstreams(answer):
    _, replies = answer(dns.message.make_query("example.org", "A"))
    assert replies[0].rcode() == dns.rcode.NXDOMAIN
    query, forward = answer(dns.message.make_query("example.org", "A"), "up")
    assert query is not None and forward is None
    _, local = answer(dns.message.make_query("www", "A"), "up")
    assert local[0].answer[0][0].address == "10.0.0.2"  # local names never leave


def test_search_suffix_and_other_types(answer):
    _, replies = answer(dns.message.make_query("www.corp.example", "A"))
    assert replies[0].answer[0][0].address == "10.0.0.2"
    _, mx = answer(dns.message.make_query("web", "MX"))
    assert mx[0].rcode() == dns.rcode.NOERROR and mx[0].answer == []
    _, ptr_a = answer(dns.message.make_query("2.0.0.10.in-addr.arpa", "A"))
    assert ptr_a[0].rcode() == dns.rcode.NOERROR and ptr_a[0].answer == []

