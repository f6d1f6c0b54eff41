"""RUN: execute a command in a container of our runtime over the current layer stack and hand back its overlay
upper dir (the step's change, whiteouts included) while the container still exists.

Network: the host's network namespace by default (as ``docker build --network host``; a build needs no published
ports or service names), a fresh empty one for ``--network none``. ``RUN --mount``: ``type=cache`` (a directory
kept under the data root, keyed by ``id`` or target, shared by builds), ``type=bind`` (read-only from the context or
another stage), ``type=tmpfs``.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.errors import EngineError, InvalidArgument, InvalidState, Unsupported
from runtime.spec import DEFAULT_NAMESPACES, DEFAULT_PATH, ContainerSpec, Mount

__all__ = ["BUILD_LABEL", "BuildCancelled", "Cancellation", "RunFailed", "RunMount", "parse_run_mount",
           "run_container", "NETWORK_MODES"]

BUILD_LABEL = "com.pycompose.build"  # on every RUN container: leftovers of a crashed build are found by it

NETWORK_MODES = ("default", "host", "none")
_MANAGED = ("etc/hosts", "etc/hostname", "etc/resolv.conf")
_MOUNTPOINTS = ("proc", "sys", "dev")


class RunFailed(Exception):
    def __init__(self, command: str, code: int) -> None:
        self.code = code
        super().__init__(f"The command '{command}' returned a non-zero code: {code}")


class BuildCancelled(InvalidState):
    def __init__(self) -> None:
        super().__init__("the build was cancelled")


class Cancellation:
    """Cancel a build from another thread (its client went away): the RUN container running now is killed, and
    the next step refuses to start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._running: dict[str, Any] = {}  # container id -> its service

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def check(self) -> None:
        if self._cancelled:
            raise BuildCancelled()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            running = list(self._running.items())
        for cid, containers in running:
            with contextlib.suppress(EngineError):
                containers.kill(cid)

    def started(self, containers: Any, cid: str) -> None:
        """After a start: a cancel that came while it started (and could not kill it yet) kills it now."""
        with self._lock:
            cancelled = self._cancelled
        if cancelled:
            with contextlib.suppress(EngineError):
                containers.kill(cid)

    @contextlib.contextmanager
    def running(self, containers: Any, cid: str) -> Iterator[None]:
        with self._lock:
            self._running[cid] = containers
            cancelled = self._cancelled
        try:
            if cancelled:
                raise BuildCancelled()
            yield
        finally:
            with self._lock:
                self._running.pop(cid, None)


@dataclass(frozen=True)
class RunMount:
    type: str
    target: str
    source: str = ""  # bind: path in the context or in ``from``
    id: str = ""
    from_: str = ""
    read_only: bool = False
    size: int = 0
    mode: int | None = None
    uid: int = 0
    gid: int = 0


