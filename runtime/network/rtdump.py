"""Fast rtnetlink dumps of routes and addresses, for the subnet check of every network create.

pyroute2 decodes every attribute of every message in Python (about 10 ms for the host's routes and addresses
of both families on a busy machine); choosing a free subnet needs only each route's destination, type and
table, and each address's prefix. This module sends the two dump requests itself and reads just those fields.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from runtime.errors import EngineError
from runtime.network.netns import run_in_netns

__all__ = ["Route", "Address", "dump_routes", "dump_addresses", "route_socket", "dump_messages", "parse_attrs"]

_NETLINK_ROUTE = 0
_RTM_GETADDR, _RTM_GETROUTE = 22, 26
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_RTA_DST, _RTA_TABLE = 1, 15
_IFA_ADDRESS, _IFA_LOCAL = 1, 2
_HDR = struct.Struct("=IHHII")    # nlmsghdr: len, type, flags, seq, pid
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_IFADDR = struct.Struct("=BBBBI")     # family, prefixlen, flags, scope, index
_RTA = struct.Struct("=HH")


@dataclass(frozen=True)
class Route:
    family: int
    dst: str | None  # None: a default route (no RTA_DST)
    dst_len: int
    type: int
    table: int


@dataclass(frozen=True)
class Address:
    family: int
    address: str
    prefixlen: int
    index: int


def route_socket(netns: str | os.PathLike[str] | None = None) -> socket.socket:
    """A NETLINK_ROUTE socket in the namespace at ``netns`` (the caller's when ``None``)."""
    if netns is None:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_ROUTE)
    fd = run_in_netns(os.fspath(netns),
                      lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_ROUTE).detach())
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_ROUTE, fileno=fd)


def parse_attrs(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    """The rtattrs between ``offset`` and ``end``: type (flags masked off) -> payload; the first of a type wins."""
    out: dict[int, bytes] = {}
    while offset + 4 <= end:
        length, kind = _RTA.unpack_from(data, offset)
        if length < 4:
            break
        out.setdefault(kind & 0x3FFF, data[offset + 4:offset + length])
        offset += (length + 3) & ~3
    return out


def dump_messages(sock: socket.socket, msg_type: int, body: bytes) -> Iterator[tuple[bytes, int, int]]:
    """Send one dump request; yield (buffer, payload start, message end) for each answer."""
    seq = int.from_bytes(os.urandom(4), "little") or 1
    sock.send(_HDR.pack(_HDR.size + len(body), msg_type, _NLM_F_REQUEST | _NLM_F_DUMP, seq, 0) + body)
    while True:
        data = sock.recv(1 << 20)
        offset = 0
        while offset + _HDR.size <= len(data):
            length, kind, _flags, got_seq, _pid = _HDR.unpack_from(data, offset)
            if length < _HDR.size:
                raise EngineError("rtnetlink: malformed answer")
            if got_seq == seq:
                if kind == _NLMSG_DONE:
                    return
                if kind == _NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", data, offset + _HDR.size)
                    if code:
                        raise EngineError(f"rtnetlink dump failed: {os.strerror(-code)}")
                    return
                yield data, offset + _HDR.size, offset + length
            offset += (length + 3) & ~3


def _ip(family: int, raw: bytes) -> str:
    return str(ipaddress.ip_address(raw)) if family in (socket.AF_INET, socket.AF_INET6) else raw.hex()


def dump_routes(sock: socket.socket, family: int) -> list[Route]:
    """Every route of ``family`` in every table."""
    out = []
    for data, start, end in dump_messages(sock, _RTM_GETROUTE, _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)):
        fam, dst_len, _s, _t, table, _p, _sc, kind, _f = _RTMSG.unpack_from(data, start)
        attrs = parse_attrs(data, start + _RTMSG.size, end)
        if _RTA_TABLE in attrs:
            (table,) = struct.unpack("=I", attrs[_RTA_TABLE][:4])
        dst = _ip(fam, attrs[_RTA_DST]) if _RTA_DST in attrs else None
        out.append(Route(fam, dst, dst_len, kind, table))
    return out


def dump_addresses(sock: socket.socket, family: int) -> list[Address]:
    """Every address of ``family`` on every interface (IFA_LOCAL where set, else IFA_ADDRESS)."""
    out = []
    for data, start, end in dump_messages(sock, _RTM_GETADDR, _IFADDR.pack(family, 0, 0, 0, 0)):
        fam, prefixlen, _f, _sc, index = _IFADDR.unpack_from(data, start)
        attrs = parse_attrs(data, start + _IFADDR.size, end)
        raw = attrs.get(_IFA_LOCAL) or attrs.get(_IFA_ADDRESS)
        if raw:
            out.append(Address(fam, _ip(fam, raw), prefixlen, index))
    return out
