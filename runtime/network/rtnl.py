"""Raw rtnetlink requests for the container-connect path: veth pairs, addresses, routes, lookups by name.

pyroute2 costs about a millisecond of Python per request (an asyncio loop per call, messages encoded attribute by
attribute) and finds a link by name by dumping every link of the host. This module packs the few messages a
connect needs with ``struct`` and sends several of them in one ``sendmsg``, each with ``NLM_F_ACK``, then reads the
answers together: a connect is three round trips whatever the number of links on the host.

Requests are :class:`Request` values (type, flags, body); :meth:`Rtnl.exchange` sends a batch and returns one
:class:`Answer` per request: the kernel's reply message or its error code. Helpers raise :class:`RtnlError`
(an :class:`~runtime.errors.EngineError` carrying the errno and the kernel's extended-ack text) and leave mapping
to typed errors (``EEXIST`` -> :class:`~runtime.errors.Conflict`, ...) to their callers, who know what clashed.
The socket comes from :func:`runtime.network.rtdump.route_socket`, so it may live in another network namespace.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from runtime.errors import EngineError
from runtime.network.rtdump import dump_messages, parse_attrs, route_socket

__all__ = ["Rtnl", "Request", "Answer", "RtnlError", "link_request", "new_veth", "set_link_up", "set_link_down",
           "rename_link", "detach_link", "del_link", "deleted_links", "new_address", "new_default_route"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

_SOL_NETLINK = 270
_NETLINK_CAP_ACK, _NETLINK_EXT_ACK = 10, 11
_RTM_NEWLINK, _RTM_DELLINK, _RTM_GETLINK = 16, 17, 18
_RTM_NEWADDR, _RTM_NEWROUTE = 20, 24
_NLM_F_REQUEST, _NLM_F_MULTI, _NLM_F_ACK = 0x1, 0x2, 0x4
_NLM_F_REPLACE, _NLM_F_EXCL, _NLM_F_CREATE, _NLM_F_DUMP = 0x100, 0x200, 0x400, 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_NLM_F_CAPPED, _NLM_F_ACK_TLVS = 0x100, 0x200  # flags of an error answer
_NLMSGERR_ATTR_MSG = 1
_IFLA_ADDRESS, _IFLA_IFNAME, _IFLA_MTU, _IFLA_MASTER = 1, 3, 4, 10
_IFLA_LINKINFO, _IFLA_NET_NS_FD, _IFLA_EXT_MASK = 18, 28, 29
_IFLA_INFO_KIND, _IFLA_INFO_DATA, _VETH_INFO_PEER = 1, 2, 1
_RTEXT_FILTER_SKIP_STATS = 1 << 3
_IFA_ADDRESS, _IFA_LOCAL, _IFA_BROADCAST = 1, 2, 4
_IFA_F_NODAD = 0x02
_RTA_OIF, _RTA_GATEWAY = 4, 5
_RT_TABLE_MAIN, _RTPROT_BOOT, _RTN_UNICAST = 254, 3, 1
_IFF_UP = 0x1

_HDR = struct.Struct("=IHHII")        # nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")    # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")     # ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTA = struct.Struct("=HH")
_U32 = struct.Struct("=I")


class RtnlError(EngineError):
    """A request the kernel refused: ``code`` is the errno, ``detail`` the extended-ack text (may be empty)."""

    def __init__(self, what: str, code: int, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{what}: {os.strerror(code)}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class Request:
    """One rtnetlink message to send: ``NLM_F_REQUEST`` is added, ``NLM_F_ACK`` too unless ``reply`` says the
    kernel answers with a message of its own (a get)."""

    type: int
    flags: int
    body: bytes
    what: str  # for error messages: "add veth vethab12 (peer eth0)"
    reply: bool = False


@dataclass(frozen=True)
class Answer:
    """The kernel's answer to one request: ``error`` (0: done) and, for a get, the reply's payload."""

    request: Request
    error: int = 0
    detail: str = ""
    payload: bytes = b""

    def check(self) -> "Answer":
        """Raise :class:`RtnlError` when the request failed; returns itself."""
        if self.error:
            raise RtnlError(self.request.what, self.error, self.detail)
        return self


def _attr(kind: int, payload: bytes) -> bytes:
    length = _RTA.size + len(payload)
    return _RTA.pack(length, kind) + payload + b"\0" * (-length & 3)


def _str(value: str) -> bytes:
    return value.encode() + b"\0"


def _mac(value: str) -> bytes:
    return bytes.fromhex(value.replace(":", ""))


class Rtnl:
    """A NETLINK_ROUTE socket (in the namespace at ``netns``, the caller's when ``None``). Not thread-safe:
    one owner at a time. A context manager; :meth:`close` when done."""

    def __init__(self, netns: str | os.PathLike[str] | None = None, *, sock: socket.socket | None = None) -> None:
        self.sock = sock if sock is not None else route_socket(netns)
        for option in (_NETLINK_CAP_ACK, _NETLINK_EXT_ACK):  # short acks, with the kernel's reason on error
            try:
                self.sock.setsockopt(_SOL_NETLINK, option, 1)
            except OSError:  # an old kernel: plain acks
                pass
        self._seq = int.from_bytes(os.urandom(3), "little")

    def __enter__(self) -> "Rtnl":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def fileno(self) -> int:
        return self.sock.fileno()

    def exchange(self, requests: Sequence[Request]) -> list[Answer]:
        """Send ``requests`` in one datagram (the kernel runs them in order, each on its own) and return their
        answers in the same order. Errors are in the answers: call :meth:`Answer.check`."""
        if not requests:
            return []
        first = (self._seq + 1) & 0xFFFFFFFF
        self._seq = (self._seq + len(requests)) & 0xFFFFFFFF
        parts = []
        for i, req in enumerate(requests):
            flags = _NLM_F_REQUEST | req.flags | (0 if req.reply else _NLM_F_ACK)
            parts.append(_HDR.pack(_HDR.size + len(req.body), req.type, flags, (first + i) & 0xFFFFFFFF, 0))
            parts.append(req.body)
        self.sock.sendmsg(parts)
        answers: dict[int, Answer] = {}
        while len(answers) < len(requests):
            data = self.sock.recv(1 << 16)
            offset = 0
            while offset + _HDR.size <= len(data):
                length, kind, _flags, seq, _pid = _HDR.unpack_from(data, offset)
                if length < _HDR.size:
                    raise EngineError("rtnetlink: malformed answer")
                i = (seq - first) & 0xFFFFFFFF
                if i < len(requests) and i not in answers:
                    answers[i] = _answer(requests[i], data, offset, length, kind, _flags)
                offset += (length + 3) & ~3
        return [answers[i] for i in range(len(requests))]

    def call(self, request: Request) -> Answer:
        """One request, checked."""
        return self.exchange([request])[0].check()

    def link_index(self, name: str) -> int | None:
        """The index of link ``name`` (one get by name, no dump); ``None`` when there is none."""
        answer = self.exchange([link_request(name)])[0]
        if answer.error in (errno.ENODEV, errno.ENOENT):
            return None
        answer.check()
        return int(_IFINFO.unpack_from(answer.payload, 0)[2])

    def link_names(self) -> list[str]:
        """Names of every link in the socket's namespace (a dump: meant for a sandbox's few links)."""
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(_IFLA_EXT_MASK, _U32.pack(_RTEXT_FILTER_SKIP_STATS))
        names: list[str] = []
        for data, start, end in dump_messages(self.sock, _RTM_GETLINK, body):
            attrs = parse_attrs(data, start + _IFINFO.size, end)
            if _IFLA_IFNAME in attrs:
                names.append(attrs[_IFLA_IFNAME].split(b"\0", 1)[0].decode())
        return names


def _answer(req: Request, data: bytes, offset: int, length: int, kind: int, flags: int) -> Answer:
    start = offset + _HDR.size
    if kind != _NLMSG_ERROR:
        return Answer(req, payload=data[start:offset + length])
    (code,) = struct.unpack_from("=i", data, start)
    detail = ""
    if code and flags & _NLM_F_ACK_TLVS:
        # The error, then the request's header (capped: NETLINK_CAP_ACK), then the extended-ack attributes.
        (orig_len,) = struct.unpack_from("=I", data, start + 4)
        tlv_start = start + 4 + (_HDR.size if flags & _NLM_F_CAPPED else (orig_len + 3) & ~3)
        raw = parse_attrs(data, tlv_start, offset + length).get(_NLMSGERR_ATTR_MSG, b"")
        detail = raw.split(b"\0", 1)[0].decode(errors="replace")
    return Answer(req, -code, detail)


def link_request(name: str) -> Request:
    """Get link ``name`` (the reply's payload starts with its ``ifinfomsg``)."""
    body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(_IFLA_IFNAME, _str(name)) + \
        _attr(_IFLA_EXT_MASK, _U32.pack(_RTEXT_FILTER_SKIP_STATS))
    return Request(_RTM_GETLINK, 0, body, f"look up link {name}", reply=True)


def new_veth(name: str, peer: str, peer_netns_fd: int, *, master: int | None = None, mtu: int | None = None,
             peer_mac: str | None = None, up: bool = True) -> Request:
    """Create veth pair ``name`` / ``peer``, the peer moved into the namespace open at ``peer_netns_fd`` with
    its MAC and MTU; ``name`` enslaved to bridge index ``master``. ``up``: ``name`` comes up at once (the peer
    cannot: the kernel opens it before the pair is linked, and a veth without its peer refuses with ENOTCONN)."""
    flags = _IFF_UP if up else 0
    peer_attrs = _attr(_IFLA_IFNAME, _str(peer)) + _attr(_IFLA_NET_NS_FD, _U32.pack(peer_netns_fd))
    if peer_mac:
        peer_attrs += _attr(_IFLA_ADDRESS, _mac(peer_mac))
    if mtu:
        peer_attrs += _attr(_IFLA_MTU, _U32.pack(mtu))
    peer_msg = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + peer_attrs
    info = _attr(_IFLA_INFO_KIND, _str("veth")) + _attr(_IFLA_INFO_DATA, _attr(_VETH_INFO_PEER, peer_msg))
    body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, flags, flags) + _attr(_IFLA_IFNAME, _str(name))
    if mtu:
        body += _attr(_IFLA_MTU, _U32.pack(mtu))
    if master is not None:
        body += _attr(_IFLA_MASTER, _U32.pack(master))
    body += _attr(_IFLA_LINKINFO, info)
    return Request(_RTM_NEWLINK, _NLM_F_CREATE | _NLM_F_EXCL, body, f"add veth {name} (peer {peer})")


