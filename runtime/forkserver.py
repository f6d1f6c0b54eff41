"""A small single-threaded process from which every container monitor is forked.

Forking the daemon itself would copy a large, multi-threaded process; exec'ing a fresh interpreter per container
costs tens of milliseconds. The fork server imports only what a monitor and a container init need, freezes its
heap (``gc.freeze``) so children share its pages, and forks one monitor per launch request. Its own session keeps
terminal signals away; ``SIGCHLD`` ignored reaps monitors automatically; it exits when its client goes away, and
the monitors live on (they are not children the daemon waits on).

A container start does not wait for forks: after the first one, the fork server keeps one spare monitor
(``monitor.spare_main``) that has already forked the container's first process in a new pid namespace. A start
request goes to the spare (one fd passed over a socket) and a new spare is forked behind it. Requests that need
another pid namespace (execs, ``pid: host``, a joined one) get a fresh fork as before.

``ForkServer`` is the client the container service holds: ``launch(request)`` returns the launch connection.
"""
from __future__ import annotations

import codecs
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from runtime import init, monitor, security, trace  # noqa: F401 - loaded once here, shared by every child

__all__ = ["ForkServer", "serve"]

_PRELOAD_CODECS = ("ascii", "latin-1", "utf-8", "idna")
_PKG_PARENT = str(Path(__file__).resolve().parent.parent)
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); from runtime.forkserver import serve; serve(int(sys.argv[2]))")


def serve(fd: int) -> None:
    """Fork-server loop on the SOCK_SEQPACKET socket ``fd``: one message (with one fd) per monitor to fork."""
    sock = socket.socket(fileno=fd)
    for name in _PRELOAD_CODECS:  # a container's init runs after pivot_root: nothing can be imported then
        codecs.lookup(name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.collect()
    gc.freeze()
    spare: tuple[int, socket.socket] | None = None
    while True:
        try:
            msg, fds = init.recv_msg(sock, 4096)
        except OSError:
            msg, fds = None, []
        if msg is None:
            if spare is not None:
                spare[1].close()  # it sees EOF, discards its child and exits
            os._exit(0)
        if not fds:
            continue
        trace.mark("forkserver.request")
        wants_spare = bool(msg.get("spare"))
        if wants_spare and spare is not None:
            handed = _hand_to_spare(spare[1], fds[0])
            spare = None
            if handed:
                for extra in fds:
                    os.close(extra)
                spare = _fork_spare(sock)
                continue
        pid = os.fork()
        if pid == 0:
            sock.close()
            if spare is not None:
                spare[1].close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            monitor.monitor_main(socket.socket(fileno=fds[0]))
        for extra in fds:
            os.close(extra)
        if wants_spare and spare is None:
            spare = _fork_spare(sock)


def _hand_to_spare(spare: socket.socket, conn_fd: int) -> bool:
    try:
        init.send_msg(spare, {"op": "run"}, [conn_fd])
        return True
    except OSError:  # the spare died (it could not get ready): fork as usual
        return False
    finally:
        spare.close()


def _fork_spare(server_sock: socket.socket) -> tuple[int, socket.socket] | None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        pid = os.fork()
    except OSError:
        ours.close()
        theirs.close()
        return None
    if pid == 0:
        server_sock.close()
        ours.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        monitor.spare_main(theirs)
    theirs.close()
    return pid, ours


def _fits_spare(request: dict[str, Any]) -> bool:
    """Can a spare monitor (its first process already forked in a new pid namespace) serve ``request``?"""
    spec = request.get("spec") or {}
    return (request.get("mode") == "start" and "pid" in (spec.get("namespaces") or ())
            and not (spec.get("join_namespaces") or {}).get("pid"))


class ForkServer:
    """Starts the fork server on first use (and again if it died); thread-safe."""

    def __init__(self, log_path: str | os.PathLike[str] | None = None) -> None:
        """``log_path``: where the fork server and the monitors write their own errors (never the engine's
        stderr: a monitor outlives the engine and would hold its terminal or pipe open)."""
        self._log_path = log_path
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None

    def _ensure(self) -> socket.socket:
        if self._proc is not None and self._proc.poll() is None and self._sock is not None:
            return self._sock
        self._close_locked()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log = open(self._log_path, "ab") if self._log_path else open(os.devnull, "wb")  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, _PKG_PARENT, str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                start_new_session=True, close_fds=True)
        finally:
            log.close()
            theirs.close()
        self._sock = ours
        return ours

    def launch(self, request: dict[str, Any]) -> socket.socket:
        """Fork a monitor for ``request``; returns the connection carrying its launch reply (and any attach)."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                sock = self._ensure()
                msg = {"op": "fork", "spare": _fits_spare(request)}
                try:
                    init.send_msg(sock, msg, [theirs.fileno()])
                except OSError:  # it died between the check and the send: once more with a new one
                    self._close_locked()
                    init.send_msg(self._ensure(), msg, [theirs.fileno()])
        finally:
            theirs.close()
        mine.sendall(json.dumps(request).encode() + b"\n")
        return mine

    def _close_locked(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def close(self) -> None:
        """Stop the fork server (running monitors are not affected)."""
        with self._lock:
            self._close_locked()
