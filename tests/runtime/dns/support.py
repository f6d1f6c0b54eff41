"""Helpers and fixtures for the embedded DNS tests: fresh netns, the server on a loop thread, a stub upstream, a client.

Every netns is named ``pct-<hex>`` and removed in teardown; stub upstreams listen on a random 127.0.0.x
with a kernel-chosen port; clients are real sockets opened inside the test's netns by a thread made for
that call alone, driven by dnspython (an independent codec, so our wire module is not checked by itself).
"""
from __future__ import annotations

import asyncio
import os
import random
import secrets
import selectors
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from pyroute2 import IPRoute, netns

from runtime import native
from runtime.network.netns import run_in_netns
from runtime.network.dns import DnsServer, Forwarder

DNS_ADDR = "127.0.0.11"


# -- network namespaces -------------------------------------------------------------------------------

def _is_mount_point(path: str) -> bool:
    """From mountinfo: os.path.ismount misses a bind mount within one filesystem (same device)."""
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == path for line in fh)


@pytest.fixture
def make_netns() -> Iterator[Callable[[], str]]:
    """Factory: a new netns ``pct-<hex>`` with ``lo`` up; returns its path. All removed at teardown."""
    created: list[str] = []
    # pyroute2 (as `ip netns add`) makes /run/netns a shared bind mount of itself on first use; a machine that had
    # none before gets none after
    was_mount = _is_mount_point("/run/netns")

    def _make() -> str:
        name = f"pct-{secrets.token_hex(3)}"
        netns.create(name)
        created.append(name)
        with IPRoute(netns=name) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        return f"/var/run/netns/{name}"

    yield _make
    for name in created:
        netns.remove(name)
    leftover = [n for n in created if os.path.exists(f"/var/run/netns/{n}")]
    assert not leftover, f"netns left behind: {leftover}"
    if not was_mount and _is_mount_point("/run/netns") and not os.listdir("/run/netns"):
        subprocess.run(["umount", "/run/netns"], check=True)


def in_netns(path: str, func: Callable[[], Any]) -> Any:
    """Run ``func`` in a fresh thread that joined the netns at ``path`` (that thread alone changes netns)."""
    return run_in_netns(path, func)


def listening_on_11(path: str) -> set[tuple[str, int]]:
    """(protocol, port) of the sockets bound to 127.0.0.11 in the netns at ``path`` (a file or /proc/self/fd/N),
    read from its /proc/net as seen by a thread inside it."""
    def _read() -> set[tuple[str, int]]:
        out = set()
        for proto in ("udp", "tcp"):
            with open(f"/proc/thread-self/net/{proto}") as fh:
                for line in list(fh)[1:]:
                    local = line.split()[1]
                    if local.split(":")[0] == "0B00007F":  # 127.0.0.11, little-endian hex
                        out.add((proto, int(local.split(":")[1], 16)))
        return out
    return in_netns(path, _read)


def netns_socket(path: str, kind: int = socket.SOCK_DGRAM) -> socket.socket:
    return in_netns(path, lambda: socket.socket(socket.AF_INET, kind))


# -- the server on a loop thread ------------------------------------------------------------------------

