"""The userland port proxy: one process per container, forwarding its published host sockets to it.

Run as ``python -I -S .../proxy.py CONFIG_JSON`` with the already bound (and listening) sockets inherited
as file descriptors; CONFIG_JSON is ``[{"fd": 3, "proto": "tcp", "target": ["172.18.0.2", 80]}, ...]``.
The process outlives the daemon that started it and stops on SIGTERM. Standard library only, so it starts fast.

TCP: each accepted connection gets a connection to the target; bytes are copied both ways and a half-close
is passed on. UDP: each client address gets its own connected socket to the target; replies go back to the
client from the published socket; a flow idle for ``UDP_IDLE`` seconds is forgotten.
"""
from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from typing import Any

__all__ = ["serve", "main", "UDP_IDLE"]

UDP_IDLE = 60.0
_BUF = 65536


async def _pipe(loop: asyncio.AbstractEventLoop, src: socket.socket, dst: socket.socket) -> None:
    buf = bytearray(_BUF)
    view = memoryview(buf)
    try:
        while True:
            n = await loop.sock_recv_into(src, buf)
            if not n:
                break
            await loop.sock_sendall(dst, view[:n])
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


async def _handle_tcp(loop: asyncio.AbstractEventLoop, client: socket.socket, target: tuple[str, int]) -> None:
    family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
    upstream = socket.socket(family, socket.SOCK_STREAM)
    upstream.setblocking(False)
    client.setblocking(False)
    try:
        try:
            await loop.sock_connect(upstream, target)
        except OSError:
            # Refused or unreachable: reset the client rather than accept-then-hang.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(_pipe(loop, client, upstream), _pipe(loop, upstream, client))
    finally:
        client.close()
        upstream.close()


async def _serve_tcp(listener: socket.socket, target: tuple[str, int]) -> None:
    loop = asyncio.get_running_loop()
    listener.setblocking(False)
    tasks: set[asyncio.Task[None]] = set()
    while True:
        try:
            client, _ = await loop.sock_accept(listener)
        except OSError:
            await asyncio.sleep(0.05)  # e.g. EMFILE: back off instead of spinning on the ready listener
            continue
        task = loop.create_task(_handle_tcp(loop, client, target))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


class _UdpFlow(asyncio.DatagramProtocol):
    def __init__(self, listener: asyncio.DatagramTransport, client: Any, flows: dict[Any, "_UdpFlow"]) -> None:
        self.listener, self.client, self.flows = listener, client, flows
        self.transport: asyncio.DatagramTransport | None = None
        self.idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def touch(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        self.idle = asyncio.get_running_loop().call_later(UDP_IDLE, self.close)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.touch()
        self.listener.sendto(data, self.client)

    def error_received(self, exc: Exception) -> None:
        pass

    def close(self) -> None:
        self.flows.pop(self.client, None)
        if self.transport is not None:
            self.transport.close()


class _UdpListener(asyncio.DatagramProtocol):
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.flows: dict[Any, _UdpFlow] = {}
        self.pending: dict[Any, list[bytes]] = {}
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def error_received(self, exc: Exception) -> None:
        pass

    def datagram_received(self, data: bytes, addr: Any) -> None:
        flow = self.flows.get(addr)
        if flow is not None and flow.transport is not None:
            flow.touch()
            flow.transport.sendto(data)
            return
        if addr in self.pending:
            self.pending[addr].append(data)
            return
        self.pending[addr] = [data]
        asyncio.get_running_loop().create_task(self._open(addr))

    async def _open(self, addr: Any) -> None:
        loop = asyncio.get_running_loop()
        assert self.transport is not None
        flow = _UdpFlow(self.transport, addr, self.flows)
        try:
            await loop.create_datagram_endpoint(lambda: flow, remote_addr=self.target)
        except OSError:
            self.pending.pop(addr, None)
            return
        self.flows[addr] = flow
        flow.touch()
        for data in self.pending.pop(addr, []):
            assert flow.transport is not None
            flow.transport.sendto(data)


async def serve(entries: list[dict[str, Any]]) -> None:
    """Forward every entry until cancelled."""
    loop = asyncio.get_running_loop()
    jobs = []
    for entry in entries:
        sock = socket.socket(fileno=int(entry["fd"]))
        target = (str(entry["target"][0]), int(entry["target"][1]))
        if entry["proto"] == "tcp":
            jobs.append(_serve_tcp(sock, target))
        else:
            sock.setblocking(False)
            await loop.create_datagram_endpoint(lambda t=target: _UdpListener(t), sock=sock)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [loop.create_task(j) for j in jobs]
    _report_ready()
    await stop.wait()
    for task in tasks:
        task.cancel()


def _report_ready() -> None:
    """Tell the publisher every socket is served: one line on stdout, then stdout is closed."""
    try:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdout.close()
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: proxy.py CONFIG_JSON", file=sys.stderr)
        return 2
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    asyncio.run(serve(json.loads(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
