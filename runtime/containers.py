"""The container service: create, start, stop, kill, wait, pause, exec, top, remove, list, inspect.

Every container is a directory ``<root>/containers/<id>/`` holding ``config.json`` (name, spec; written at
create), ``state.json`` (written by this service at start/pause), ``exit.json`` (written by the monitor when the
process ends), the json-file log, the managed /etc files, the overlay ``upper``/``work`` dirs and the monitor's
socket. The state is derived from those files and the liveness of the recorded monitor, so a new service (a
restarted daemon) adopts running containers just by reading the directory. Mounts exist only inside each
container's mount namespace; the cgroup is made at start and removed at remove.
"""
from __future__ import annotations

import builtins
import contextlib
import dataclasses
import json
import os
import re
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime import exec as execs
from runtime import linux, monitor_client, native, procs, trace
from runtime.cleaner import Cleaner
from runtime.confinement import cgroup_resources, check_block_devices, device_policy, security_plan
from runtime.errors import Conflict, InvalidArgument, InvalidState, NotFound
from runtime.forkserver import ForkServer
from runtime.fsflags import mark_top_directory
from runtime.jsonlog import rfc3339nano
from runtime.launch import before_exec, converse
from runtime.managed_files import default_hosts, host_resolv
from runtime.monitor import EXIT_RECORD, SOCKET_NAME
from runtime.paths import data_root
from runtime.process import StartFailed
from runtime.rootfs import MANAGED_FILES, RootfsPaths
from runtime.spec import ContainerSpec, ExecSpec, Resources, parse_signal, spec_from_dict, spec_to_dict, validate
from runtime.state import read_record, write_record

__all__ = ["ContainerService", "ContainerState", "StartFailed", "LOG_SUFFIX", "MONITORS_LOG"]

LOG_SUFFIX = "-json.log"
MONITORS_LOG = "monitors.log"  # the fork server's and the monitors' own errors (never the engine's stderr)
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_EXIT_UNKNOWN = 255  # the monitor vanished without recording an exit (Docker reports 255 too)


@dataclass(frozen=True)
class ContainerState:
    id: str
    name: str
    created: str
    status: str  # created, running, paused, exited
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started_at: str = ""
    finished_at: str = ""
    image: str = ""
    spec: ContainerSpec = dataclasses.field(default_factory=ContainerSpec)
    state_dir: str = ""
    log_path: str = ""

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused")


