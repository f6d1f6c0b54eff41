"""Child side of a container (or exec) process: runs in the forked child, finishes in ``execve``.

The parent (``process.py``) sends one JSON message with the stdio fds over a SOCK_SEQPACKET socketpair. This side
unshares its namespaces and builds the rootfs while the parent moves it into its cgroup; on the parent's
``joined`` message it takes its cgroup namespace, mounts the cgroup hierarchies, pivots and sets the hostname
while the engine connects the network; on ``go`` it sets sysctls and masked paths, stdio, the user, working dir,
rlimits, capabilities, no_new_privs and seccomp (last, through ``runtime.security``'s plan), checks the program
can be executed, says ``{"exec": true}`` (a start's child: only ``execve`` is left, the engine is answered now, as
runc's start does not wait for the exec either) and execs (with ``init: true``: the static C reaper, by fd). The
socket is close-on-exec: the parent reading EOF means the exec happened. On failure one JSON message ``{"error":
..., "exit_code": ...}`` goes back (127: command not found, 126: not executable, like Docker) and the child exits;
after ``exec`` it is the container's exit.
Imports only the standard library, ``spec``, ``linux``, ``rootfs``, ``users`` and ``security``.
"""
from __future__ import annotations

import array
import ctypes
import errno
import fcntl
import json
import os
import signal
import socket
import stat
import struct
import termios
from typing import Any

from runtime import linux, rootfs, security, trace
from runtime.security.privileges import note_oom_score_adj
from runtime.spec import DEFAULT_PATH, ContainerSpec, ExecSpec, exec_from_dict, spec_from_dict, spec_to_dict
from runtime.users import ResolvedUser, resolve_user

__all__ = ["InitError", "child_main", "send_msg", "recv_msg", "sample_config", "sample_text", "warm_up",
           "EXIT_NOT_FOUND", "EXIT_CANNOT_EXEC"]

EXIT_NOT_FOUND = 127
EXIT_CANNOT_EXEC = 126
_MAX_FDS = 8
_NS_FLAGS = {"mount": linux.CLONE_NEWNS, "uts": linux.CLONE_NEWUTS, "ipc": linux.CLONE_NEWIPC,
             "net": linux.CLONE_NEWNET, "cgroup": linux.CLONE_NEWCGROUP}
_NS_FILES = ("cgroup", "ipc", "uts", "net", "mnt")  # setns order for exec; mnt last


class InitError(Exception):
    def __init__(self, message: str, exit_code: int = 1, aborted: bool = False) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.aborted = aborted  # the engine called the start off: nothing ran, nothing to record


def send_msg(sock: socket.socket, data: Any, fds: list[int] | tuple[int, ...] = ()) -> None:
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())] if fds else []
    sock.sendmsg([json.dumps(data).encode()], anc)


def recv_msg(sock: socket.socket, bufsize: int = 1 << 20, *, nowait: bool = False) -> tuple[Any, list[int]]:
    """One message and its fds; ``(None, [])`` at EOF. ``nowait``: ``BlockingIOError`` if none is there yet.

    A peer that closed with messages of ours unread makes the kernel report ECONNRESET once, *before* the messages
    it had sent us (a datagram receive checks the socket's error first): those are read all the same, then EOF."""
    flags = socket.MSG_CMSG_CLOEXEC | (socket.MSG_DONTWAIT if nowait else 0)
    try:
        msg, anc, _flags, _addr = sock.recvmsg(bufsize, socket.CMSG_LEN(_MAX_FDS * 4), flags)
    except ConnectionResetError:
        msg, anc, _flags, _addr = sock.recvmsg(bufsize, socket.CMSG_LEN(_MAX_FDS * 4), flags)
    fds: list[int] = []
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(array.array("i", data[: len(data) - len(data) % 4]))
    return (json.loads(msg) if msg else None), fds


# --- steps ---------------------------------------------------------------------------------------------------------

