"""The per-container (or per-exec) monitor: parent of the container's init, outliving the daemon.

Forked from the fork server (no interpreter start-up), it starts its own session, spawns the process
(``process.spawn``), then execs the small C helper ``runtime/native/monitor.c`` (about 120 KiB PSS), which keeps
the fds, stays the process's parent and runs the loop below; without a C compiler this module runs the same loop
in Python (about 2.5 MiB). The loop: output goes to the json-file log (``<id>-json.log``, Docker's format,
rotated) and to attached clients; attached clients' input goes to the process's stdin; the pidfd says when it
ended. It then drops its socket, records exit code, finish time and the OOM-killed flag atomically, answers every
waiter and exits.

Wire protocol (unix stream socket): the client sends one JSON line. ``{"op": "wait"}`` gets one JSON line, the exit
record, when the process ends. ``{"op": "attach", "stdin": bool, "stdout": bool, "stderr": bool}`` gets ``{"ok":
true}`` then the output (raw for a tty, else Docker's 8-byte multiplexed frames) and forwards what the client
sends to stdin (client half-close closes stdin if ``stdin_once``). ``{"op": "resize", "height": h, "width": w}``
resizes the pty. The launch connection itself carries the request, the launch reply and, if asked, an attach.
A start's request with ``"gated": true`` is followed (while the init builds its rootfs) by two more lines from the
engine: ``{"cgroup": true, "oom_files": [...]}`` once the cgroup exists (the init is moved into it), then
``{"go": true}`` once the network is connected (the init is let run); either may be ``{"abort": "why"}`` instead.
An aborted start leaves no exit record. A start's launch reply goes out when the child says only its execve is
left (``init._announce_exec``); an execve that fails after that is recorded as the container's exit (code and
error), the socket is never served. The socket is served only once the process has exec'd
(``monitor_client.settled`` waits on that).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import json
import os
import selectors
import signal
import socket
import struct
import termios
import time
from typing import Any, NoReturn

from runtime import init, process, procs, trace
from runtime.init import recv_msg
from runtime.jsonlog import JsonLog, rfc3339nano
from runtime.monitor_client import read_line
from runtime.state import write_record
from runtime.stream import frame

__all__ = ["monitor_main", "spare_main", "frame", "EXIT_RECORD", "SOCKET_NAME"]

EXIT_RECORD = "exit.json"
SOCKET_NAME = "monitor.sock"
_CHUNK = 65536
_CLIENT_BUFFER_LIMIT = 4 << 20
_STDOUT, _STDERR = 1, 2


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


class _Monitor:
    def __init__(self, req: dict[str, Any], conn: socket.socket, early: bytes,
                 ready: process.Prefork | None = None) -> None:
        self.req = req
        self.ready = ready
        spec = req["spec"]
        self.exec_mode = req.get("mode") == "exec"
        proc = req["exec"] if self.exec_mode else spec
        self.tty = bool(proc.get("tty"))
        self.open_stdin = bool(proc.get("open_stdin"))
        # an exec's stdin closes when its client's input ends (Docker's CloseStdin for execs): `echo x | exec cat`
        self.stdin_once = True if self.exec_mode else bool(spec.get("stdin_once"))
        self.sel = selectors.DefaultSelector()
        self.clients: dict[int, _Client] = {}
        self.outputs: dict[int, int] = {}  # fd -> stream
        self.stdin_fd: int | None = None
        self.stdin_buf = bytearray()
        self.console: int | None = None
        self.log: JsonLog | None = None
        self.listener: socket.socket | None = None
        self.conn, self.early = conn, early
        self.done = False
        self.aborted = False
        self.replied = False  # the launch reply went out

    # --- setup ---------------------------------------------------------------------------------------------------
    def _stdio(self) -> tuple[list[int], list[int]]:
        """(fds for the child, their ends kept here)."""
        child: list[int] = []
        if self.open_stdin and not self.tty:
            r, w = os.pipe()
            child.append(r)
            self.stdin_fd = w
        else:
            child.append(os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC))
        if not self.tty:
            for stream in (_STDOUT, _STDERR):
                r, w = os.pipe()
                child.append(w)
                self.outputs[r] = stream
        if self.tty:
            for fd in child:  # a tty's stdin is the pty slave; input goes to the master
                os.close(fd)
            child = []
        return child, list(self.outputs)

    def _listen(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        os.chdir(os.path.dirname(path))  # sun_path holds 108 bytes; state dirs can be longer
        self.listener.bind(os.path.basename(path))
        os.chdir("/")
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, "listen")

    def start(self) -> None:
        req = self.req
        child_fds, _ = self._stdio()
        self.helper = req.get("helper")
        if not self.exec_mode and req.get("log_path") and not self.helper:
            log = req["spec"].get("log") or {}
            self.log = JsonLog(req["log_path"], int(log.get("max_size") or 0), int(log.get("max_file") or 1))
        keys = ("mode", "spec", "security", "state_dir", "id", "cgroup_procs", "pid", "exec", "init_helper",
                "console_size")
        cfg: dict[str, Any] = {k: req[k] for k in keys if k in req}
        gated = bool(req.get("gated")) and not self.exec_mode
        direct = gated and bool(req.get("direct_words")) and self.ready is not None
        if direct:  # the engine talks to the child itself; we only learn the OOM files after it ran
            cfg["direct_words"] = True
            gated = False
        if not gated and not direct:
            self.oom_before = _oom_count(req.get("oom_files", []))
        trace.mark("monitor.ready_to_spawn", str(req.get("id", "")))
        spawned = process.spawn(cfg, child_fds, new_pidns=(not self.exec_mode and "pid" in req["spec"]["namespaces"]),
                                join_pidns=req.get("pid") if self.exec_mode else
                                (req["spec"].get("join_namespaces") or {}).get("pid"),
                                cgroup_procs=None if self.exec_mode or direct else list(req.get("cgroup_procs", [])),
                                before_move=self._await_cgroup if gated else None,
                                before_join=self._await_go if gated else None, ready=self.ready,
                                # the socket is made while the child unshares and mounts, not before it starts
                                after_config=(lambda: self._listen(req["socket"])) if req.get("socket") else None,
                                on_exec=None if self.exec_mode else self._reply)
        for fd in child_fds:
            os.close(fd)
        trace.mark("monitor.spawned", str(req.get("id", "")))
        if spawned.error:
            if self.replied:  # its execve failed after the start was answered: the container's exit, recorded
                self._unlink_socket()
                for path in self._cgroup_dirs():
                    with contextlib.suppress(OSError):
                        os.rmdir(path)
                self._finish_record({"exit_code": spawned.exit_code, "error": spawned.error, "oom_killed": False})
                os._exit(0)
            if self.aborted or spawned.aborted:  # the engine called the start off: never ran, nothing to record
                _send_line(self.conn, {"error": spawned.error, "exit_code": spawned.exit_code})
                os._exit(0)
            self._finish_record({"exit_code": spawned.exit_code, "error": spawned.error, "oom_killed": False})
            _send_line(self.conn, {"error": spawned.error, "exit_code": spawned.exit_code})
            os._exit(0)
        self.pid = spawned.pid
        if direct:
            try:
                self._await_cgroup()  # sent before the child's go: it is here
            except (OSError, RuntimeError, ValueError):
                pass  # the engine went away meanwhile: no OOM files, the rest works
        if spawned.console is not None:
            self.console = spawned.console
            self.outputs[self.console] = _STDOUT
            if self.open_stdin:
                self.stdin_fd = self.console
            size = req.get("console_size")
            if size:
                _resize(self.console, int(size[0]), int(size[1]))
        for fd in list(self.outputs):
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, "output")
        if self.stdin_fd is not None and self.stdin_fd != self.console:
            os.set_blocking(self.stdin_fd, False)
        self.pidfd = os.pidfd_open(self.pid)
        self.sel.register(self.pidfd, selectors.EVENT_READ, "exit")
        # The reply goes out before the helper's exec (whose teardown of this address space takes a while): the
        # engine goes on while the helper starts; output waits in the pipes, clients in the listen backlog.
        # (A start's reply went out already, when its child had only its execve left.)
        if not self.replied:
            self._reply(self.pid)
        if self.helper:
            try:
                self._exec_helper()
            except OSError:  # the helper is gone or broken: the Python loop does the same work
                if not self.exec_mode and req.get("log_path"):
                    log = req["spec"].get("log") or {}
                    self.log = JsonLog(req["log_path"], int(log.get("max_size") or 0), int(log.get("max_file") or 1))
        attach = req.get("attach")
        if attach:
            client = self._add_client(self.conn)
            self._attach(client, attach)
            if self.early:
                self._client_input(client, self.early)
        else:
            self.conn.close()

    def _reply(self, pid: int, pid_start: int = -1) -> None:
        """The launch reply: the process runs (or only its execve is left; see ``init._announce_exec``: then
        ``pid_start`` was read before it). Start times from here: the engine reading ours from /proc would wait for
        the helper's exec."""
        if pid_start < 0:
            pid_start = procs.start_time(pid)
        own = _own_start if _own_start >= 0 else procs.start_time(os.getpid())
        _send_line(self.conn, {"pid": pid, "monitor_pid": os.getpid(), "pid_start": pid_start, "monitor_start": own})
        self.replied = True
        trace.mark("monitor.replied", str(self.req.get("id", "")))

    def _engine_word(self, want: str) -> dict[str, Any]:
        """The engine's next line on the launch connection (see the module doc); raise if it is not ``want``."""
        buf = self.early
        while b"\n" not in buf:
            chunk = self.conn.recv(65536)
            if not chunk:
                self.aborted = True
                raise RuntimeError("the engine went away before the container could start")
            buf += chunk
        line, _, self.early = buf.partition(b"\n")
        msg = json.loads(line)
        if not msg.get(want):
            self.aborted = True
            raise RuntimeError(str(msg.get("abort") or "start called off"))
        return msg

    def _await_cgroup(self) -> bool:
        """The cgroup word; true if the engine moved the process in itself (it knew our waiting child's pid)."""
        msg = self._engine_word("cgroup")
        self.req["oom_files"] = list(msg.get("oom_files") or [])
        self.oom_before = _oom_count(self.req["oom_files"])
        trace.mark("monitor.cgroup_made", str(self.req.get("id", "")))
        return bool(msg.get("moved")) and self.ready is not None and self.ready.pid == msg.get("pid")

    def _await_go(self) -> None:
        self._engine_word("go")
        trace.mark("monitor.go", str(self.req.get("id", "")))

    def _exec_helper(self) -> NoReturn:
        """Hand the loop to the C helper (same protocol, a fraction of the memory); it inherits our fds."""
        req = self.req
        helper = str(self.helper)
        args: list[str] = [helper, "-p", str(self.pid), "-f", str(self.pidfd)]
        keep = [self.pidfd]
        streams = {stream: fd for fd, stream in self.outputs.items()}
        if self.console is not None:
            args += ["-t", "-o", str(self.console)]
            keep.append(self.console)
        else:
            args += ["-o", str(streams[_STDOUT]), "-e", str(streams[_STDERR])]
            keep += [streams[_STDOUT], streams[_STDERR]]
        if self.stdin_fd is not None:
            if self.early:
                os.set_blocking(self.stdin_fd, True)
                os.write(self.stdin_fd, self.early)
            args += ["-i", str(self.stdin_fd)]
            keep.append(self.stdin_fd)
        if self.listener is not None:
            args += ["-l", str(self.listener.fileno()), "-u", req["socket"]]
            keep.append(self.listener.fileno())
        attach = req.get("attach")
        args += ["-c", str(self.conn.fileno()), "-R"]  # the launch reply went out already
        keep.append(self.conn.fileno())
        if attach:
            flags = "".join(f for f, key in (("i", "stdin"), ("o", "stdout"), ("e", "stderr"))
                            if attach.get(key, key != "stdin"))
            args += ["-a", flags or "-"]
        if self.stdin_once:
            args.append("-S")
        if not self.exec_mode and req.get("log_path"):
            log = req["spec"].get("log") or {}
            args += ["-L", req["log_path"], "-s", str(int(log.get("max_size") or 0)),
                     "-m", str(int(log.get("max_file") or 1))]
        if req.get("exit_path"):
            args += ["-x", req["exit_path"]]
        for path in req.get("oom_files", []):
            args += ["-O", path]
        args += ["-b", str(self.oom_before)]
        for path in self._cgroup_dirs():
            args += ["-G", path]
        for fd in keep:
            os.set_inheritable(fd, True)
        os.execv(helper, args)

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
        client.streams = {s for s, key in ((_STDOUT, "stdout"), (_STDERR, "stderr")) if opts.get(key, True)}

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
            _resize(self.console, int(msg.get("height", 24)), int(msg.get("width", 80)))
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
            self.log.write("stdout" if stream == _STDOUT else "stderr", data)
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
        oom = _oom_count(self.req.get("oom_files", [])) > self.oom_before
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


