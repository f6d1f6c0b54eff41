"""Forwarding of names the table does not know to upstream resolvers.

Upstream traffic leaves from the daemon's own (host) network namespace: the sockets are made by the
daemon's loop, never inside a container. Each query gets a fresh connected UDP socket (a random source
port from the kernel) and a random message id, the reply must echo both id and question, a truncated
UDP reply is retried over TCP, a dead or failing upstream is skipped for the next one within a bounded
time, and when all fail the asker gets SERVFAIL.
"""
from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

from runtime.errors import InvalidArgument
from runtime.network.dns.wire import (
    FLAG_TC, RCODE_REFUSED, RCODE_SERVFAIL, Query, build_error, replace_id, reply_matches, reply_rcode,
)

__all__ = ["Upstream", "Forwarder", "parse_upstreams", "host_upstreams"]

Upstream = tuple[str, int]
_U16 = struct.Struct("!H")


def _parse_one(item: str | tuple[str, int]) -> Upstream:
    if isinstance(item, tuple):
        host, port = item
    else:
        text = item.strip()
        port = 53
        if text.startswith("["):  # [v6]:port
            host, _, rest = text[1:].partition("]")
            if rest.startswith(":"):
                port = int(rest[1:]) if rest[1:].isdigit() else -1
        elif text.count(":") == 1:  # v4:port
            host, _, p = text.partition(":")
            port = int(p) if p.isdigit() else -1
        else:
            host = text
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError as err:
        raise InvalidArgument(f"DNS server {item!r} is not an IP address") from err
    if not 0 < int(port) < 65536:
        raise InvalidArgument(f"DNS server {item!r} has an invalid port")
    return host, int(port)


def parse_upstreams(items: Iterable[str | tuple[str, int]]) -> list[Upstream]:
    """``["1.1.1.1", "127.0.0.53:5353", "[::1]:53"]`` -> ``[(host, port), ...]`` (``InvalidArgument`` if bad)."""
    return [_parse_one(item) for item in items]


def host_upstreams(path: str | Path = "/etc/resolv.conf") -> list[Upstream]:
    """The ``nameserver`` lines of the host's resolv.conf (an empty list when there are none)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    out: list[Upstream] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                out.append(_parse_one(parts[1]))
            except InvalidArgument:
                continue
    return out


class Forwarder:
    """Sends queries upstream. ``timeout`` bounds each upstream; ``total_timeout`` bounds the whole query."""

    def __init__(self, *, timeout: float = 2.0, total_timeout: float = 4.5, max_inflight: int = 1024) -> None:
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.max_inflight = max_inflight
        self._inflight = 0

    @property
    def inflight(self) -> int:
        return self._inflight

    async def forward(self, message: bytes, query: Query, upstreams: Sequence[Upstream], *,
                      tcp: bool = False) -> bytes:
        """The upstream's reply to ``message`` (with the asker's id), or a SERVFAIL built here.

        ``tcp``: the asker came over TCP, so the upstream is asked over TCP as well.
        """
        if not upstreams or self._inflight >= self.max_inflight:
            return build_error(query, RCODE_SERVFAIL)
        self._inflight += 1
        try:
            loop = asyncio.get_running_loop()
            hard = loop.time() + self.total_timeout
            qid = secrets.randbits(16)  # unpredictable: a spoofed reply must guess id and port
            out = replace_id(message, qid)
            last: bytes | None = None
            for upstream in upstreams:
                now = loop.time()
                if now >= hard:
                    break
                deadline = min(now + self.timeout, hard)
                reply = None
                if not tcp:
                    reply = await _ask_udp(upstream, out, qid, query.question, deadline)
                    if reply is not None and _U16.unpack_from(reply, 2)[0] & FLAG_TC:
                        deadline = min(loop.time() + self.timeout, hard)
                        reply = await _ask_tcp(upstream, out, qid, query.question, deadline) or reply
                else:
                    reply = await _ask_tcp(upstream, out, qid, query.question, deadline)
                if reply is None:
                    continue
                if reply_rcode(reply) in (RCODE_SERVFAIL, RCODE_REFUSED):
                    last = reply
                    continue
                return replace_id(reply, query.id)
            if last is not None:
                return replace_id(last, query.id)
            return build_error(query, RCODE_SERVFAIL)
        finally:
            self._inflight -= 1


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


async def _ask_udp(upstream: Upstream, message: bytes, qid: int, question: bytes, deadline: float) -> bytes | None:
    loop = asyncio.get_running_loop()
    sock = socket.socket(_family(upstream[0]), socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
    try:
        sock.connect(upstream)
        sock.send(message)
        async with asyncio.timeout_at(deadline):
            while True:
                data = await loop.sock_recv(sock, 65535)
                if reply_matches(data, qid, question):
                    return data
    except (OSError, TimeoutError):  # ECONNREFUSED from an ICMP unreachable fails over at once
        return None
    finally:
        sock.close()


async def _ask_tcp(upstream: Upstream, message: bytes, qid: int, question: bytes, deadline: float) -> bytes | None:
    writer = None
    try:
        async with asyncio.timeout_at(deadline):
            reader, writer = await asyncio.open_connection(upstream[0], upstream[1])
            writer.write(_U16.pack(len(message)) + message)
            await writer.drain()
            while True:
                size = _U16.unpack(await reader.readexactly(2))[0]
                data = await reader.readexactly(size)
                if reply_matches(data, qid, question):
                    return data
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None
    finally:
        if writer is not None:
            writer.close()