def _join_cgroup(procs_files: list[str]) -> None:
    for path in procs_files:
        with open(path, "w") as fh:
            fh.write("0")


def _await(sock: socket.socket, word: str, what: str) -> dict[str, Any]:
    msg, fds = recv_msg(sock)
    for fd in fds:
        os.close(fd)
    if not msg or not msg.get(word):
        aborted = msg is None or "abort" in msg
        raise InitError(str((msg or {}).get("abort") or f"the engine did not {what}"), aborted=aborted)
    return msg


def _move_self(files: list[str]) -> None:
    """Join the cgroup ourselves: "0" into v1 ``tasks`` (a thread moving itself skips the kernel's global
    threadgroup lock that a move by pid takes; we are single-threaded) or v2 ``cgroup.procs``."""
    try:
        for path in files:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
    except OSError as err:
        raise InitError(f"cannot move the container into its cgroup: {err}") from err


def _unshare(spec: ContainerSpec) -> None:
    """Every namespace but the cgroup one (that waits until the monitor has moved us into the cgroup)."""
    flags = 0
    for name in spec.namespaces:
        if (name == "net" and spec.netns_path) or name == "cgroup":
            continue
        flags |= _NS_FLAGS.get(name, 0)
    joins = {name: path for name, path in spec.join_namespaces.items() if name in ("ipc", "uts", "cgroup")}
    if spec.netns_path:
        joins["net"] = spec.netns_path
    for name, path in joins.items():  # (pid was joined by the monitor, before it forked us)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            linux.setns(fd, _NS_FLAGS[name])
        finally:
            os.close(fd)
    linux.unshare(flags)