def set_link_up(index: int) -> Request:
    return Request(_RTM_NEWLINK, 0, _IFINFO.pack(socket.AF_UNSPEC, 0, index, _IFF_UP, _IFF_UP),
                   f"set link {index} up")


def set_link_down(index: int) -> Request:
    return Request(_RTM_NEWLINK, 0, _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, _IFF_UP), f"set link {index} down")


def rename_link(index: int, name: str) -> Request:
    """Rename link ``index`` (the kernel refuses while it is up: send :func:`set_link_down` before)."""
    body = _IFINFO.pack(socket.AF_UNSPEC, 0, index, 0, 0) + _attr(_IFLA_IFNAME, _str(name))
    return Request(_RTM_NEWLINK, 0, body, f"rename link {index} to {name}")


def detach_link(name: str) -> Request:
    """Take link ``name`` down and out of its bridge (by name). Unlike a delete, this does not wait for RCU
    grace periods: about a millisecond instead of 20-50."""
    body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, _IFF_UP) + _attr(_IFLA_IFNAME, _str(name)) + \
        _attr(_IFLA_MASTER, _U32.pack(0))
    return Request(_RTM_NEWLINK, 0, body, f"detach link {name}")


def del_link(name: str) -> Request:
    """Delete link ``name`` by name (a veth's peer goes with it)."""
    body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(_IFLA_IFNAME, _str(name))
    return Request(_RTM_DELLINK, 0, body, f"delete link {name}")


