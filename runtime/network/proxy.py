"""The userland port proxy: one process per container, forwarding its published host sockets to it.

Run as ``python -I -S .../proxy.py CONFIG_JSON`` with the already bound (and listening) sockets inherited as
file descriptors; CONFIG_JSON is ``[{"fd": 3, "proto": "tcp", "target": ["172.18.0.2", 80]}, ...]``. Once every
socket is served it writes ``ready`` on stdout and closes it. It outlives the daemon that started it and stops
on SIGTERM, at once (``os._exit``: the kernel closes the sockets). Standard library only and no asyncio, so it is up
in a few tens of milliseconds.

Run as ``proxy.py --spare`` it is started ahead of need: fd 0 is a SOCK_SEQPACKET socket on which one message
arrives - the CONFIG_JSON with the log file and the sockets attached (SCM_RIGHTS; each entry's ``fd`` is the
index of its socket among them) - and the publisher does not wait for an interpreter to boot. End of file
instead of a message (the publisher went away) ends it quietly.

TCP: an accept thread per listener; each connection gets a connection to the target and two copy threads,
passing a half-close on; a refused target resets the client. UDP: each client address gets its own connected
socket to the target and a thread relaying replies back from the published socket; a flow idle for
``UDP_IDLE`` seconds is forgotten.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from typing import Any

__all__ = ["serve", "main", "UDP_IDLE"]

UDP_IDLE = 60.0
_BUF = 65536
_RST = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # struct linger {on, 0 s}: close sends a reset


def _start(target: Any, *args: Any) -> None:
    threading.Thread(target=target, args=args, daemon=True).start()


def _copy(src: socket.socket, dst: socket.socket, done: threading.Semaphore) -> None:
    buf = bytearray(_BUF)
    view = memoryview(buf)
    try:
        while True:
            n = src.recv_into(buf)
            if not n:
                break
            dst.sendall(view[:n])
    except OSError:
        for s in (src, dst):  # a reset on one side ends both directions, waking the other copier
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if not done.acquire(blocking=False):  # the other direction finished first: close both
            src.close()
            dst.close()


def _tcp_connection(client: socket.socket, target: tuple[str, int]) -> None:
    family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
    upstream = socket.socket(family, socket.SOCK_STREAM)
    upstream.settimeout(10)
    try:
        upstream.connect(target)
    except OSError:
        upstream.close()
        try:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST)
        finally:
            client.close()
        return
    upstream.settimeout(None)
    for s in (client, upstream):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    done = threading.Semaphore(1)
    _start(_copy, upstream, client, done)
    _copy(client, upstream, done)


def _serve_tcp(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            threading.Event().wait(0.05)  # e.g. EMFILE: back off instead of spinning on the ready listener
            continue
        _start(_tcp_connection, client, target)


class _Udp:
    def __init__(self, listener: socket.socket, target: tuple[str, int]) -> None:
        self.listener, self.target = listener, target
        self.flows: dict[Any, socket.socket] = {}
        self.lock = threading.Lock()

    def serve(self) -> None:
        while True:
            try:
                data, addr = self.listener.recvfrom(_BUF)
            except OSError:
                continue
            with self.lock:
                flow = self.flows.get(addr)
                if flow is None:
                    flow = self._open(addr)
            if flow is not None:
                try:
                    flow.send(data)
                except OSError:
                    pass

    def _open(self, addr: Any) -> socket.socket | None:
        family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        flow = socket.socket(family, socket.SOCK_DGRAM)
        try:
            flow.connect(self.target)
        except OSError:
            flow.close()
            return None
        flow.settimeout(UDP_IDLE)
        self.flows[addr] = flow
        _start(self._replies, addr, flow)
        return flow

    def _replies(self, addr: Any, flow: socket.socket) -> None:
        try:
            while True:
                try:
                    data = flow.recv(_BUF)
                except socket.timeout:
                    break
                except ConnectionRefusedError:
                    continue  # ICMP port unreachable from the target: keep the flow, like conntrack does
                self.listener.sendto(data, addr)
        except OSError:
            pass
        finally:
            with self.lock:
                self.flows.pop(addr, None)
            flow.close()


def serve(entries: list[dict[str, Any]]) -> None:
    """Start serving every entry in background threads."""
    for entry in entries:
        sock = socket.socket(fileno=int(entry["fd"]))
        sock.setblocking(True)
        target = (str(entry["target"][0]), int(entry["target"][1]))
        if entry["proto"] == "tcp":
            _start(_serve_tcp, sock, target)
        else:
            _start(_Udp(sock, target).serve)


def _report_ready() -> None:
    """Tell the publisher every socket is served: one line on stdout, then stdout is closed."""
    try:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdout.close()
    except OSError:
        pass


def _receive_config() -> list[dict[str, Any]] | None:
    """The spare's one message: entries with real fd numbers, stderr moved to the log file; None on EOF."""
    with socket.socket(fileno=0) as control:
        data, fds, _flags, _addr = socket.recv_fds(control, 1 << 20, 1 + 4096)
    if not data:
        return None
    log, *sockets = fds
    os.dup2(log, 2)
    os.close(log)
    entries: list[dict[str, Any]] = json.loads(data)
    return [{**e, "fd": sockets[int(e["fd"])]} for e in entries]


def _exit_now() -> None:
    """Stop at once: the kernel closes every socket; no interpreter teardown (it took ~10 ms, on every
    container stop with published ports)."""
    try:
        sys.stderr.flush()
    finally:
        os._exit(0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: proxy.py CONFIG_JSON | --spare", file=sys.stderr)
        return 2
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: _exit_now())
    entries = _receive_config() if args[0] == "--spare" else json.loads(args[0])
    if entries is None:
        return 0
    serve(entries)
    _report_ready()
    while not stop.wait(3600):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