def _open_console(sock: socket.socket, bind_console: bool, size: list[int] | None) -> int:
    """A pty from the container's own devpts, sized before the program can ask; the master goes to the parent,
    the slave becomes the console."""
    master, slave = os.openpty()
    if size:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", int(size[0]), int(size[1]), 0, 0))
    if bind_console:
        name = os.ttyname(slave)
        if not os.path.exists("/dev/console"):
            os.close(os.open("/dev/console", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        linux.mount(name, "/dev/console", None, linux.MS_BIND)
    send_msg(sock, {"console": True}, [master])
    os.close(master)
    return slave


def _stdio(fds: list[int], tty_slave: int | None) -> None:
    os.setsid()
    if tty_slave is not None:
        fcntl.ioctl(tty_slave, termios.TIOCSCTTY, 0)
        targets = [fds[0] if fds else tty_slave, tty_slave, tty_slave]
    else:
        targets = fds[:3]
    for want, fd in enumerate(targets):
        if fd != want:
            os.dup2(fd, want)
    for fd in set(fds) | ({tty_slave} if tty_slave is not None else set()):
        if fd > 2:
            os.close(fd)


def _environment(env: tuple[str, ...], user: ResolvedUser, hostname: str, tty: bool) -> dict[str, str]:
    out: dict[str, str] = {"PATH": DEFAULT_PATH}
    if hostname:
        out["HOSTNAME"] = hostname
    if tty:
        out["TERM"] = "xterm"
    for entry in env:
        key, _, value = entry.partition("=")
        out[key] = value
    out.setdefault("HOME", user.home or "/")
    return out


def _lookup(cmd: str, env: dict[str, str]) -> str:
    if "/" in cmd:
        try:
            os.stat(cmd)
        except OSError as err:
            raise InitError(f'exec: "{cmd}": stat {cmd}: {(err.strerror or str(err)).lower()}', EXIT_NOT_FOUND) from err
        return cmd
    for d in env.get("PATH", DEFAULT_PATH).split(":"):
        path = os.path.join(d or ".", cmd)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise InitError(f'exec: "{cmd}": executable file not found in $PATH', EXIT_NOT_FOUND)


def _workdir(path: str, user: ResolvedUser) -> None:
    path = path or "/"
    if not os.path.isdir(path):
        try:
            os.makedirs(path, 0o755, exist_ok=True)
            os.chown(path, user.uid, user.gid)
        except OSError as err:
            raise InitError(f"mkdir {path}: {err.strerror}", EXIT_NOT_FOUND) from err
    try:
        os.chdir(path)
    except OSError as err:
        raise InitError(f"chdir to cwd (\"{path}\") set in config.json failed: {err.strerror}") from err


def _switch_user(user: ResolvedUser) -> None:
    os.setgroups(list(user.groups))
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)


def _confine(plan: security.SecurityPlan, user: ResolvedUser) -> None:
    """rlimits, oom_score_adj, bounding set (and seccomp without no_new_privs), the user, then capabilities,
    no_new_privs and seccomp: runc's order."""
    security.apply_before_user(plan)
    _switch_user(user)
    security.apply_after_user(plan)


_AT_FDCWD, _AT_EACCESS = -100, 0x200
_libc = ctypes.CDLL(None, use_errno=True)  # loaded here: after pivot_root nothing can be
_syscall = _libc.syscall  # looked up now, not in the child


def _check_executable(path: str, name: str) -> None:
    """execve's permission check, made with the program's own credentials (user, capabilities) before the
    engine is told the start went well (runc's init checks the same before its exec fifo): a directory, or a file
    the user may not execute, is 126 "permission denied". An answer that is not EACCES (e.g. a seccomp profile
    that denies faccessat) proves nothing: execve then decides, and its failure is the container's exit."""
    failed = _libc.faccessat(_AT_FDCWD, path.encode(), os.X_OK, _AT_EACCESS) != 0
    denied = failed and ctypes.get_errno() == errno.EACCES
    if not denied:
        try:
            denied = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError:
            denied = False
    if denied:
        raise InitError(f'exec: "{name}": permission denied', EXIT_CANNOT_EXEC)


def _announce_exec(sock: socket.socket) -> None:
    """Tell the monitor every check passed and only ``execve`` is left: it answers the engine now, while the
    exec replaces this process (a failure after this is the container's exit, with its error recorded). A
    seccomp profile that denies sendmsg just leaves the monitor to wait for the exec itself."""
    try:
        send_msg(sock, {"exec": True})
    except OSError:
        pass


_SYS_CLOSE_RANGE = 436  # the same number on every architecture (the unified syscall table)
_CLOSE_RANGE_CLOEXEC = 4


def _cloexec_all() -> None:
    """Nothing but stdio crosses into the container's program, whatever the engine had open: one close_range
    (CLOSE_RANGE_CLOEXEC, Linux 5.11, as runc) instead of listing the fresh /proc's fd directory and one fcntl per
    fd (~0.1 ms less in the child); the listing where the kernel lacks it. Called before seccomp: a profile
    without close_range then costs nothing."""
    if _syscall(ctypes.c_long(_SYS_CLOSE_RANGE), ctypes.c_uint(3), ctypes.c_uint(0xFFFFFFFF),
                     ctypes.c_uint(_CLOSE_RANGE_CLOEXEC)) == 0:
        return
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass  # the listing's own fd, closed by now


def _exec(path: str, args: tuple[str, ...], env: dict[str, str]) -> None:
    """(``_cloexec_all`` was called before the process confined itself.)"""
    try:
        os.execve(path, list(args), env)
    except PermissionError as err:
        raise InitError(f'exec: "{args[0]}": permission denied', EXIT_CANNOT_EXEC) from err
    except OSError as err:
        code = EXIT_NOT_FOUND if err.errno == errno.ENOENT else EXIT_CANNOT_EXEC
        raise InitError(f'exec: "{args[0]}": {(err.strerror or str(err)).lower()}', code) from err


def _reaper(path: str, args: tuple[str, ...], env: dict[str, str], sock: socket.socket) -> None:
    """``init: true`` without the C reaper: PID 1 forks the command, forwards signals, reaps every zombie."""
    catchable = set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, catchable)  # pending until the child exists: none is lost
    child = 0

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for sig in catchable:
        try:
            signal.signal(sig, forward)
        except (OSError, ValueError):
            pass
    child = os.fork()
    if child == 0:
        for sig in catchable:  # exec resets handlers anyway; this covers the moment before it
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        _run_guarded(sock, lambda: _exec(path, args, env))
    sock.close()
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)