def _send_line(sock: socket.socket, data: dict[str, Any]) -> None:
    try:
        sock.sendall(json.dumps(data).encode() + b"\n")
    except OSError:
        pass


def _resize(fd: int, height: int, width: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def _oom_count(files: list[str]) -> int:
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


_own_start = -1  # a spare monitor's own start time, read while it waits


def _become_monitor() -> None:
    os.setsid()
    gc.disable()
    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN if sig in (signal.SIGPIPE, signal.SIGHUP) else signal.SIG_DFL)


def spare_main(sock: socket.socket) -> NoReturn:
    """Entry of a spare monitor, forked by the fork server ahead of need: fork the container's first process in
    a new pid namespace now (``process.prefork``), then wait on ``sock`` for a launch connection (one message
    with one fd) and run as ``monitor_main``. EOF (its client, the engine, went away): discard the child and exit."""
    global _own_start
    ready: process.Prefork | None = None
    try:
        _become_monitor()
        ready = process.prefork(close=(sock.fileno(),))
        # the engine moves the child into its cgroup itself and tells it "joined" and "go" on its own channel
        with contextlib.suppress(OSError):  # (it may have handed us a start and closed its end already)
            init.send_msg(sock, {"child": ready.pid}, [ready.words.fileno()] if ready.words else [])
        if ready.words is not None:
            ready.words.close()
            ready.words = None
        init.warm_up(parse=False)  # while it waits: the launch request's decoding then copies fewer pages
        _own_start = procs.start_time(os.getpid())  # both for the launch reply: read now, not on the start's path
        ready.start = procs.start_time(ready.pid)
        msg, fds = recv_msg(sock, 4096)
    except BaseException as err:  # noqa: BLE001 - a spare that cannot get ready goes; the next start forks anew
        _spare_failed(sock, ready, err)
    sock.close()
    if not msg or not fds:
        ready.discard()
        os._exit(0)
    for extra in fds[1:]:
        os.close(extra)
    _run(socket.socket(fileno=fds[0]), ready)


