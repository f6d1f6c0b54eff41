"""DNS message codec (RFC 1035, EDNS0 of RFC 6891), written for the embedded server's hot path.

Only what the server needs is parsed: the header, the one question and an OPT record in the additional
section. Answers are built with the owner name compressed to a pointer at the question. Anything malformed
makes :func:`parse_query` return ``None`` (the server drops it); nothing here raises on bad input.
"""
from __future__ import annotations

import struct

__all__ = [
    "TYPE_A", "TYPE_NS", "TYPE_CNAME", "TYPE_SOA", "TYPE_PTR", "TYPE_MX", "TYPE_TXT", "TYPE_AAAA", "TYPE_SRV",
    "TYPE_OPT", "TYPE_ANY", "CLASS_IN", "CLASS_ANY",
    "RCODE_NOERROR", "RCODE_FORMERR", "RCODE_SERVFAIL", "RCODE_NXDOMAIN", "RCODE_NOTIMP", "RCODE_REFUSED",
    "RCODE_BADVERS", "FLAG_QR", "FLAG_AA", "FLAG_TC", "FLAG_RD", "FLAG_RA",
    "MAX_UDP_PAYLOAD", "Query", "parse_query", "build_reply", "build_error", "encode_name", "decode_name",
    "question_end", "replace_id", "truncate_reply", "reply_matches", "reply_rcode",
]

TYPE_A = 1
TYPE_NS = 2
TYPE_CNAME = 5
TYPE_SOA = 6
TYPE_PTR = 12
TYPE_MX = 15
TYPE_TXT = 16
TYPE_AAAA = 28
TYPE_SRV = 33
TYPE_OPT = 41
TYPE_ANY = 255
CLASS_IN = 1
CLASS_ANY = 255

RCODE_NOERROR = 0
RCODE_FORMERR = 1
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
RCODE_NOTIMP = 4
RCODE_REFUSED = 5
RCODE_BADVERS = 16  # extended rcode: high 8 bits travel in the OPT record

FLAG_QR = 0x8000
FLAG_AA = 0x0400
FLAG_TC = 0x0200
FLAG_RD = 0x0100
FLAG_RA = 0x0080
_OPCODE_MASK = 0x7800
_KEEP_FROM_QUERY = _OPCODE_MASK | FLAG_RD | 0x0010  # opcode, RD, CD

# What we advertise in our own OPT record: the size that avoids IP fragmentation (DNS flag day 2020).
MAX_UDP_PAYLOAD = 1232

_HEADER = struct.Struct("!HHHHHH")
_U16 = struct.Struct("!H")
_RR_FIXED = struct.Struct("!HHIH")
_QFIXED = struct.Struct("!HH")


class Query:
    """One parsed query. ``name`` is lower-case without the final dot (``""`` for the root)."""

    __slots__ = ("id", "flags", "name", "qtype", "qclass", "question", "edns", "udp_size", "edns_version",
                 "opcode")

    def __init__(self, id_: int, flags: int, name: str, qtype: int, qclass: int, question: bytes, edns: bool,
                 udp_size: int, edns_version: int) -> None:
        self.id = id_
        self.flags = flags
        self.name = name
        self.qtype = qtype
        self.qclass = qclass
        self.question = question  # the question section as received (keeps the asker's letter case)
        self.edns = edns
        self.udp_size = udp_size
        self.edns_version = edns_version
        self.opcode = (flags & _OPCODE_MASK) >> 11

    def __repr__(self) -> str:
        return f"Query(id={self.id}, name={self.name!r}, qtype={self.qtype}, edns={self.edns})"


def _skip_name(data: bytes, off: int) -> int:
    """Offset just past the (possibly compressed) name at ``off``; -1 if it runs off the end or is bad."""
    end = len(data)
    while off < end:
        length = data[off]
        if length == 0:
            return off + 1
        if length & 0xC0 == 0xC0:
            return off + 2 if off + 2 <= end else -1
        if length & 0xC0:
            return -1
        off += 1 + length
    return -1


def _skip_rr(data: bytes, off: int) -> int:
    off = _skip_name(data, off)
    if off < 0 or off + 10 > len(data):
        return -1
    rdlen = _U16.unpack_from(data, off + 8)[0]
    off += 10 + rdlen
    return off if off <= len(data) else -1


def question_end(data: bytes) -> int:
    """Offset just past the first question of a message, or -1 when there is none or it is malformed."""
    if len(data) < 12 or _U16.unpack_from(data, 4)[0] < 1:
        return -1
    off = _skip_name(data, 12)
    if off < 0 or off + 4 > len(data):
        return -1
    return off + 4


