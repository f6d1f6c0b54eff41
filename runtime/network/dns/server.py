"""The embedded DNS server: one UDP and one TCP socket on 127.0.0.11 inside each container's netns.

The sockets are opened inside the container's network namespace (``listener.py``) and served by the
daemon's loop; they listen on port 53 itself or, in redirect mode, on a free port that 127.0.0.11:53 is
DNAT-ed to (``redirect.py``). The socket a query arrives on names the asking container (its
*scope*), and the name table answers only from networks that container is attached to. Unknown names go
to the scope's upstreams (from the daemon's own netns) or get NXDOMAIN when there are none.

Hot path: a reply for a query seen before (same bytes after the id) comes from a per-scope cache that is
dropped whenever the name table changes. Where the C helper builds (``fastpath.py``), a native thread serves
the UDP sockets and that cache, off the GIL, and hands every other datagram to the loop; else the loop
drains each readable UDP socket in batches and keeps the cache itself.
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import struct
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from runtime import trace
from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.network.dns.answer import local_replies, replies_for
from runtime.network.dns.fastpath import MISS_HEADER, FastPath, parse_miss
from runtime.network.dns.forwarder import Forwarder, Upstream, host_upstreams, parse_upstreams
from runtime.network.dns.listener import netns_identity
from runtime.network.dns.prepared import PreparedSockets
from runtime.network.dns.records import Records
from runtime.network.dns.redirect import forget_mappings, redirect_available
from runtime.network.dns.sockets import Listening, open_scope_sockets
from runtime.network.dns.wire import (
    CLASS_ANY, CLASS_IN, RCODE_NXDOMAIN, RCODE_SERVFAIL, Query, build_error, reply_rcode, truncate_reply,
)

__all__ = ["DnsServer", "Scope", "DEFAULT_ADDRESS"]

DEFAULT_ADDRESS = "127.0.0.11"
_BATCH = 256  # datagrams handled per readiness event before yielding to the loop
_CACHE_MAX = 512  # per scope: a hostile asker costs at most ~0.5 MB of cached replies
_TCP_IDLE = 10.0
_TCP_MAX_CLIENTS = 64
_SCOPE_FORWARDS = 256  # forwarded UDP queries in flight per container: one cannot starve the others
_U16 = struct.Struct("!H")
log = logging.getLogger(__name__)
_rng = random.Random()  # answer orders: our own generator, not the process-wide one


@dataclass(eq=False)
class Scope:
    """One asking container: its sockets, its upstreams and its search domains."""

    container_id: str
    netns_path: str
    upstreams: list[Upstream]
    search: tuple[str, ...]
    udp: socket.socket
    tcp: socket.socket
    address: tuple[str, int]
    loop: asyncio.AbstractEventLoop | None = None
    netns_id: tuple[int, int] = (0, 0)
    server: asyncio.base_events.Server | None = None
    cache: dict[bytes, bytes | tuple[bytes, ...]] = field(default_factory=dict)
    version: int = -1
    tasks: set[asyncio.Task[object]] = field(default_factory=set)
    forwarding: int = 0  # UDP queries waiting on upstreams
    clients: set[asyncio.StreamWriter] = field(default_factory=set)
    tag: int | None = None  # served by the fast path under this tag (else by the loop)


class DnsServer:
    """The embedded DNS server for every container of one daemon. Create and use it inside the loop."""

    def __init__(self, records: Records | None = None, *, forwarder: Forwarder | None = None,
                 address: str = DEFAULT_ADDRESS, port: int = 53, ttl: int = 10,
                 redirect: bool | None = None, fastpath: bool | None = None) -> None:
        """``fastpath``: serve UDP from the native cache-hit thread (default: wherever it builds)."""
        self.records = records if records is not None else Records()
        self.forwarder = forwarder if forwarder is not None else Forwarder()
        self.address = address
        self.port = port
        self.ttl = ttl
        # Redirect (as Docker does) wherever nft is there to do it: port 53 stays free for the container.
        self.redirect = redirect_available() if redirect is None else redirect
        self._scopes: dict[str, Scope] = {}
        self._pending: set[object] = set()  # container ids and netns identities whose scope is being made
        self._closed = False
        self._want_fast = fastpath is not False
        self._fast: FastPath | None = None
        self._fast_loop: asyncio.AbstractEventLoop | None = None
        self._by_tag: dict[int, Scope] = {}
        self._prepared = PreparedSockets()  # scope sockets opened before their container starts
        self.records.watch(self._records_changed)

    def _records_changed(self) -> None:
        if self._fast is not None:
            self._fast.clear()  # returns once no cached reply from the old table can go out

    async def _fast_path(self, loop: asyncio.AbstractEventLoop) -> FastPath | None:
        """The native serving thread, started with the first scope (``None``: the loop serves UDP)."""
        if self._fast is None and self._want_fast:
            if not await asyncio.to_thread(FastPath.prepare):  # the first build runs cc: not in the loop
                self._want_fast = False
                return None
            if self._fast is not None or self._closed:  # another scope started it meanwhile, or closed
                return self._fast
            self._fast = FastPath.create()
            if self._fast is None:
                self._want_fast = False
            else:
                self._fast_loop = loop
                loop.add_reader(self._fast.miss.fileno(), self._on_miss)
        return self._fast

    @property
    def fast(self) -> FastPath | None:
        """The native serving thread when it runs (for stats and tests)."""
        return self._fast

    # -- scopes --------------------------------------------------------------------------------------

    def prepare(self, netns_path: str | os.PathLike[str], *, redirect: bool | None = None) -> None:
        """Open a scope's sockets (and load its redirect) in the netns at ``netns_path`` in the background, so
        that the :meth:`add_scope` of the container that starts there finds them ready (``prepared.py``).
        Nothing is served until then. A netns removed before that must be handed to :meth:`discard_prepared`.
        Call in the loop."""
        if not self._closed:
            self._prepared.start(os.fspath(netns_path), self.redirect if redirect is None else redirect,
                                 self._listen)

    def discard_prepared(self, netns_path: str | os.PathLike[str]) -> None:
        """Close what :meth:`prepare` opened for ``netns_path`` (now, or once it is done); a no-op without."""
        self._prepared.discard(os.fspath(netns_path))

    def prepared(self) -> list[str]:
        """The netns paths with sockets prepared for a scope."""
        return self._prepared.paths()

    async def settle(self) -> None:
        """Wait until no preparation runs (before the loop closes)."""
        await self._prepared.settle()

    async def add_scope(self, container_id: str, netns_path: str | os.PathLike[str],
                        upstreams: Iterable[str | tuple[str, int]] | None = None,
                        search: Iterable[str] = (), *, redirect: bool | None = None) -> tuple[str, int]:
        """Serve DNS inside the container's network namespace; returns the (address, port) listened on.

        ``upstreams``: where unknown names go (``None``: the host's resolv.conf; empty: nowhere, NXDOMAIN).
        ``search``: the container's search domains; ``web.<domain>`` is answered like ``web`` when no
        upstream owns it.
        ``redirect`` (default: the server's): listen on a free port and DNAT 127.0.0.11:53 to it, leaving
        port 53 of the netns to the container's own programs (see ``redirect.py``).
        """
        if self._closed:
            raise InvalidArgument("the DNS server is closed")
        if container_id in self._scopes or container_id in self._pending:
            raise Conflict(f"DNS scope for container {container_id} already exists")
        ups = host_upstreams() if upstreams is None else parse_upstreams(upstreams)
        domains = tuple(d.strip().strip(".").lower() for d in search if d.strip().strip("."))
        path = os.fspath(netns_path)
        identity = netns_identity(path)
        holder = next((s.container_id for s in self._scopes.values() if s.netns_id == identity), None)
        if holder is not None or identity in self._pending:
            # Containers sharing a netns (network_mode: container:X) share the scope of its owner.
            raise Conflict(f"the network namespace {path} is already served for container {(holder or '?')[:12]}")
        self._pending.update((container_id, identity))
        try:
            await self._fast_path(asyncio.get_running_loop())
            mode = self.redirect if redirect is None else redirect
            ready = await self._prepared.take(path, mode)
            trace.mark("dns.prepared" if ready is not None else "dns.unprepared", container_id)
            udp, tcp, moved = ready if ready is not None else await self._listen(path, mode)
            trace.mark("dns.listening", container_id)
            if self._closed:
                udp.close()
                tcp.close()
                raise InvalidArgument("the DNS server is closed")
            loop = asyncio.get_running_loop()
            scope = Scope(container_id, path, ups, domains, udp, tcp, udp.getsockname(), loop, identity)
            self._scopes[container_id] = scope
        finally:
            self._pending.difference_update((container_id, identity))
        try:
            if moved:
                # Off the container's start path: only mappings to older ports go.
                self._track(scope, forget_mappings(path, self.address, scope.address[1], tcp.getsockname()[1]))
            try:
                scope.tag = self._fast.add(udp) if self._fast is not None else None
            except OSError as err:  # e.g. not an IPv4 socket: the loop serves this one
                log.warning("DNS scope %s served by the loop: %s", container_id[:12], err)
            if scope.tag is not None:
                self._by_tag[scope.tag] = scope
            else:
                loop.add_reader(udp.fileno(), self._on_udp, scope)
            scope.server = await asyncio.start_server(
                lambda r, w: self._on_tcp(scope, r, w), sock=tcp, limit=65536 + 2)
        except BaseException:
            self.remove_scope(container_id)
            raise
        return scope.address

    async def _listen(self, path: str, redirect: bool) -> Listening:
        return await open_scope_sockets(path, self.address, self.port, redirect)

    def remove_scope(self, container_id: str) -> None:
        """Stop serving the container (a no-op when it has no scope)."""
        scope = self._scopes.pop(container_id, None)
        if scope is None:
            return
        if scope.tag is not None:
            if self._fast is not None:
                self._fast.remove(scope.tag)  # before the socket closes: its fd number may be reused
            self._by_tag.pop(scope.tag, None)
        elif scope.loop is not None and not scope.loop.is_closed():
            scope.loop.remove_reader(scope.udp.fileno())
        scope.udp.close()
        if scope.server is not None:
            scope.server.close()
        scope.tcp.close()
        for writer in list(scope.clients):
            writer.close()
        for task in list(scope.tasks):
            task.cancel()

    def scope(self, container_id: str) -> Scope:
        try:
            return self._scopes[container_id]
        except KeyError:
            raise NotFound(f"no DNS scope for container {container_id}") from None

    def scopes(self) -> list[str]:
        return list(self._scopes)

    def set_upstreams(self, container_id: str, upstreams: Iterable[str | tuple[str, int]]) -> None:
        """Change where a scope's unknown names go (its cached NXDOMAINs are dropped)."""
        scope = self.scope(container_id)
        scope.upstreams = parse_upstreams(upstreams)
        scope.cache.clear()
        if scope.tag is not None and self._fast is not None:
            self._fast.clear(scope.tag)

    def close(self) -> None:
        """Remove every scope and prepared sockets; the server takes no new ones."""
        self._closed = True
        self._prepared.close()
        for container_id in list(self._scopes):
            self.remove_scope(container_id)
        self.records.unwatch(self._records_changed)
        if self._fast is not None:
            if self._fast_loop is not None and not self._fast_loop.is_closed():
                self._fast_loop.remove_reader(self._fast.miss.fileno())
            self._fast.close()
            self._fast = None

    # -- answering -----------------------------------------------------------------------------------

    def answer_local(self, scope: Scope, query: Query, max_size: int | None, *,
                     search: bool = False) -> list[bytes] | None:
        """Replies (one per answer order) from the name table, or ``None`` (see ``answer.local_replies``)."""
        return local_replies(self.records, self.ttl, scope.container_id, scope.search, query, max_size,
                             search=search)

    def _answer(self, scope: Scope, data: bytes, udp: bool) -> tuple[Query | None, list[bytes] | None]:
        """(query, local replies); (query, None) means forward; (None, None) means drop."""
        return replies_for(self.records, self.ttl, scope.container_id, scope.search, bool(scope.upstreams),
                           data, udp)

    def _on_udp(self, scope: Scope) -> None:
        sock = scope.udp
        recvfrom = sock.recvfrom
        sendto = sock.sendto
        if scope.version != self.records.version:
            scope.cache.clear()
            scope.version = self.records.version
        cache = scope.cache
        for _ in range(_BATCH):
            try:
                data, addr = recvfrom(4096)
            except OSError:  # EAGAIN: drained (or the socket went away)
                return
            hit = cache.get(data[2:])
            if hit is None:
                bodies = self._udp_miss(scope, data, addr)
                if bodies is None:
                    continue
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                hit = cache[data[2:]] = bodies[0] if len(bodies) == 1 else bodies
            reply = data[:2] + (hit if hit.__class__ is bytes else hit[_rng.randrange(len(hit))])  # type: ignore
            try:
                sendto(reply, addr)
            except OSError:
                pass  # a full socket buffer drops the reply as the network would; the client retries

    def _udp_miss(self, scope: Scope, data: bytes, addr: tuple[str, int]) -> tuple[bytes, ...] | None:
        """Replies without their id (one per answer order) to cache and send; ``None``: forwarded or dropped."""
        query, replies = self._answer(scope, data, True)
        if query is None:
            return None
        if replies is None:
            self._spawn_forward(scope, query, data, addr)
            return None
        return tuple(r[2:] for r in replies)

    def _on_miss(self) -> None:
        """Datagrams the fast path could not answer from its cache: answer them here and cache the replies."""
        fast = self._fast
        if fast is None:
            return
        recv = fast.miss.recv
        by_tag = self._by_tag
        for _ in range(_BATCH):
            try:
                packet = recv(4096 + MISS_HEADER)
            except OSError:  # EAGAIN: drained
                return
            parsed = parse_miss(packet)
            if parsed is None:
                continue
            tag, addr, data = parsed
            scope = by_tag.get(tag)
            if scope is None:
                continue  # its scope went away meanwhile
            bodies = self._udp_miss(scope, data, addr)
            if bodies is None:
                continue
            fast.put(tag, data[2:], bodies)
            try:
                scope.udp.sendto(data[:2] + (bodies[0] if len(bodies) == 1 else _rng.choice(bodies)), addr)
            except OSError:
                pass

    def _after_upstream(self, scope: Scope, query: Query, reply: bytes, max_size: int | None) -> bytes:
        """An upstream NXDOMAIN for ``web.<search domain>`` becomes the answer for our own ``web``."""
        if scope.search and reply_rcode(reply) == RCODE_NXDOMAIN and query.qclass in (CLASS_IN, CLASS_ANY):
            local = self.answer_local(scope, query, max_size, search=True)
            if local:
                return _rng.choice(local)
        return reply

    def _spawn_forward(self, scope: Scope, query: Query, data: bytes, addr: tuple[str, int]) -> None:
        if scope.forwarding >= _SCOPE_FORWARDS:
            try:
                scope.udp.sendto(build_error(query, RCODE_SERVFAIL), addr)
            except OSError:
                pass
            return

        async def _run() -> None:
            try:
                reply = await self.forwarder.forward(data, query, scope.upstreams)
            finally:
                scope.forwarding -= 1
            reply = self._after_upstream(scope, query, reply, query.udp_size)
            try:
                scope.udp.sendto(truncate_reply(reply, query.udp_size), addr)
            except OSError:
                pass

        scope.forwarding += 1

        self._track(scope, _run())

    @staticmethod
    def _track(scope: Scope, coro: Coroutine[Any, Any, object]) -> None:
        """Run ``coro`` as a task of the scope (cancelled with it); a failure is logged, never raised."""
        task = asyncio.get_running_loop().create_task(coro)
        scope.tasks.add(task)

        def _done(t: asyncio.Task[object]) -> None:
            scope.tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.warning("DNS scope %s: %s", scope.container_id[:12], t.exception())
        task.add_done_callback(_done)

    async def _on_tcp(self, scope: Scope, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(scope.clients) >= _TCP_MAX_CLIENTS:
            writer.close()
            return
        scope.clients.add(writer)
        try:
            while True:
                async with asyncio.timeout(_TCP_IDLE):
                    size = _U16.unpack(await reader.readexactly(2))[0]
                    data = await reader.readexactly(size)
                query, replies = self._answer(scope, data, False)
                if query is None:
                    break  # a malformed message ends the connection
                if replies is None:
                    reply = await self.forwarder.forward(data, query, scope.upstreams, tcp=True)
                    reply = self._after_upstream(scope, query, reply, None)
                else:
                    reply = _rng.choice(replies)
                writer.write(_U16.pack(len(reply)) + reply)
                await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            scope.clients.discard(writer)
            writer.close()