def _spare_failed(sock: socket.socket, ready: process.Prefork | None, err: BaseException) -> NoReturn:
    """A spare that could not get ready: say why in the monitors' log and, if the engine handed it a start already
    (the message may wait unread), answer that start with the error rather than drop its connection unanswered."""
    why = f"spare monitor could not get ready: {type(err).__name__}: {err}"
    with contextlib.suppress(Exception):
        os.write(2, f"pycompose: {why}\n".encode())
    if ready is not None:
        with contextlib.suppress(Exception):
            ready.discard()
    with contextlib.suppress(Exception):
        _msg, fds = recv_msg(sock, 4096, nowait=True)
        for fd in fds:
            _send_line(socket.socket(fileno=fd), {"error": f"monitor: {why}", "exit_code": 1})
    os._exit(0)


def monitor_main(conn: socket.socket) -> NoReturn:
    """Entry of a freshly forked monitor: read the launch request from ``conn`` and run. Never returns."""
    try:
        _become_monitor()
    except BaseException as err:  # noqa: BLE001 - report to the launcher, never a traceback on its terminal
        _send_line(conn, {"error": f"monitor: {type(err).__name__}: {err}", "exit_code": 1})
        os._exit(1)
    _run(conn, None)


def _run(conn: socket.socket, ready: process.Prefork | None) -> NoReturn:
    try:
        trace.mark("monitor.forked")
        line, early = read_line(conn)
        req = json.loads(line)
        trace.mark("monitor.request", str(req.get("id", "")))
        mon = _Monitor(req, conn, early, ready)
        mon.start()
    except BaseException as err:  # noqa: BLE001 - report to the launcher, never a traceback on its terminal
        _send_line(conn, {"error": f"monitor: {type(err).__name__}: {err}", "exit_code": 1})
        if ready is not None and ready.sock.fileno() != -1:  # its waiting child was never handed the start
            ready.discard()
        os._exit(1)
    mon.run()
