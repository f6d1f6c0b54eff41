"""A small single-threaded process from which every container monitor is forked.

Forking the daemon itself would copy a large, multi-threaded process; exec'ing a fresh interpreter per container
costs tens of milliseconds. The fork server imports only what a monitor and a container init need, freezes its
heap (``gc.freeze``) so children share its pages, and forks one monitor per launch request. Its own session keeps
terminal signals away; ``SIGCHLD`` ignored reaps monitors automatically; it exits when its client goes away, and
the monitors live on (they are not children the daemon waits on).

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
    while True:
        try:
            msg, fds = init.recv_msg(sock, 4096)
        except OSError:
            os._exit(0)
        if msg is None:
            os._exit(0)
        if not fds:
            continue
        trace.mark("forkserver.request")
        pid = os.fork()
        if pid == 0:
            sock.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            monitor.monitor_main(socket.socket(fileno=fds[0]))
        for extra in fds:
            os.close(extra)


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
                try:
                    init.send_msg(sock, {"op": "fork"}, [theirs.fileno()])
                except OSError:  # it died between the check and the send: once more with a new one
                    self._close_locked()
                    init.send_msg(self._ensure(), {"op": "fork"}, [theirs.fileno()])
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