def _run_guarded(sock: socket.socket, step: Any) -> None:
    try:
        step()
        raise InitError("exec returned")
    except InitError as err:
        _report(sock, str(err), err.exit_code, err.aborted)
    except BaseException as err:  # noqa: BLE001 - any failure must reach the parent, never a traceback
        _report(sock, f"{type(err).__name__}: {err}", 1)


def _report(sock: socket.socket, message: str, code: int, aborted: bool = False) -> None:
    try:
        send_msg(sock, {"error": message, "exit_code": code, **({"aborted": True} if aborted else {})})
    finally:
        os._exit(code)


def _container(sock: socket.socket, cfg: dict[str, Any], fds: list[int], words: socket.socket | None = None) -> None:
    """``words``: with ``direct_words`` in the config, the engine's own channel for ``joined``/``go``/``abort``
    (a spare's child); else those come from the monitor on ``sock``."""
    if words is not None and not cfg.get("direct_words"):
        words.close()
        words = None
    channel = words or sock
    key = cfg.get("id", "")
    trace.mark("init.config", key)
    spec = spec_from_dict(cfg["spec"])
    plan = security.SecurityPlan.from_dict(cfg["security"])
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    _unshare(spec)
    trace.mark("init.unshared", key)
    reaper = os.open(cfg["init_helper"], os.O_RDONLY | os.O_CLOEXEC) if spec.init and cfg.get("init_helper") else None
    root = rootfs.mount_rootfs(spec, cfg["state_dir"])
    trace.mark("init.rootfs_mounted", key)
    joined = _await(channel, "joined", "place it in its cgroup")
    if joined.get("move"):  # the engine's own word (a spare's child): the cgroup exists, we step in
        _move_self(list(joined["move"]))  # moved while we mounted (v1 moves are slow)
    if "cgroup" in spec.namespaces and os.path.exists("/proc/self/ns/cgroup"):
        linux.unshare(linux.CLONE_NEWCGROUP)
    trace.mark("init.cgroup_joined", key)
    rootfs.mount_cgroups(spec, root)
    trace.mark("init.cgroups_mounted", key)
    rootfs.pivot_into(root)
    trace.mark("init.pivoted", key)
    if "uts" in spec.namespaces:
        linux.sethostname(spec.hostname or cfg["id"][:12])
        if spec.domainname:
            linux.setdomainname(spec.domainname)
    _await(channel, "go", "let it run")  # the engine connected the network meanwhile: net sysctls can name eth0
    trace.mark("init.go", key)
    security.apply_sysctls_and_paths(plan)
    rootfs.lock_rootfs(spec)
    trace.mark("init.paths_masked", key)
    slave = _open_console(sock, True, cfg.get("console_size")) if spec.tty else None
    _stdio(fds, slave)
    try:
        user = resolve_user(spec.user, extra_groups=spec.group_add)
    except LookupError as err:
        raise InitError(str(err)) from err
    env = _environment(spec.env, user, spec.hostname or cfg["id"][:12], spec.tty)
    _workdir(spec.working_dir, user)
    path = _lookup(spec.args[0], env)
    _cloexec_all()
    _confine(plan, user)
    _check_executable(path, spec.args[0])
    trace.mark("init.exec", key)
    _announce_exec(sock)
    if reaper is not None:  # the static C reaper, exec'd by fd: it is not in the container's filesystem
        # blocked signals survive execve and stay pending: none sent before the reaper is ready gets lost
        signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP})
        try:
            os.execve(reaper, ["pycompose-init", path, *spec.args], env)
        except OSError:
            pass  # e.g. a noexec cache directory: the Python reaper below does the same work
    if spec.init:
        _reaper(path, spec.args, env, sock)
    _exec(path, spec.args, env)