def parse_run_mount(text: str) -> RunMount:
    """``type=cache,target=/root/.cache,id=x,sharing=shared,mode=0755,uid=0,gid=0``, ``type=bind,source=.,
    target=/src[,from=stage][,rw]``, ``type=tmpfs,target=/tmp[,size=64m]``."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        fields[key] = value.strip() if eq else "true"
    kind = fields.pop("type", "bind")
    target = fields.pop("target", fields.pop("dst", fields.pop("destination", "")))
    if not target:
        raise InvalidArgument(f"--mount={text}: target is required")
    if kind in ("secret", "ssh"):
        raise Unsupported(f"--mount=type={kind} is not supported by this builder")
    if kind not in ("cache", "bind", "tmpfs"):
        raise InvalidArgument(f"--mount={text}: unknown mount type {kind!r}")
    ro = fields.get("readonly", fields.get("ro", "false")).lower() in ("true", "1")
    if kind == "bind":
        ro = fields.get("rw", fields.get("readwrite", "false")).lower() not in ("true", "1")
    try:
        mode = int(fields["mode"], 8) if "mode" in fields else None
        uid, gid = int(fields.get("uid", 0)), int(fields.get("gid", 0))
        size = _size(fields.get("size", "0"))
    except ValueError as err:
        raise InvalidArgument(f"--mount={text}: {err}") from None
    return RunMount(kind, target, fields.get("source", fields.get("src", "")), fields.get("id", ""),
                    fields.get("from", ""), ro, size, mode, uid, gid)


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = text.strip().lower().rstrip("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text or 0)


def cache_mount_dir(cache_root: Path, mount: RunMount) -> Path:
    """The persistent directory of a ``type=cache`` mount."""
    key = hashlib.sha256((mount.id or mount.target).encode()).hexdigest()[:32]
    path = cache_root / key
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, mount.mode if mount.mode is not None else 0o755)
        os.chown(path, mount.uid, mount.gid)
    return path


@contextlib.contextmanager
def run_container(containers: Any, *, layer_dirs: Sequence[str], argv: Sequence[str], env: Sequence[str],
                  workdir: str, user: str, network: str, mounts: Sequence[Mount], shm_size: int,
                  output: Callable[[bytes], None], command_text: str, cgroup_parent: str = "",
                  started: Callable[[str], None] | None = None,
                  extra_hosts: Sequence[tuple[str, str]] = (),
                  cancellation: Cancellation | None = None) -> Iterator[tuple[str, Path]]:
    """Run ``argv`` to completion; yield (container id, its upper dir (cleaned of mount-point stubs) while the
    container exists, remove it afterwards. ``RunFailed`` on a non-zero exit."""
    if network not in NETWORK_MODES:
        raise InvalidArgument(f"network mode {network!r} is not supported by the builder "
                              f"(use one of {', '.join(NETWORK_MODES)})")
    namespaces = DEFAULT_NAMESPACES if network == "none" else tuple(n for n in DEFAULT_NAMESPACES if n != "net")
    if not any(e.startswith("PATH=") for e in env):
        env = [f"PATH={DEFAULT_PATH}", *env]
    spec = ContainerSpec(args=tuple(argv), env=tuple(env), working_dir=workdir or "/", user=user,
                         rootfs=tuple(layer_dirs), namespaces=namespaces, mounts=tuple(mounts),
                         shm_size=shm_size or ContainerSpec().shm_size, cgroup_parent=cgroup_parent,
                         labels={BUILD_LABEL: "true"},
                         hosts="".join(f"{_host_address(addr, network)}\t{name}\n" for name, addr in extra_hosts))
    cid = containers.create(None, spec)
    try:
        if started is not None:
            started(cid)
        guard = cancellation.running(containers, cid) if cancellation is not None else contextlib.nullcontext()
        with guard:
            conn = containers.start(cid, attach={"stdin": False, "stdout": True, "stderr": True})
            if cancellation is not None:
                cancellation.started(containers, cid)
            if conn is not None:
                with conn:
                    _pump(conn, output)
            code = containers.wait(cid)
        if cancellation is not None:
            cancellation.check()
        if code != 0:
            raise RunFailed(command_text, code)
        upper = Path(containers.state_dir(cid)) / "upper"
        _drop_stubs(upper, [m.target for m in mounts])
        yield cid, upper
    finally:
        containers.remove(cid, force=True)


def _host_address(address: str, network: str) -> str:
    """``host-gateway`` is the host itself: loopback when RUN shares the host's network."""
    return "127.0.0.1" if address == "host-gateway" and network != "none" else address


def _pump(conn: socket.socket, output: Callable[[bytes], None]) -> None:
    """Docker's multiplexed frames from the attached stream to ``output`` until the container closes it."""
    buf = b""
    while True:
        data = conn.recv(65536)
        if not data:
            break
        buf += data
        while len(buf) >= 8:
            size = struct.unpack(">I", buf[4:8])[0]
            if len(buf) < 8 + size:
                break
            output(buf[8:8 + size])
            buf = buf[8 + size:]


def _drop_stubs(upper: Path, mount_targets: Sequence[str]) -> None:
    """Remove what the runtime created only to mount over (/etc/hosts, /proc, mount targets) from the change."""
    for rel in _MANAGED:
        path = upper / rel
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink() and path.stat().st_size == 0:
                path.unlink()
    for rel in (*_MOUNTPOINTS, *(t.lstrip("/") for t in mount_targets)):
        path = upper / rel
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink() and not os.listdir(path):
                path.rmdir()
            elif path.is_file() and path.stat().st_size == 0 and rel not in _MOUNTPOINTS:
                path.unlink()
    for rel in ("dev",):  # /dev is a tmpfs: anything left is the runtime's own mount points
        path = upper / rel
        if path.is_dir() and not path.is_symlink():
            for entry in os.listdir(path):
                sub = path / entry
                with contextlib.suppress(OSError):
                    if sub.is_dir() and not os.listdir(sub):
                        sub.rmdir()
            with contextlib.suppress(OSError):
                path.rmdir()
