"""Named network namespaces: nsfs bind mounts under ``<run_dir>/netns/<id>``.

A namespace is made in a thread created for that one call (``unshare(CLONE_NEWNET)`` moves only the calling
thread), its ``/proc/thread-self/ns/net`` is bind-mounted onto the file that names it, and ``lo`` is brought up.
The thread then exits; the bind mount keeps the namespace alive until :meth:`NetnsStore.delete`.
Work inside a namespace (netlink sockets, sysctls) also runs in a thread of its own: see :func:`run_in_netns`.
"""
from __future__ import annotations

import fcntl
import os
import re
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pyroute2 import IPRoute

from runtime import linux
from runtime.errors import InvalidArgument, NotFound
from runtime.state import claim_mountpoint, remove_record

__all__ = ["NetnsStore", "run_in_netns", "netlink_in", "is_netns_file", "write_sysctl_in"]

T = TypeVar("T")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_NETLINK_ROUTE = 0


def _nsfs_dev() -> int:
    return os.stat("/proc/self/ns/net").st_dev


def is_netns_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a live network-namespace reference (an nsfs bind mount or a /proc ns link)."""
    try:
        return os.stat(path).st_dev == _nsfs_dev()
    except OSError:
        return False


def run_in_netns(path: str | os.PathLike[str], func: Callable[..., T], *args: object) -> T:
    """Run ``func(*args)`` in a fresh thread that has joined the network namespace at ``path``.

    The thread is never reused, so the caller's threads keep their namespace. Exceptions propagate.
    """
    box: dict[str, object] = {}

    def _body() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                linux.setns(fd, linux.CLONE_NEWNET)
            finally:
                os.close(fd)
            box["value"] = func(*args)
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller
            box["error"] = err

    thread = threading.Thread(target=_body, name="pycompose-netns", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def netlink_in(path: str | os.PathLike[str] | None) -> IPRoute:
    """An ``IPRoute`` whose netlink socket lives in the namespace at ``path`` (the host's when ``None``).

    The socket is opened by a thread inside the namespace and stays bound to it, so the returned object can be
    used from any thread without forking.
    """
    if path is None:
        return IPRoute()

    def _open() -> int:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_ROUTE)
        return sock.detach()

    fd = run_in_netns(path, _open)
    try:
        return IPRoute(fileno=fd)
    except BaseException:
        try:
            os.close(fd)
        except OSError:
            pass
        raise


def write_sysctl_in(path: str | os.PathLike[str] | None, key: str, value: str) -> None:
    """Write ``/proc/sys/<key>`` (dots or slashes) as seen from the namespace at ``path``."""
    rel = key.replace(".", "/") if "/" not in key else key

    def _write() -> None:
        # /proc/sys/net resolves to the namespace of the task that opens it: this thread.
        with open(f"/proc/sys/{rel}", "w") as fh:
            fh.write(value)

    if path is None:
        with open(f"/proc/sys/{rel}", "w") as fh:
            fh.write(value)
        return
    run_in_netns(path, _write)


_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_IFREQ = struct.Struct("16sH22x")  # struct ifreq: the name, then ifr_flags in the 24-byte union


def _bring_lo_up() -> None:
    """``lo`` up in the calling thread's netns: two ioctls on a throwaway socket (a pyroute2 ``IPRoute`` took
    1.5-2.5 ms of the create path to set up)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        flags = _IFREQ.unpack(fcntl.ioctl(sock, _SIOCGIFFLAGS, _IFREQ.pack(b"lo", 0)))[1]
        if not flags & _IFF_UP:
            fcntl.ioctl(sock, _SIOCSIFFLAGS, _IFREQ.pack(b"lo", flags | _IFF_UP))


class NetnsStore:
    """Network namespaces named by id, as nsfs bind mounts in ``<run_dir>/netns``."""

    def __init__(self, run_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(run_dir) / "netns"

    def path(self, ns_id: str) -> Path:
        if not _NAME.match(ns_id):
            raise InvalidArgument(f"invalid network namespace name {ns_id!r}")
        return self.dir / ns_id

    def exists(self, ns_id: str) -> bool:
        return is_netns_file(self.path(ns_id))

    def list(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.name for p in self.dir.iterdir() if is_netns_file(p))

    def create(self, ns_id: str) -> Path:
        """Make a new network namespace named ``ns_id`` with ``lo`` up; returns its path. Idempotent."""
        return self.create_then(ns_id, lambda: None)[0]

    def create_then(self, ns_id: str, inside: Callable[[], T]) -> tuple[Path, T | None]:
        """``create``, then ``inside()`` in the same thread, still in the new namespace (the caller's first work in
        there, e.g. sysctls and a netlink socket, needs no thread of its own to enter it). Returns the path and
        what ``inside`` returned; ``None`` for it when the namespace was already there (``inside`` not run). If
        ``inside`` raises, the namespace is removed again and the error raised."""
        target = self.path(ns_id)
        if is_netns_file(target):
            return target, None
        self.dir.mkdir(parents=True, exist_ok=True)
        claim_mountpoint(target, mode=0o444)  # a removed namespace's file when there is one (no new inode)
        box: dict[str, object] = {}

        def _body() -> None:
            try:
                linux.unshare(linux.CLONE_NEWNET)
                linux.mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", str(target), None,
                            linux.MS_BIND)
                _bring_lo_up()
                box["value"] = inside()
            except BaseException as err:  # noqa: BLE001 - re-raised in the caller
                box["error"] = err

        thread = threading.Thread(target=_body, name="pycompose-netns-create", daemon=True)
        thread.start()
        thread.join()
        if "error" in box:
            self._remove_file(target)
            raise box["error"]  # type: ignore[misc]
        return target, box["value"]  # type: ignore[return-value]

    def delete(self, ns_id: str) -> None:
        """Unmount and remove the namespace file. The namespace dies once no process or mount holds it."""
        target = self.path(ns_id)
        if not target.exists():
            raise NotFound(f"network namespace {ns_id} not found")
        self._remove_file(target)

    @staticmethod
    def _remove_file(target: Path) -> None:
        while is_netns_file(target):
            try:
                linux.umount(str(target), linux.MNT_DETACH)
            except OSError:
                break
        if not is_netns_file(target):  # (still mounted: an unmount refused, let the unlink say so as before)
            remove_record(target, recycle=True)  # the file is kept for the next namespace (runtime.state)
            return
        try:
            target.unlink()
        except FileNotFoundError:
            pass