def deleted_links(data: bytes) -> set[int]:
    """The indexes of the links an ``RTM_DELLINK`` announcement in ``data`` (one read of a socket in the
    ``RTNLGRP_LINK`` group) says are gone."""
    out = set()
    offset = 0
    while offset + _HDR.size <= len(data):
        length, kind, _flags, _seq, _pid = _HDR.unpack_from(data, offset)
        if length < _HDR.size:
            break
        if kind == _RTM_DELLINK and length >= _HDR.size + _IFINFO.size:
            out.add(_IFINFO.unpack_from(data, offset + _HDR.size)[2])
        offset += (length + 3) & ~3
    return out


def new_address(index: int, address: IPInterface) -> Request:
    """Add ``address`` (with its prefix) to link ``index``: IPv4 with its broadcast, IPv6 without DAD."""
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    flags = _IFA_F_NODAD if address.version == 6 else 0
    packed = address.ip.packed
    body = _IFADDR.pack(family, address.network.prefixlen, flags, 0, index) + _attr(_IFA_LOCAL, packed) + \
        _attr(_IFA_ADDRESS, packed)
    if address.version == 4 and address.network.prefixlen < 31:
        body += _attr(_IFA_BROADCAST, address.network.broadcast_address.packed)
    return Request(_RTM_NEWADDR, _NLM_F_CREATE | _NLM_F_EXCL, body, f"add address {address} to link {index}")


def new_default_route(index: int, gateway: IPAddress) -> Request:
    """Replace the main table's default route of the gateway's family: via ``gateway`` out of link ``index``."""
    family = socket.AF_INET if gateway.version == 4 else socket.AF_INET6
    body = _RTMSG.pack(family, 0, 0, 0, _RT_TABLE_MAIN, _RTPROT_BOOT, 0, _RTN_UNICAST, 0) + \
        _attr(_RTA_GATEWAY, gateway.packed) + _attr(_RTA_OIF, _U32.pack(index))
    return Request(_RTM_NEWROUTE, _NLM_F_CREATE | _NLM_F_REPLACE, body, f"set default route via {gateway}")