class ContainerService:
    """Containers under ``<root>/containers``. ``images``: an ``ImageStore`` (for ``spec.image`` without
    ``spec.rootfs``); ``cgroups``: a factory ``(name, parent) -> CgroupManager`` (default ``runtime.cgroups``)."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, images: Any = None,
                 cgroups: Callable[[str, str], Any] | None = None, cgroup_parent: str = "pycompose") -> None:
        self.root = data_root(root)
        self.dir = self.root / "containers"
        self._names = self.dir / ".names"
        self._names.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._trash = self.dir / ".trash"
        self._trash.mkdir(exist_ok=True, mode=0o700)
        self._cleaner = Cleaner()
        for leftover in os.listdir(self._trash):
            self._cleaner.submit(self._trash / leftover)
        os.chmod(self.dir, 0o700)
        mark_top_directory(self.dir)  # each state dir (overlay dirs, managed files) in a block group of its own
        self.images = images
        if cgroups is None:
            from runtime.cgroups import new_manager
            cgroups = new_manager
        self._cgroups: Callable[[str, str], Any] = cgroups
        self.cgroup_parent = cgroup_parent
        self._forkserver = ForkServer(self.dir / MONITORS_LOG)
        self._helper = native.monitor_binary()
        self._init_helper = native.init_binary()
        self._locks: dict[str, threading.Lock] = {}
        self._configs: dict[str, tuple[dict[str, Any], ContainerSpec]] = {}  # see _loaded
        self._locks_guard = threading.Lock()

    # --- lookup --------------------------------------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """Full id of a container by id, unique id prefix or name (with or without a leading ``/``)."""
        ref = ref.lstrip("/")
        if len(ref) == 64 and (self.dir / ref / "config.json").exists():
            return ref
        link = self._names / ref
        if link.is_symlink():
            return os.readlink(link)
        if ref and re.fullmatch(r"[0-9a-f]+", ref):
            hits = [d for d in self._ids() if d.startswith(ref)]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def _ids(self) -> builtins.list[str]:
        try:
            return [e.name for e in os.scandir(self.dir) if len(e.name) == 64 and e.is_dir()]
        except FileNotFoundError:
            return []

    def _lock(self, cid: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(cid, threading.Lock())

    def _loaded(self, cid: str) -> tuple[dict[str, Any], ContainerSpec]:
        """The container's ``config.json`` and its parsed spec, read once and kept: only this service writes that
        file (``create_container``, ``_save_config``), and every inspect and start needs both."""
        hit = self._configs.get(cid)
        if hit is None:
            cfg = read_record(self.dir / cid / "config.json")
            if cfg is None:
                raise NotFound(f"No such container: {cid}")
            hit = self._configs[cid] = (cfg, spec_from_dict(cfg["spec"]))
        return hit

    def _config(self, cid: str) -> dict[str, Any]:
        """A copy of ``config.json`` to change and ``_save_config``."""
        return dict(self._loaded(cid)[0])

    def _save_config(self, cid: str, cfg: dict[str, Any]) -> None:
        write_record(self.dir / cid / "config.json", cfg)
        self._configs.pop(cid, None)  # read again at the next use

    def state_dir(self, ref: str) -> Path:
        return self.dir / self.resolve(ref)

    def log_path(self, ref: str) -> Path:
        cid = self.resolve(ref)
        return self.dir / cid / f"{cid}{LOG_SUFFIX}"

    # --- create --------------------------------------------------------------------------------------------------
    def create(self, name: str | None, spec: ContainerSpec) -> str:
        """Record a new container; returns its 64-hex id. ``Conflict`` if the name is taken."""
        return self.create_container(name, spec).id

    def check(self, spec: ContainerSpec) -> None:
        """What a create refuses (``InvalidArgument``), as Docker does at create: a bad spec, capabilities,
        sysctls or seccomp profile, unknown host devices or device cgroup rules, limits the cgroup manager
        refuses, per-device I/O limits on what is not a block device. (Its network namespace plays no part.)"""
        problems = validate(spec)
        if problems:
            raise InvalidArgument("; ".join(problems))
        security_plan(spec)
        device_policy(spec)
        cgroup_resources(spec)
        check_block_devices(spec)
        trace.mark("create.svc_checked")

    def create_container(self, name: str | None, spec: ContainerSpec, *, image: Any = None,
                         reserved: tuple[str, str] | None = None, checked: bool = False) -> ContainerState:
        """``create``, returning the new container's state (what ``inspect`` would read back). ``image``: the
        image store's ``Image`` for ``spec.image`` when the caller has it already (not looked up again).
        ``reserved``: what ``reserve`` returned for this ``spec``; released here if the create fails.
        ``checked``: the caller had ``check`` pass on this spec (but for its netns path) already."""
        try:
            if not checked:
                self.check(spec)
            image_id = ""
            if self.images is not None and spec.image and not spec.rootfs:
                img = image if image is not None and image.id == spec.image else self.images.resolve(spec.image)
                image_id = img.id
                spec = dataclasses.replace(spec, rootfs=tuple(str(p) for p in img.layer_dirs()))
            trace.mark("create.svc_image")
        except BaseException:
            if reserved is not None:
                self.unreserve(*reserved)
            raise
        cid, name = reserved if reserved is not None else self.reserve(name, spec)
        state_dir = self.dir / cid
        try:
            # no state.json until the first start: without one the container is "created"
            created = rfc3339nano(time.time_ns())
            cfg = {"id": cid, "name": name, "created": created, "image_id": image_id, "spec": spec_to_dict(spec)}
            write_record(state_dir / "config.json", cfg,
                         durable=False)  # rename keeps it whole; a crash right after create may lose the container
            self._configs[cid] = (cfg, spec)
        except BaseException:
            self.unreserve(cid, name)
            raise
        return ContainerState(id=cid, name=name, created=created, status="created", image=image_id, spec=spec,
                              state_dir=str(state_dir), log_path=str(state_dir / f"{cid}{LOG_SUFFIX}"))

    def reserve(self, name: str | None, spec: ContainerSpec) -> tuple[str, str]:
        """The first half of a create, for a caller with other work to do meanwhile (the daemon makes the network
        sandbox): a new id, the name taken (``Conflict``), the state dir with the managed files (from ``spec``'s
        hostname, hosts and resolv_conf) and the overlay's dirs. Returns (id, name); the container does not exist
        until ``create_container(..., reserved=...)`` writes its config; ``unreserve`` undoes it."""
        cid = secrets.token_hex(32)
        name = (name or "").lstrip("/") or f"pycompose_{cid[:12]}"
        if not _NAME_RE.match(name):
            raise InvalidArgument(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        try:
            os.symlink(cid, self._names / name)
        except FileExistsError:
            other = os.readlink(self._names / name)
            raise Conflict(f'Conflict. The container name "/{name}" is already in use by container "{other}". '
                           "You have to remove (or rename) that container to be able to reuse that name.") from None
        state_dir = self.dir / cid
        try:
            state_dir.mkdir(mode=0o700)
            rootfs_paths = RootfsPaths(str(state_dir))  # the overlay's dirs, made here rather than on the start's path
            for sub in (rootfs_paths.merged, rootfs_paths.upper, rootfs_paths.work):
                os.mkdir(sub, 0o755)
            trace.mark("create.svc_named", cid)
            (state_dir / "hostname").write_text((spec.hostname or cid[:12]) + "\n")
            (state_dir / "hosts").write_text(default_hosts(spec.hosts))
            (state_dir / "resolv.conf").write_text(spec.resolv_conf or host_resolv())
            trace.mark("create.svc_files", cid)
        except BaseException:
            self.unreserve(cid, name)
            raise
        return cid, name

    def unreserve(self, cid: str, name: str) -> None:
        """Undo ``reserve`` (or a create that failed after it): the state dir and the name go."""
        shutil.rmtree(self.dir / cid, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            if os.readlink(self._names / name) == cid:
                os.unlink(self._names / name)

    def write_managed_file(self, ref: str, name: str, content: str) -> None:
        """Rewrite ``hosts``, ``hostname`` or ``resolv.conf`` in place (a running container sees it at once)."""
        if name not in MANAGED_FILES:
            raise InvalidArgument(f"not a managed file: {name}")
        with open(self.state_dir(ref) / name, "r+") as fh:
            fh.write(content)
            fh.truncate()

    # --- state ---------------------------------------------------------------------------------------------------
    def inspect(self, ref: str) -> ContainerState:
        cid = self.resolve(ref)
        cfg, spec = self._loaded(cid)
        d = self.dir / cid
        st = read_record(d / "state.json", {}) or {}
        ex = read_record(d / EXIT_RECORD)
        status = st.get("status", "created")
        kw: dict[str, Any] = {"pid": 0, "started_at": st.get("started_at", ""), "exit_code": 0}
        if ex is not None:
            kw.update(exit_code=ex["exit_code"], error=ex.get("error", ""), oom_killed=ex.get("oom_killed", False),
                      finished_at=ex.get("finished_at", ""))
        if status in ("running", "paused"):
            if ex is not None:
                status = "exited"
            elif procs.alive(st.get("monitor_pid", 0), st.get("monitor_start", -2)):
                kw["pid"] = st["pid"]
            else:
                status = "exited"
                ex = read_record(d / EXIT_RECORD)  # the monitor may have written it and exited just now
                if ex is not None:
                    kw.update(exit_code=ex["exit_code"], error=ex.get("error", ""),
                              oom_killed=ex.get("oom_killed", False), finished_at=ex.get("finished_at", ""))
                else:
                    kw.update(exit_code=_EXIT_UNKNOWN, error="the container's monitor exited without a record")
        return ContainerState(id=cid, name=cfg["name"], created=cfg["created"], status=status,
                              image=cfg.get("image_id", ""), spec=spec, state_dir=str(d),
                              log_path=str(d / f"{cid}{LOG_SUFFIX}"), **kw)

    def list(self, all: bool = True) -> builtins.list[ContainerState]:  # noqa: A002 - Docker's parameter name
        out = []
        for cid in self._ids():
            try:
                state = self.inspect(cid)
            except NotFound:
                continue  # removed meanwhile
            if all or state.running:
                out.append(state)
        return sorted(out, key=lambda s: s.created, reverse=True)

    def image_in_use(self, image_id: str) -> bool:
        """For the image store: does any container use ``image_id``?"""
        return any((read_record(self.dir / cid / "config.json") or {}).get("image_id") == image_id
                   for cid in self._ids())

    # --- cgroups -------------------------------------------------------------------------------------------------
    def _cgroup(self, cid: str, spec: ContainerSpec) -> Any:
        return self._cgroups(cid, spec.cgroup_parent or self.cgroup_parent)

    def cgroup(self, ref: str) -> Any:
        """The container's cgroup manager (stats, pids)."""
        state = self.inspect(ref)
        return self._cgroup(state.id, state.spec)

    @staticmethod
    def _procs_files(mgr: Any) -> builtins.list[str]:
        """The ``cgroup.procs`` file of each of the container's cgroup directories (one per hierarchy)."""
        return [str(p / "cgroup.procs") for p in dict.fromkeys(mgr.paths().values())]

    @staticmethod
    def _oom_files(mgr: Any) -> builtins.list[str]:
        """The files that count the container's OOM kills, once its cgroup exists: the memory controller's (v1)
        or the unified hierarchy's (v2, key ""): two lookups in cgroupfs per start, not two per hierarchy."""
        paths = mgr.paths()
        homes = dict.fromkeys(paths[key] for key in ("memory", "") if key in paths)
        return [str(p / name) for p in homes for name in ("memory.events", "memory.oom_control")
                if (p / name).exists()]

    # --- start ---------------------------------------------------------------------------------------------------
    def start(self, ref: str, *, attach: dict[str, bool] | None = None,
              console_size: tuple[int, int] | None = None,
              before_run: Callable[[], None] | None = None, defer_spare: bool = False) -> socket.socket | None:
        """Start the container. With ``attach`` ({"stdin","stdout","stderr"}), return the attached stream
        (raw for a tty, else Docker's multiplexed frames), connected before the process runs.

        ``defer_spare``: the next start's spare monitor is not asked for here (its fork and warm-up would compete
        for the CPUs with this start's reply) but by the caller's ``replenish_spare()`` once the reply is out.

        The monitor is launched first; while it forks the init and the init mounts the rootfs, this thread makes
        the cgroup and calls ``before_run`` (the daemon connects the network there; if it raises, the start is
        called off and that error raised). Only then is the process let run: it never runs without its cgroup or
        network, yet their set-up costs no time of its own."""
        cid = self.resolve(ref)
        trace.mark("svc.start", cid)
        with self._lock(cid):
            state = self.inspect(cid)
            if state.running:
                raise InvalidState(f"container {cid[:12]} is already running")
            spec = state.spec
            d = self.dir / cid
            with contextlib.suppress(FileNotFoundError):
                os.unlink(d / EXIT_RECORD)
            plan = security_plan(spec)
            trace.mark("svc.security_plan", cid)
            mgr = self._cgroup(cid, spec)
            procs_files = self._procs_files(mgr)
            cfg, loaded = self._loaded(cid)  # the spec as config.json holds it: no second dataclasses.asdict
            spec_json = cfg["spec"] if loaded is spec else spec_to_dict(spec)
            request = {"mode": "start", "id": cid, "state_dir": str(d), "spec": spec_json,
                       "security": plan, "cgroup_procs": procs_files, "gated": True,
                       "exit_path": str(d / EXIT_RECORD),
                       "log_path": str(d / f"{cid}{LOG_SUFFIX}"), "socket": str(d / SOCKET_NAME),
                       "attach": attach, "console_size": console_size, "helper": self._helper,
                       "init_helper": self._init_helper}
            conn, child, words = self._forkserver.launch_with_child(request, replenish_later=True)
            try:
                return self._run_launched(cid, d, spec, mgr, procs_files, conn, words, attach, before_run)
            finally:
                if not defer_spare:
                    self._forkserver.replenish()  # the next start's spare is forked once this one is done

    def replenish_spare(self) -> None:
        """Ask for the next start's spare monitor, after a ``start(defer_spare=True)`` (whatever its outcome)."""
        self._forkserver.replenish()
        trace.mark("svc.spare_asked")

    def _run_launched(self, cid: str, d: Path, spec: ContainerSpec, mgr: Any, procs_files: builtins.list[str],
                      conn: socket.socket, words: socket.socket | None, attach: dict[str, bool] | None,
                      before_run: Callable[[], None] | None) -> socket.socket | None:
        """The rest of ``start`` once the monitor has the launch request: cgroup, words, reply, state."""

        def make_cgroup() -> builtins.list[str]:
            mgr.create(device_policy(spec))
            mgr.apply(cgroup_resources(spec))
            return self._oom_files(mgr)

        try:
            reply = converse(conn, words, cid=cid, make_cgroup=make_cgroup, procs_files=procs_files,
                             before_run=before_run, monitors_log=self.dir / MONITORS_LOG)
        except BaseException:
            conn.close()
            mgr.destroy()
            raise
        finally:
            if words is not None:
                words.close()
        if "error" in reply:
            conn.close()
            mgr.destroy()
            raise StartFailed(reply["error"], int(reply.get("exit_code", 1)))
        pid, monitor_pid = reply["pid"], reply["monitor_pid"]
        record = {"status": "running", "pid": pid, "pid_start": reply.get("pid_start") or procs.start_time(pid),
                  "monitor_pid": monitor_pid,
                  "monitor_start": reply.get("monitor_start") or procs.start_time(monitor_pid),
                  "started_at": rfc3339nano(time.time_ns())}
        write_record(d / "state.json", record, durable=False)
        trace.mark("svc.recorded", cid)
        if attach:
            conn.settimeout(None)
            return conn
        conn.close()
        return None

    # --- signals, wait, stop -------------------------------------------------------------------------------------
    def _running(self, ref: str, settled: bool = False) -> tuple[ContainerState, dict[str, Any]]:
        """The running container's state and ``state.json``; ``settled``: once its program runs (a start is
        answered when only the execve is left: ``monitor_client.settled``), for what acts on its processes."""
        state = self.inspect(ref)
        if not state.running:
            raise InvalidState(f"Container {state.id} is not running")
        st = read_record(Path(state.state_dir) / "state.json")
        if settled and state.status == "running" and before_exec(st["pid"]):  # (a frozen one would not get on)
            monitor_client.settled(Path(state.state_dir) / SOCKET_NAME)
            state = self.inspect(ref)
            if not state.running:
                raise InvalidState(f"Container {state.id} is not running")
        return state, st

    def kill(self, ref: str, sig: str | int = "SIGKILL") -> None:
        try:
            num = parse_signal(sig)
        except ValueError as err:
            raise InvalidArgument(str(err)) from err
        state, st = self._running(ref, settled=True)
        try:
            pidfd = linux.pidfd_open(st["pid"])
        except ProcessLookupError:
            return  # exited meanwhile
        try:
            if procs.start_time(st["pid"]) != st["pid_start"]:
                return
            linux.pidfd_send_signal(pidfd, num)
        except ProcessLookupError:
            pass
        finally:
            os.close(pidfd)

    def wait(self, ref: str, timeout: float | None = None) -> int:
        """Block until the container is not running; its exit code. ``InvalidState`` on timeout."""
        state = self.inspect(ref)
        if not state.running:
            return state.exit_code
        if timeout is not None and timeout <= 0:
            raise InvalidState(f"timed out waiting for container {state.id[:12]}")
        try:
            monitor_client.wait_exit(os.path.join(state.state_dir, SOCKET_NAME), timeout)
        except TimeoutError as err:
            raise InvalidState(f"timed out waiting for container {state.id[:12]}") from err
        deadline = time.monotonic() + 5
        while True:  # the monitor drops its socket just before it writes the record: at most a moment apart
            state = self.inspect(ref)
            if not state.running:
                return state.exit_code
            if time.monotonic() > deadline:
                raise InvalidState(f"container {state.id[:12]} is still running but its monitor does not answer")
            time.sleep(0.002)

    def stop(self, ref: str, timeout: int | None = None, signal: str | int | None = None) -> int:
        """Stop signal, ``timeout`` seconds' grace (the spec's by default; -1 waits forever), then SIGKILL."""
        state = self.inspect(ref)
        if not state.running:
            return state.exit_code
        spec = state.spec
        grace = spec.stop_timeout if timeout is None else timeout
        with contextlib.suppress(InvalidState):
            self.kill(state.id, signal or spec.stop_signal)
        if state.status == "paused":
            self.unpause(state.id)
        try:
            return self.wait(state.id, None if grace < 0 else grace)
        except InvalidState:
            with contextlib.suppress(InvalidState):
                self.kill(state.id, "SIGKILL")
            return self.wait(state.id, 60)

    # --- pause ---------------------------------------------------------------------------------------------------
    def _set_status(self, cid: str, status: str) -> None:
        path = self.dir / cid / "state.json"
        st = read_record(path, {})
        st["status"] = status
        write_record(path, st, durable=False)

    def pause(self, ref: str) -> None:
        state, _ = self._running(ref)
        if state.status == "paused":
            raise InvalidState(f"Container {state.id} is already paused")
        self._cgroup(state.id, state.spec).freeze()
        self._set_status(state.id, "paused")

    def unpause(self, ref: str) -> None:
        state, _ = self._running(ref)
        if state.status != "paused":
            raise InvalidState(f"Container {state.id} is not paused")
        self._cgroup(state.id, state.spec).thaw()
        self._set_status(state.id, "running")

    # --- attach ------------------------------------------------------------------------------------------------
    def _socket(self, ref: str) -> str:
        state, _ = self._running(ref)
        path = os.path.join(state.state_dir, SOCKET_NAME)
        if not monitor_client.answers(path):
            raise InvalidState(f"Container {state.id} is not running")
        return path

    def attach(self, ref: str, *, stdin: bool = False, stdout: bool = True, stderr: bool = True) -> socket.socket:
        """A stream of the running container's output from now on (raw for a tty, else Docker's frames); what the
        caller sends goes to its stdin when ``stdin`` (half-close it to close stdin if the spec has stdin_once)."""
        try:
            return monitor_client.attach(self._socket(ref), stdin=stdin, stdout=stdout, stderr=stderr)
        except OSError as err:
            raise InvalidState(f"cannot attach: {err}") from err

    def resize(self, ref: str, height: int, width: int) -> None:
        """Resize a tty container's terminal."""
        if self.inspect(ref).spec.tty:
            monitor_client.resize(self._socket(ref), height, width)

    # --- processes -----------------------------------------------------------------------------------------------
    def top(self, ref: str) -> builtins.list[dict[str, Any]]:
        """Processes in the container's pid namespace: pid (host), ppid, uid, cmd."""
        _state, st = self._running(ref, settled=True)
        return procs.pidns_processes(st["pid"])

    def exec(self, ref: str, spec: ExecSpec, *, attach: bool = True,
             console_size: tuple[int, int] | None = None) -> execs.ExecProcess:
        """Start ``spec`` inside the running container (its namespaces, cgroup, env, user, working dir)."""
        state, st = self._running(ref, settled=True)
        if state.status == "paused":
            raise Conflict(f"Container {state.id} is paused, unpause the container before exec")
        mgr = self._cgroup(state.id, state.spec)
        return execs.launch(self._forkserver, container_id=state.id, state_dir=state.state_dir,
                            container_spec=state.spec, pid=st["pid"], cgroup_procs=self._procs_files(mgr), spec=spec,
                            security=security_plan(state.spec, spec.privileged), helper=self._helper,
                            attach=attach, console_size=console_size)

    def exec_run(self, ref: str, args: builtins.list[str] | tuple[str, ...],
                 **kw: Any) -> tuple[int, bytes, bytes]:
        """Run a command inside the container to completion: (exit code, stdout, stderr)."""
        proc = self.exec(ref, ExecSpec(args=tuple(args), **kw))
        return proc.communicate()

    # --- remove --------------------------------------------------------------------------------------------------
    def remove(self, ref: str, force: bool = False) -> None:
        """Remove the container: kill it first if ``force``; delete its cgroup and its directory."""
        cid = self.resolve(ref)
        with self._lock(cid):
            state = self.inspect(cid)
            if state.running:
                if not force:
                    raise Conflict(f"You cannot remove a running container {cid}. Stop the container before "
                                   "attempting removal or force remove")
                if state.status == "paused":
                    with contextlib.suppress(InvalidState):
                        self.kill(cid, "SIGKILL")
                        self.unpause(cid)
                with contextlib.suppress(InvalidState):
                    self.kill(cid, "SIGKILL")
                self.wait(cid, 60)
            self._cgroup(cid, state.spec).destroy()
            os.rename(self.dir / cid, self._trash / cid)  # gone at once; the files are deleted in the background
            self._configs.pop(cid, None)
            self._cleaner.submit(self._trash / cid)
            with contextlib.suppress(FileNotFoundError):
                if os.readlink(self._names / state.name) == cid:
                    os.unlink(self._names / state.name)
        with self._locks_guard:
            self._locks.pop(cid, None)

    def update_resources(self, ref: str, resources: Resources) -> builtins.list[str]:
        """``docker update``: keep ``resources`` in the container's spec (later starts use them) and apply them
        now if it runs; returns the cgroup manager's warnings."""
        cid = self.resolve(ref)
        with self._lock(cid):
            cfg = self._config(cid)
            spec = dataclasses.replace(spec_from_dict(cfg["spec"]), resources=resources)
            problems = validate(spec)
            if problems:
                raise InvalidArgument("; ".join(problems))
            warnings: builtins.list[str] = []
            if self.inspect(cid).running:
                warnings = list(self._cgroup(cid, spec).apply(cgroup_resources(spec)))
            cfg["spec"] = spec_to_dict(spec)
            self._save_config(cid, cfg)
            return warnings

    def rename(self, ref: str, new_name: str) -> None:
        cid = self.resolve(ref)
        new_name = new_name.lstrip("/")
        if not _NAME_RE.match(new_name):
            raise InvalidArgument(f"Invalid container name ({new_name})")
        cfg = self._config(cid)
        try:
            os.symlink(cid, self._names / new_name)
        except FileExistsError:
            raise Conflict(f'Conflict. The container name "/{new_name}" is already in use') from None
        old = cfg["name"]
        cfg["name"] = new_name
        self._save_config(cid, cfg)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._names / old)

    def close(self) -> None:
        """Stop the fork server and finish deleting removed containers. Running containers carry on."""
        self._forkserver.close()
        self._cleaner.close()

    def __iter__(self) -> Iterator[ContainerState]:
        return iter(self.list())
