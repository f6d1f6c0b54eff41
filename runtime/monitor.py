"""The per-container (or per-exec) monitor: parent of the container's init, outliving the daemon.

Forked from the fork server (no interpreter start-up), it starts its own session, spawns the process
(``process.spawn``), then execs the small C helper ``runtime/native/monitor.c`` (about 120 KiB PSS), which keeps
the fds, stays the process's parent and runs the loop; without a C compiler ``monitor_loop.py`` runs the same loop
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
import gc
import json
import os
import selectors
import signal
import socket
from typing import Any, NoReturn

from runtime import init, process, procs, trace
from runtime.init import recv_msg
from runtime.jsonlog import JsonLog
from runtime.monitor_client import read_line
from runtime.monitor_loop import STDERR, STDOUT, MonitorLoop, oom_count, resize, send_line

__all__ = ["monitor_main", "spare_main", "EXIT_RECORD", "SOCKET_NAME"]

EXIT_RECORD = "exit.json"
SOCKET_NAME = "monitor.sock"
_CHUNK = 65536
_CLIENT_BUFFER_LIMIT = 4 << 20
STDOUT, STDERR = 1, 2


class _Monitor(MonitorLoop):
    """The launch: stdio, the process spawned (the engine's words relayed on the way), the launch reply; then
    the C helper's exec, or ``run`` here."""

    def __init__(self, req: dict[str, Any], conn: socket.socket, early: bytes,
                 ready: process.Prefork | None = None) -> None:
        spec = req["spec"]
        exec_mode = req.get("mode") == "exec"
        proc = req["exec"] if exec_mode else spec
        # an exec's stdin closes when its client's input ends (Docker's CloseStdin for execs): `echo x | exec cat`
        super().__init__(req, exec_mode=exec_mode, tty=bool(proc.get("tty")),
                         stdin_once=True if exec_mode else bool(spec.get("stdin_once")))
        self.ready = ready
        self.open_stdin = bool(proc.get("open_stdin"))
        self.conn, self.early = conn, early
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
            for stream in (STDOUT, STDERR):
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
            self.oom_before = oom_count(req.get("oom_files", []))
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
                send_line(self.conn, {"error": spawned.error, "exit_code": spawned.exit_code})
                os._exit(0)
            self._finish_record({"exit_code": spawned.exit_code, "error": spawned.error, "oom_killed": False})
            send_line(self.conn, {"error": spawned.error, "exit_code": spawned.exit_code})
            os._exit(0)
        self.pid = spawned.pid
        if direct:
            try:
                self._await_cgroup()  # sent before the child's go: it is here
            except (OSError, RuntimeError, ValueError):
                pass  # the engine went away meanwhile: no OOM files, the rest works
        if spawned.console is not None:
            self.console = spawned.console
            self.outputs[self.console] = STDOUT
            if self.open_stdin:
                self.stdin_fd = self.console
            size = req.get("console_size")
            if size:
                resize(self.console, int(size[0]), int(size[1]))
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
        send_line(self.conn, {"pid": pid, "monitor_pid": os.getpid(), "pid_start": pid_start, "monitor_start": own})
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
        self.oom_before = oom_count(self.req["oom_files"])
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
            args += ["-o", str(streams[STDOUT]), "-e", str(streams[STDERR])]
            keep += [streams[STDOUT], streams[STDERR]]
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
            send_line(socket.socket(fileno=fd), {"error": f"monitor: {why}", "exit_code": 1})
    os._exit(0)


def monitor_main(conn: socket.socket) -> NoReturn:
    """Entry of a freshly forked monitor: read the launch request from ``conn`` and run. Never returns."""
    try:
        _become_monitor()
    except BaseException as err:  # noqa: BLE001 - report to the launcher, never a traceback on its terminal
        send_line(conn, {"error": f"monitor: {type(err).__name__}: {err}", "exit_code": 1})
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
        send_line(conn, {"error": f"monitor: {type(err).__name__}: {err}", "exit_code": 1})
        if ready is not None and ready.sock.fileno() != -1:  # its waiting child was never handed the start
            ready.discard()
        os._exit(1)
    mon.run()