class LoopThread:
    """An asyncio loop in a thread of its own, as the daemon runs one; tests hand it work."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="dns-test-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        async def _call() -> Any:
            return func(*args, **kwargs)
        return self.run(_call())

    def stop(self) -> None:
        async def _drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.run(_drain())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@dataclass
class Dns:
    server: DnsServer
    lt: LoopThread

    def add_scope(self, container_id: str, path: str, upstreams: Any = (), search: Any = ()) -> Any:
        return self.lt.run(self.server.add_scope(container_id, path, upstreams, search))

    def add_endpoint(self, network_id: str, container_id: str, name: str, **kw: Any) -> Any:
        return self.lt.call(self.server.records.add_endpoint, network_id, container_id, name, **kw)

    def records(self, method: str, *args: Any, **kw: Any) -> Any:
        return self.lt.call(getattr(self.server.records, method), *args, **kw)


@pytest.fixture(params=["fast", "python"])
def dns_server(request: pytest.FixtureRequest) -> Iterator[Dns]:
    """The server on its loop thread, once with the native cache-hit thread serving UDP, once without."""
    fast = request.param == "fast"
    if fast and native.dns_fastpath_library() is None:
        pytest.skip("the DNS fast path helper cannot be built here (no C compiler)")
    lt = LoopThread()
    server = lt.call(DnsServer, forwarder=Forwarder(timeout=0.4, total_timeout=1.5), fastpath=fast)
    try:
        yield Dns(server, lt)
    finally:
        lt.call(server.close)
        lt.stop()


# -- a client inside the netns ----------------------------------------------------------------------------

def ask(path: str, name: str, rdtype: str = "A", *, tcp: bool = False, timeout: float = 5,
        **make: Any) -> dns.message.Message:
    """Send one query to 127.0.0.11 from inside the netns at ``path``; the parsed answer."""
    query = dns.message.make_query(name, rdtype, **make)
    if tcp:
        sock = netns_socket(path, socket.SOCK_STREAM)
        with sock:
            sock.settimeout(timeout)
            sock.connect((DNS_ADDR, 53))
            sock.setblocking(False)
            return dns.query.tcp(query, DNS_ADDR, timeout=timeout, sock=sock)
    sock = netns_socket(path, socket.SOCK_DGRAM)
    with sock:
        sock.setblocking(False)
        return dns.query.udp(query, DNS_ADDR, timeout=timeout, sock=sock, raise_on_truncation=False)


def addresses(reply: dns.message.Message) -> list[str]:
    """The A/AAAA addresses of a reply, in answer order."""
    return [rr.address for rrset in reply.answer for rr in rrset
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)]


# -- a stub upstream on 127.0.0.x -------------------------------------------------------------------------

@dataclass
class Stub:
    """A tiny resolver: answers names from ``records`` (name -> list of IPv4), NXDOMAIN otherwise.

    ``mode``: ``answer``, ``drop`` (never replies: a dead upstream), ``servfail``. Names in ``big`` get
    enough A records that the answer does not fit 512 bytes (so UDP answers are truncated).
    """

    records: dict[str, list[str]]
    mode: str = "answer"
    big: set[str] = field(default_factory=set)
    udp_limit: int | None = None  # set: ignore the asker's EDNS size (an old server), truncate above this
    ipv6: bool = False  # listen on ::1 instead of 127.0.0.x
    port: int = 0  # 0: a port the kernel picks (53: an upstream a resolv.conf or the engine's "dns" can name)
    address: tuple[str, int] = ("", 0)
    udp_queries: int = 0
    tcp_queries: int = 0
    malformed: int = 0
    _stop: tuple[socket.socket, socket.socket] | None = None
    _thread: threading.Thread | None = None

    @property
    def upstream(self) -> str:
        if self.ipv6:
            return f"[{self.address[0]}]:{self.address[1]}"
        return f"{self.address[0]}:{self.address[1]}"

    def _reply(self, wire: bytes, tcp: bool) -> bytes | None:
        try:
            return self._answer(wire, tcp)
        except Exception:  # noqa: BLE001 - a stub that cannot parse a query drops it, as servers do
            self.malformed += 1
            return None

    def _answer(self, wire: bytes, tcp: bool) -> bytes | None:
        query = dns.message.from_wire(wire)
        if self.mode == "drop":
            return None
        resp = dns.message.make_response(query)
        if self.mode == "servfail":
            resp.set_rcode(dns.rcode.SERVFAIL)
            return resp.to_wire()
        qname = query.question[0].name.to_text(omit_final_dot=True).lower()
        if qname in self.big:
            ips = [f"10.9.{i // 250}.{i % 250 + 1}" for i in range(60)]
        elif qname in self.records:
            ips = self.records[qname]
        else:
            resp.set_rcode(dns.rcode.NXDOMAIN)
            return resp.to_wire()
        if query.question[0].rdtype == dns.rdatatype.A:
            resp.answer.append(dns.rrset.from_text_list(query.question[0].name, 30, "IN", "A", ips))
        limit = 65535 if tcp else max(512, query.payload if query.edns >= 0 else 512)
        if not tcp and self.udp_limit is not None:
            limit = self.udp_limit
        wire_out = resp.to_wire()
        if len(wire_out) > limit:
            resp.answer = []
            resp.flags |= dns.flags.TC
            wire_out = resp.to_wire()
        return wire_out

    def start(self) -> None:
        family = socket.AF_INET6 if self.ipv6 else socket.AF_INET
        host = "::1" if self.ipv6 else f"127.0.0.{random.randint(20, 250)}"
        udp = socket.socket(family, socket.SOCK_DGRAM)
        udp.bind((host, self.port))
        tcp = socket.socket(family, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((host, udp.getsockname()[1]))
        tcp.listen(16)
        self.address = udp.getsockname()[:2]
        self._stop = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, args=(udp, tcp), daemon=True)
        self._thread.start()

    def _serve(self, udp: socket.socket, tcp: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(udp, selectors.EVENT_READ, "udp")
        sel.register(tcp, selectors.EVENT_READ, "tcp")
        sel.register(self._stop[1], selectors.EVENT_READ, "stop")
        try:
            while True:
                for key, _ in sel.select():
                    if key.data == "stop":
                        return
                    if key.data == "udp":
                        data, peer = udp.recvfrom(65535)
                        self.udp_queries += 1
                        out = self._reply(data, tcp=False)
                        if out is not None:
                            udp.sendto(out, peer)
                    else:
                        conn, _ = tcp.accept()
                        with conn:
                            conn.settimeout(5)
                            self.tcp_queries += 1
                            size = struct.unpack("!H", _recv_exact(conn, 2))[0]
                            out = self._reply(_recv_exact(conn, size), tcp=True)
                            if out is not None:
                                conn.sendall(struct.pack("!H", len(out)) + out)
        finally:
            sel.close()
            udp.close()
            tcp.close()

    def stop(self) -> None:
        if self._stop is not None and self._thread is not None:
            self._stop[0].send(b"x")
            self._thread.join()
            for s in self._stop:
                s.close()


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    buf = b""
    while len(buf) < size:
        chunk = conn.recv(size - len(buf))
        if not chunk:
            raise ConnectionError("peer closed")
        buf += chunk
    return buf


@pytest.fixture
def make_stub() -> Iterator[Callable[..., Stub]]:
    stubs: list[Stub] = []

    def _make(records: dict[str, list[str]] | None = None, **kw: Any) -> Stub:
        stub = Stub(records or {}, **kw)
        stub.start()
        stubs.append(stub)
        return stub

    yield _make
    for stub in stubs:
        stub.stop()
