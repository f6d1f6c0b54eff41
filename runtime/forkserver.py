"""A small single-threaded process from which every container monitor is forked.

Forking the daemon itself would copy a large, multi-threaded process; exec'ing a fresh interpreter per container
costs tens of milliseconds. The fork server imports only what a monitor and a container init need, freezes its
heap (``gc.freeze``) so children share its pages, and forks one monitor per launch request. Its own session keeps
terminal signals away; ``SIGCHLD`` ignored reaps monitors automatically; it exits when its client goes away, and
the monitors live on (they are not children the daemon waits on).

A container start does not wait for forks: after the first one, the fork server keeps one spare monitor
(``monitor.spare_main``) that has already forked the container's first process in a new pid namespace, and passes
the spare's socket to the client. The client hands the next start's launch connection straight to the spare (the
fork server is not on the way) and asks for a new spare behind it. Requests that need another pid namespace
(execs, ``pid: host``, a joined one) get a fresh fork as before. A spare's only peer is the client: when the
engine goes, the spare sees EOF, kills its waiting child and exits.

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
    init.sample_text()  # made once, shared by every spare's warm-up
    gc.collect()
    gc.freeze()
    spare_out = False  # a spare announced to the client and not taken yet
    while True:
        try:
            msg, fds = init.recv_msg(sock, 4096)
        except OSError:
            msg, fds = None, []
        if msg is None:
            os._exit(0)  # announced spares see their client's end close and exit
        if msg.get("op") == "spare_taken" or msg.get("spare_lost"):
            spare_out = False
        if fds:
            trace.mark("forkserver.request")
            pid = os.fork()
            if pid == 0:
                sock.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                monitor.monitor_main(socket.socket(fileno=fds[0]))
        for extra in fds:
            os.close(extra)
        if msg.get("spare") and not spare_out:
            spare_out = _announce_spare(sock)


def _announce_spare(server_sock: socket.socket) -> bool:
    """Fork a spare monitor and pass its socket to the client, which hands it launch connections itself."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        pid = os.fork()
    except OSError:
        ours.close()
        theirs.close()
        return False
    if pid == 0:
        server_sock.close()
        ours.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        monitor.spare_main(theirs)
    theirs.close()
    try:
        init.send_msg(server_sock, {"spare": pid}, [ours.fileno()])
        return True
    except OSError:
        return False
    finally:
        ours.close()  # the client's copy is the only one: the spare's life is tied to the client's


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
        self._spare: socket.socket | None = None
        self._spare_lost = False
        self._next_spare_due = False  # a spare was taken and the next one not asked for yet (see ``replenish``)

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
        """Fork a monitor for ``request`` (or hand it to the spare); returns the connection carrying its launch
        reply (and any attach)."""
        conn, _child, words = self.launch_with_child(request)
        if words is not None:  # (never: only gated start requests get the child's channel)
            words.close()
        return conn

    def launch_with_child(self, request: dict[str, Any], *, replenish_later: bool = False,
                          ) -> tuple[socket.socket, int, socket.socket | None]:
        """``launch``, plus, when a spare took a gated start request and said it in time, the host pid of its
        waiting child and the channel to that child (``request`` then carries ``direct_words``: the caller moves
        it into its cgroup and sends it ``joined`` and ``go`` or ``abort`` itself), else (0, None).

        ``replenish_later``: the next spare is asked for by ``replenish()`` (which the caller calls once this start
        is done) rather than now, so its fork does not compete for the CPUs with this start; a launch that finds
        no spare asks at once."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fits = _fits_spare(request)
        child, words = 0, None
        try:
            with self._lock:
                sock = self._ensure()
                self._spare_lost = False
                child, words = self._to_spare_locked(sock, theirs.fileno(), replenish_later) if fits else (-1, None)
                if child < 0 and self._next_spare_due:
                    self._replenish_locked()  # another start holds it back: this one needs a spare now
                if child < 0:
                    msg = {"op": "fork", "spare": fits, "spare_lost": self._spare_lost}
                    try:
                        init.send_msg(sock, msg, [theirs.fileno()])
                    except OSError:  # it died between the check and the send: once more with a new one
                        self._close_locked()
                        init.send_msg(self._ensure(), msg, [theirs.fileno()])
        finally:
            theirs.close()
        if words is not None and not (request.get("gated") and child > 0):
            words.close()
            words = None
        if words is not None:
            request = {**request, "direct_words": True}
        mine.sendall(json.dumps(request).encode() + b"\n")
        return mine, max(child, 0), words

    def replenish(self) -> None:
        """Ask the fork server for the next spare, if a ``replenish_later`` launch took the last one."""
        with self._lock:
            self._replenish_locked()

    def _replenish_locked(self) -> None:
        if not self._next_spare_due:
            return
        self._next_spare_due = False
        if self._sock is None:
            return
        try:
            init.send_msg(self._sock, {"op": "spare_taken", "spare": True})
        except OSError:
            pass  # the fork server died; the next launch starts another

    def _to_spare_locked(self, sock: socket.socket, conn_fd: int,
                         later: bool = False) -> tuple[int, socket.socket | None]:
        """Hand ``conn_fd`` straight to the announced spare (no fork server on the way); ask for the next one.
        (-1, None) if there was no spare; else its waiting child's pid and channel ((0, None) if not said yet)."""
        while True:  # collect announcements (they come unasked, after a start)
            try:
                msg, fds = init.recv_msg(sock, 4096, nowait=True)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return -1, None
            if msg is None:
                return -1, None
            for fd in fds:
                if self._spare is not None:
                    self._spare.close()
                self._spare = socket.socket(fileno=fd)
        spare, self._spare = self._spare, None
        if spare is None:
            return -1, None
        child, words = 0, None
        try:
            init.send_msg(spare, {"op": "run"}, [conn_fd])
            try:
                said, fds = init.recv_msg(spare, 4096, nowait=True)
                child = int((said or {}).get("child") or 0)
                for fd in fds:
                    if words is None and child > 0:
                        words = socket.socket(fileno=fd)
                    else:
                        os.close(fd)
            except (OSError, ValueError):
                pass  # it is still forking its child: the monitor moves it and relays the words itself
        except OSError:  # it could not get ready and went: fork as usual (and a new spare is made)
            self._spare_lost = True
            return -1, None
        finally:
            spare.close()
        self._next_spare_due = True
        if not later:
            self._replenish_locked()
        return child, words

    def _close_locked(self) -> None:
        self._next_spare_due = False
        if self._spare is not None:
            self._spare.close()  # EOF: it discards its waiting child and exits
            self._spare = None
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
