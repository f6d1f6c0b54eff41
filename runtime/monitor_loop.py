"""The monitor's steady-state loop, in Python: the same work as ``runtime/native/monitor.c``, which runs it where a
C compiler built it (see ``runtime/monitor.py`` for the protocol). Output goes to the json-file log and to attached
clients; attached clients' input goes to the process's stdin; the pidfd says when the process ended: then the
socket is dropped, the exit record written, every waiter answered."""
from __future__ import annotations

import errno
import fcntl
import json
import os
import selectors
import socket
import struct
import termios
import time
from typing import Any, NoReturn

from runtime.jsonlog import JsonLog, rfc3339nano
from runtime.state import write_record
from runtime.stream import frame

__all__ = ["MonitorLoop", "send_line", "resize", "oom_count", "STDOUT", "STDERR"]

_CHUNK = 65536
_CLIENT_BUFFER_LIMIT = 4 << 20
STDOUT, STDERR = 1, 2


class _Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.inbuf = b""
        self.out = bytearray()
        self.op = ""
        self.streams: set[int] = set()
        self.stdin = False
        self.eof = False
        self.registered = False



class MonitorLoop:
    """A monitor's loop state: its process (``pid``, ``pidfd``), the process's output fds, its stdin, the
    console of a tty, the log, the listening socket and its clients. The launch (``runtime.monitor``) fills it."""

    def __init__(self, req: dict[str, Any], *, exec_mode: bool, tty: bool, stdin_once: bool) -> None:
        self.req = req
        self.exec_mode, self.tty, self.stdin_once = exec_mode, tty, stdin_once
        self.sel = selectors.DefaultSelector()
        self.clients: dict[int, _Client] = {}
        self.outputs: dict[int, int] = {}  # fd -> stream
        self.stdin_fd: int | None = None
        self.stdin_buf = bytearray()
        self.console: int | None = None
        self.log: JsonLog | None = None
        self.listener: socket.socket | None = None
        self.pid = 0
        self.pidfd = -1
        self.oom_before = 0

    # --- clients -------------------------------------------------------------------------------------------------
    def _add_client(self, sock: socket.socket) -> _Client:
        sock.setblocking(False)
        client = _Client(sock)
        self.clients[sock.fileno()] = client
        self._update(client)
        return client

    def _update(self, client: _Client) -> None:
        events = (0 if client.eof else selectors.EVENT_READ) | (selectors.EVENT_WRITE if client.out else 0)
        if events and client.registered:
            self.sel.modify(client.sock, events, "client")
        elif events:
            self.sel.register(client.sock, events, "client")
        elif client.registered:
            self.sel.unregister(client.sock)
        client.registered = bool(events)

    def _drop(self, client: _Client) -> None:
        if client.registered:
            self.sel.unregister(client.sock)
            client.registered = False
        self.clients.pop(client.sock.fileno(), None)
        client.sock.close()

    def _attach(self, client: _Client, opts: dict[str, Any]) -> None:
        client.op = "attach"
        client.stdin = bool(opts.get("stdin")) and self.stdin_fd is not None
        client.streams = {s for s, key in ((STDOUT, "stdout"), (STDERR, "stderr")) if opts.get(key, True)}

    def _handle_request(self, client: _Client, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except ValueError:
            self._drop(client)
            return
        op = msg.get("op")
        if op == "wait":
            client.op = "wait"
        elif op == "attach":
            self._attach(client, msg)
            self._queue(client, b'{"ok":true}\n')
        elif op == "resize" and self.console is not None:
            resize(self.console, int(msg.get("height", 24)), int(msg.get("width", 80)))
            self._queue(client, b'{"ok":true}\n')
        else:
            self._queue(client, json.dumps({"ok": False, "error": f"unknown op {op!r}"}).encode() + b"\n")

    def _client_input(self, client: _Client, data: bytes) -> None:
        if client.op == "":
            client.inbuf += data
            if b"\n" in client.inbuf:
                line, _, rest = client.inbuf.partition(b"\n")
                client.inbuf = b""
                self._handle_request(client, line)
                if rest and client.sock.fileno() in self.clients:
                    self._client_input(client, rest)
        elif client.op == "attach" and client.stdin:
            self.stdin_buf += data
            self._flush_stdin()

    def _client_readable(self, client: _Client) -> None:
        try:
            data = client.sock.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self._client_input(client, data)
            return
        if client.op not in ("attach", "wait"):
            self._drop(client)
            return
        if client.op == "attach" and client.stdin and self.stdin_once:
            self._close_stdin_when_flushed = True
            self._flush_stdin()
        client.stdin = False
        client.eof = True  # half-closed: keep sending it output / the exit record
        self._update(client)

    def _queue(self, client: _Client, data: bytes) -> None:
        if len(client.out) > _CLIENT_BUFFER_LIMIT:
            return  # a client that stopped reading loses output rather than stalling the container
        client.out += data
        self._client_writable(client)

    def _client_writable(self, client: _Client) -> None:
        try:
            sent = client.sock.send(client.out)
            del client.out[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._drop(client)
            return
        self._update(client)

    # --- process io ----------------------------------------------------------------------------------------------
    _close_stdin_when_flushed = False

    def _flush_stdin(self) -> None:
        if self.stdin_fd is None:
            self.stdin_buf.clear()
            return
        while self.stdin_buf:
            try:
                n = os.write(self.stdin_fd, self.stdin_buf)
            except BlockingIOError:
                return  # the rest goes when the client sends more or at exit; pipes hold 64 KiB
            except OSError:
                self.stdin_buf.clear()
                break
            del self.stdin_buf[:n]
        if self._close_stdin_when_flushed and self.stdin_fd != self.console:
            os.close(self.stdin_fd)
            self.stdin_fd = None

    def _output(self, fd: int) -> str:
        """Move one chunk from ``fd``; ``"data"``, ``"again"`` or ``"eof"``."""
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return "again"
        except OSError as err:  # EIO: the pty's last slave closed
            if err.errno != errno.EIO:
                raise
            data = b""
        if not data:
            self.sel.unregister(fd)
            del self.outputs[fd]
            if fd != self.console:
                os.close(fd)
            return "eof"
        stream = self.outputs[fd]
        if self.log is not None:
            self.log.write("stdout" if stream == STDOUT else "stderr", data)
        payload = data if self.tty else frame(stream, data)
        for client in list(self.clients.values()):
            if client.op == "attach" and stream in client.streams:
                self._queue(client, payload)
        return "data"

    def _drain(self) -> None:
        """After the exit: everything still buffered in the pipes (the writers are gone with the pid ns)."""
        for fd in list(self.outputs):
            while self._output(fd) == "data":
                pass

    # --- exit ----------------------------------------------------------------------------------------------------
    def _finish_record(self, record: dict[str, Any]) -> dict[str, Any]:
        record["finished_at"] = rfc3339nano(time.time_ns())
        path = self.req.get("exit_path")
        if path:
            # Not fsync'd: after a crash the container is gone anyway and the service reports the lost exit.
            write_record(path, record, durable=False)
        return record

    def _unlink_socket(self) -> None:
        """Before the exit record: a restarted container's new monitor may bind the same path right after."""
        if self.listener is not None:
            try:
                os.unlink(self.req["socket"])
            except OSError:
                pass

    def _exited(self) -> dict[str, Any]:
        _, status = os.waitpid(self.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        code = code if code >= 0 else 128 - code
        self._drain()
        if self.log is not None:
            self.log.close()
        oom = oom_count(self.req.get("oom_files", [])) > self.oom_before
        self._unlink_socket()
        for path in self._cgroup_dirs():  # as the C helper: the cgroup goes with the processes, before the record
            try:
                os.rmdir(path)
            except OSError:
                pass  # busy (a process outside our pid namespace): the engine's remove deletes it
        return self._finish_record({"exit_code": code, "error": "", "oom_killed": oom})

    def _cgroup_dirs(self) -> list[str]:
        """The container's cgroup directories (a start's, never an exec's: the container lives on)."""
        if self.exec_mode:
            return []
        return list(dict.fromkeys(os.path.dirname(p) for p in self.req.get("cgroup_procs", [])))

    def run(self) -> NoReturn:
        record: dict[str, Any] | None = None
        while record is None:
            for key, _events in self.sel.select():
                tag = key.data
                if tag == "output":
                    self._output(key.fd)  # type: ignore[arg-type]
                elif tag == "exit":
                    record = self._exited()
                    break
                elif tag == "listen":
                    try:
                        sock, _ = self.listener.accept()  # type: ignore[union-attr]
                    except (BlockingIOError, InterruptedError):
                        continue
                    self._add_client(sock)
                elif tag == "client":
                    client = self.clients.get(key.fd)  # type: ignore[arg-type]
                    if client is not None and _events & selectors.EVENT_WRITE:
                        self._client_writable(client)
                    client = self.clients.get(key.fd)  # type: ignore[arg-type]
                    if client is not None and _events & selectors.EVENT_READ and not client.eof:
                        self._client_readable(client)
        line = json.dumps(record).encode() + b"\n"
        for client in list(self.clients.values()):
            try:
                client.sock.setblocking(True)
                client.sock.settimeout(5)
                if client.op == "wait":
                    client.out += line
                if client.out:
                    client.sock.sendall(client.out)
            except OSError:
                pass
            client.sock.close()
        os._exit(0)


def send_line(sock: socket.socket, data: dict[str, Any]) -> None:
    try:
        sock.sendall(json.dumps(data).encode() + b"\n")
    except OSError:
        pass


def resize(fd: int, height: int, width: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def oom_count(files: list[str]) -> int:
    total = 0
    for path in files:
        try:
            with open(path) as fh:
                for line in fh:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        total += int(value)
        except OSError:
            pass
    return total
