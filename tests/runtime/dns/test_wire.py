"""The codec against dnspython (an independent implementation): queries in, replies out."""
from __future__ import annotations

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from runtime.network.dns.wire import (
    RCODE_NOERROR, RCODE_NXDOMAIN, TYPE_A, TYPE_AAAA, TYPE_PTR, build_reply, decode_name, encode_name,
    parse_query, question_end, truncate_reply,
)


def _wire(name: str, rdtype: str = "A", **kw) -> bytes:
    return dns.message.make_query(name, rdtype, **kw).to_wire()


def test_parse_plain_query():
    q = parse_query(_wire("Web.Example.", "AAAA"))
    assert q is not None
    assert (q.name, q.qtype, q.edns, q.udp_size) == ("web.example", TYPE_AAAA, False, 512)
    assert q.question == dns.name.from_text("Web.Example.").to_wire() + b"\x00\x1c\x00\x01"


def test_parse_edns0():
    q = parse_query(_wire("web", use_edns=0, payload=4096, want_dnssec=True))
    assert q is not None and q.edns and q.udp_size == 4096 and q.edns_version == 0
    tiny = parse_query(_wire("web", use_edns=0, payload=100))
    assert tiny is not None and tiny.udp_size == 512  # never below the classic limit
    assert parse_query(_wire("web", use_edns=1)).edns_version == 1


@pytest.mark.parametrize("data", [
    b"", b"\x00" * 11, b"\x12\x34\x81\x80" + b"\x00\x01" + b"\x00" * 6 + b"\x00\x00\x01\x00\x01",  # a response
    b"\x12\x34\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01",  # two questions claimed
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03ab",  # label runs off the end
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",  # pointer in the question
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x00\x00\x01\x00\x01\x00\x00\x29",  # cut OPT
])
def test_malformed_queries_are_rejected(data):
    assert parse_query(data) is None


def test_reply_parses_with_dnspython_and_compresses_owner_names():
    q = parse_query(_wire("api", use_edns=0))
    out = build_reply(q, RCODE_NOERROR, [(TYPE_A, bytes([10, 0, 0, i])) for i in range(1, 4)], 30)
    msg = dns.message.from_wire(out)
    assert msg.id == q.id and msg.flags & dns.flags.QR and msg.flags & dns.flags.AA
    assert msg.flags & dns.flags.RD and msg.flags & dns.flags.RA
    assert [rr.address for rr in msg.answer[0]] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert msg.answer[0].ttl == 30 and msg.edns == 0
    assert out.count(b"\xc0\x0c") == 3  # each answer points back at the question's name


def test_ptr_and_nxdomain_replies():
    q = parse_query(_wire("2.0.0.10.in-addr.arpa", "PTR"))
    out = build_reply(q, RCODE_NOERROR, [(TYPE_PTR, encode_name("web.net"))])
    assert dns.message.from_wire(out).answer[0][0].target.to_text() == "web.net."
    nx = dns.message.from_wire(build_reply(q, RCODE_NXDOMAIN, []))
    assert nx.rcode() == dns.rcode.NXDOMAIN and nx.answer == []


def test_oversized_reply_is_truncated_to_the_askers_size():
    q = parse_query(_wire("many"))
    answers = [(TYPE_A, bytes([10, 0, i // 256, i % 256])) for i in range(40)]
    out = build_reply(q, RCODE_NOERROR, answers, max_size=q.udp_size)
    msg = dns.message.from_wire(out)
    assert len(out) <= 512 and msg.flags & dns.flags.TC and msg.answer == []
    full = build_reply(q, RCODE_NOERROR, answers)
    cut = truncate_reply(full, 512)
    assert len(cut) <= 512 and dns.message.from_wire(cut).flags & dns.flags.TC
    assert truncate_reply(full, 4096) == full


def test_names_round_trip_with_compression():
    msg = dns.message.make_response(dns.message.make_query("a.b.example", "A"))
    msg.answer.append(dns.rrset.from_text("a.b.example.", 1, "IN", "CNAME", "c.b.example."))
    wire = msg.to_wire()
    end = question_end(wire)
    assert decode_name(wire, 12) == ("a.b.example", end - 4)
    target, _ = decode_name(wire, end + 12)
    assert target == "c.b.example"
    with pytest.raises(ValueError):
        decode_name(b"\xc0\x00", 0)  # a pointer loop
    with pytest.raises(ValueError):
        encode_name("x" * 64 + ".example")