def _exec_in(sock: socket.socket, cfg: dict[str, Any], fds: list[int]) -> None:
    """An exec: the parent already joined the pid namespace; join the rest, then as a container process."""
    spec = spec_from_dict(cfg["spec"])
    proc: ExecSpec = exec_from_dict(cfg["exec"])
    plan = security.SecurityPlan.from_dict(cfg["security"])
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    _join_cgroup(cfg.get("cgroup_procs", []))
    ns_fds = [os.open(f"/proc/{cfg['pid']}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC) for name in _NS_FILES]
    for fd in ns_fds:
        linux.setns(fd, 0)
        os.close(fd)
    os.chdir("/")
    slave = _open_console(sock, False, cfg.get("console_size")) if proc.tty else None
    _stdio(fds, slave)
    try:
        user = resolve_user(proc.user or spec.user, extra_groups=spec.group_add)
    except LookupError as err:
        raise InitError(str(err)) from err
    env = _environment(spec.env + proc.env, user, spec.hostname or cfg["id"][:12], proc.tty)
    _workdir(proc.working_dir or spec.working_dir, user)
    path = _lookup(proc.args[0], env)
    _cloexec_all()
    _confine(plan, user)
    _exec(path, proc.args, env)


def sample_config() -> dict[str, Any]:
    """A container config shaped like a start's (spec, security plan with a seccomp filter) for ``warm_up``."""
    spec = ContainerSpec(args=("true",), env=("PATH=" + DEFAULT_PATH,),
                         namespaces=("pid", "mount", "uts", "ipc", "net", "cgroup"))
    return {"mode": "start", "id": "0" * 64, "spec": spec_to_dict(spec),
            "security": security.SecurityPlan(seccomp_bpf=bytes(8192)).to_dict()}


_sample_text = ""


def sample_text() -> str:
    """``sample_config`` as JSON, made once per process: the fork server makes it before it freezes its heap, so
    every spare shares it instead of building it anew (dataclass to dict, base64: ~0.3 ms a spare)."""
    global _sample_text
    if not _sample_text:
        _sample_text = json.dumps(sample_config())
    return _sample_text


def warm_up(parse: bool = True) -> None:
    """For a process forked ahead of need, while it waits: decode a sample config as a start's will be.

    A forked Python process shares its parent's pages until it writes them, and merely using an object writes its
    reference count: its first parse of a config copies a few hundred pages (~0.5 ms). Done now, that copying is
    off the start's path. ``parse`` (a container's init): also build the spec and security plan from it, and read
    what the start needs from /proc (the host's cgroup mounts, our oom_score_adj); without it (a monitor, which
    only decodes the launch request and encodes its child's config) encode it again instead. Never raises."""
    try:
        cfg = json.loads(sample_text())
        if parse:
            spec_from_dict(cfg["spec"])
            security.SecurityPlan.from_dict(cfg["security"])
        else:
            json.dumps(cfg)
    except Exception:  # noqa: BLE001 - only a warm-up
        pass
    if parse:
        rootfs.note_host_cgroups()  # two /proc reads the start would make: the host's, shorter, and off its path
        note_oom_score_adj()


def child_main(sock: socket.socket, words: socket.socket | None = None) -> None:
    """Entry of the forked child; never returns. ``words``: see ``_container`` (a spare's child: it warms up
    while it waits for its config)."""
    if words is not None:
        warm_up()
    try:
        cfg, fds = recv_msg(sock)
        if cfg is None:
            os._exit(1)
    except BaseException:  # noqa: BLE001
        os._exit(1)
    if cfg.get("mode") == "exec":
        _run_guarded(sock, lambda: _exec_in(sock, cfg, fds))
    _run_guarded(sock, lambda: _container(sock, cfg, fds, words))