def parse_query(data: bytes) -> Query | None:
    """Parse a query message; ``None`` for anything that is not a well-formed single-question query."""
    if len(data) < 17:  # header + root name + type + class
        return None
    id_, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    if flags & FLAG_QR or qdcount != 1:
        return None
    off = 12
    end = len(data)
    labels: list[bytes] = []
    total = 0
    while True:
        if off >= end:
            return None
        length = data[off]
        if length == 0:
            off += 1
            break
        if length > 63:  # compression pointers have no place in a question we answer
            return None
        total += length + 1
        if total > 255:
            return None
        label = data[off + 1:off + 1 + length]
        if len(label) != length:
            return None
        labels.append(label)
        off += 1 + length
    if off + 4 > end:
        return None
    qtype, qclass = _QFIXED.unpack_from(data, off)
    off += 4
    question = data[12:off]
    name = b".".join(labels).lower().decode("latin-1")
    if any(b"." in label for label in labels):
        name = "\x00" + name  # a dot inside a label never matches a host name
    edns = False
    udp_size = 512
    version = 0
    if ancount or nscount or arcount:
        for _ in range(ancount + nscount):
            off = _skip_rr(data, off)
            if off < 0:
                return None
        for _ in range(arcount):
            start = off
            off = _skip_rr(data, off)
            if off < 0:
                return None
            if data[start] == 0 and _U16.unpack_from(data, start + 1)[0] == TYPE_OPT:
                if edns:
                    return None  # two OPT records: FORMERR territory, drop
                edns = True
                size, ttl = struct.unpack_from("!HI", data, start + 3)
                udp_size = max(512, size)
                version = (ttl >> 16) & 0xFF
    return Query(id_, flags, name, qtype, qclass, question, edns, udp_size, version)


def encode_name(name: str) -> bytes:
    """Wire form of a dotted name (no compression). Raises ``ValueError`` for an invalid name."""
    name = name.rstrip(".")
    if not name:
        return b"\x00"
    out = bytearray()
    for label in name.split("."):
        raw = label.encode("idna") if not label.isascii() else label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"invalid DNS name {name!r}")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > 255:
        raise ValueError(f"DNS name too long: {name!r}")
    return bytes(out)


def decode_name(data: bytes, off: int) -> tuple[str, int]:
    """Read a possibly compressed name at ``off``: (dotted name, offset past it). ``ValueError`` if malformed."""
    labels: list[str] = []
    after = -1
    jumps = 0
    end = len(data)
    while True:
        if off >= end:
            raise ValueError("name runs past the message")
        length = data[off]
        if length == 0:
            off += 1
            break
        if length & 0xC0 == 0xC0:
            if off + 2 > end or jumps > 64:
                raise ValueError("bad compression pointer")
            if after < 0:
                after = off + 2
            off = _U16.unpack_from(data, off)[0] & 0x3FFF
            jumps += 1
            continue
        if length & 0xC0:
            raise ValueError("bad label type")
        labels.append(data[off + 1:off + 1 + length].decode("latin-1"))
        off += 1 + length
    return ".".join(labels), (after if after >= 0 else off)


def _opt_record(rcode: int) -> bytes:
    return b"\x00" + _RR_FIXED.pack(TYPE_OPT, MAX_UDP_PAYLOAD, (rcode >> 4) << 24, 0)


def build_reply(query: Query, rcode: int, answers: list[tuple[int, bytes]], ttl: int = 600,
                authoritative: bool = True, max_size: int | None = None) -> bytes:
    """A response to ``query`` with ``answers`` (rtype, rdata) owned by the question's name.

    With ``max_size`` (the asker's UDP limit), an answer that does not fit is replaced by an empty one with
    the TC bit set, so the client asks again over TCP.
    """
    flags = FLAG_QR | FLAG_RA | (query.flags & _KEEP_FROM_QUERY) | (rcode & 0xF)
    if authoritative:
        flags |= FLAG_AA
    parts = [b"", query.question]
    for rtype, rdata in answers:
        parts.append(b"\xc0\x0c" + _RR_FIXED.pack(rtype, CLASS_IN, ttl, len(rdata)))
        parts.append(rdata)
    opt = _opt_record(rcode) if query.edns else b""
    parts.append(opt)
    parts[0] = _HEADER.pack(query.id, flags, 1, len(answers), 0, 1 if opt else 0)
    out = b"".join(parts)
    if max_size is not None and len(out) > max_size:
        out = _HEADER.pack(query.id, flags | FLAG_TC, 1, 0, 0, 1 if opt else 0) + query.question + opt
    return out


def build_error(query: Query, rcode: int) -> bytes:
    """An answerless response carrying ``rcode`` (SERVFAIL, NOTIMP, REFUSED, FORMERR, BADVERS...)."""
    return build_reply(query, rcode, [], authoritative=False)


def replace_id(message: bytes, id_: int) -> bytes:
    return _U16.pack(id_) + message[2:]


def reply_rcode(message: bytes) -> int:
    return message[3] & 0xF if len(message) >= 4 else RCODE_SERVFAIL


def reply_matches(reply: bytes, id_: int, question: bytes) -> bool:
    """True when ``reply`` answers the query with this id and question (name compared case-insensitively)."""
    if len(reply) < 12 + len(question) or _U16.unpack_from(reply, 0)[0] != id_ or not reply[2] & 0x80:
        return False
    if _U16.unpack_from(reply, 4)[0] != 1:
        # Some servers answer FORMERR/NOTIMP without echoing the question; accept only those.
        return _U16.unpack_from(reply, 4)[0] == 0 and reply[3] & 0xF != RCODE_NOERROR
    return reply[12:12 + len(question)].lower() == question.lower()


def truncate_reply(reply: bytes, max_size: int) -> bytes:
    """``reply`` if it fits in ``max_size``; else its header and question with TC set and no records."""
    if len(reply) <= max_size:
        return reply
    qend = question_end(reply)
    if qend < 0:
        qend = 12
    id_, flags, qd = _HEADER.unpack_from(reply)[:3]
    return _HEADER.pack(id_, flags | FLAG_TC, 1 if qend > 12 else 0, 0, 0, 0) + reply[12:qend]
