"""Thin ctypes wrappers over the Linux syscalls the engine needs and Python 3.11 lacks.

Every function raises ``OSError`` with the errno on failure. ``os.unshare``/``os.setns`` (3.12+) are used where
present; otherwise libc via ctypes. Only the standard library is imported here: ``init.py`` may use it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = [
    "CLONE_NEWNS", "CLONE_NEWUTS", "CLONE_NEWIPC", "CLONE_NEWUSER", "CLONE_NEWPID", "CLONE_NEWNET",
    "CLONE_NEWCGROUP", "MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_NOEXEC", "MS_REMOUNT", "MS_BIND", "MS_REC",
    "MS_PRIVATE", "MS_SLAVE", "MS_SHARED", "MS_STRICTATIME", "MS_RELATIME", "MNT_DETACH",
    "unshare", "setns", "mount", "umount", "pivot_root", "sethostname", "setdomainname", "prctl",
    "MS_UNBINDABLE", "MS_NOATIME", "MS_NODIRATIME", "PR_SET_PDEATHSIG",
    "PR_SET_NO_NEW_PRIVS", "PR_SET_CHILD_SUBREAPER", "PR_CAPBSET_DROP", "PR_SET_KEEPCAPS", "PR_CAP_AMBIENT",
    "PR_CAP_AMBIENT_RAISE", "PR_CAP_AMBIENT_CLEAR_ALL", "PR_SET_NAME",
    "pidfd_open", "pidfd_send_signal", "capget", "capset",
    "syncfs", "start_writeback",
    "mount_setattr", "AT_RECURSIVE", "MOUNT_ATTR_RDONLY",
]

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2
MS_UNBINDABLE = 1 << 17
MS_NOATIME = 1024
MS_NODIRATIME = 2048

PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.setdomainname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

_SYS_PIVOT_ROOT = 155  # x86_64
_SYS_CAPGET, _SYS_CAPSET = 125, 126
if os.uname().machine in ("aarch64", "arm64"):
    _SYS_PIVOT_ROOT = 41
    _SYS_CAPGET, _SYS_CAPSET = 90, 91
_SYS_PIDFD_SEND_SIGNAL = 424  # same number on every architecture
_SYS_PIDFD_OPEN = 434
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def _b(value: str | bytes | None) -> bytes | None:
    if value is None:
        return None
    return value if isinstance(value, bytes) else os.fsencode(value)


def unshare(flags: int) -> None:
    if hasattr(os, "unshare"):
        os.unshare(flags)
        return
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    if hasattr(os, "setns"):
        os.setns(fd, nstype)
        return
    _check(_libc.setns(fd, nstype), "setns")


def mount(source: str | bytes | None, target: str | bytes, fstype: str | bytes | None = None,
          flags: int = 0, data: str | bytes | None = None) -> None:
    ret = _libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data))
    _check(ret, f"mount {target!r}")


def umount(target: str | bytes, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), flags), f"umount {target!r}")


def pivot_root(new_root: str | bytes, put_old: str | bytes) -> None:
    _check(_libc.syscall(_SYS_PIVOT_ROOT, _b(new_root), _b(put_old)), "pivot_root")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), "sethostname")


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_libc.setdomainname(raw, len(raw)), "setdomainname")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


def syncfs(fd: int) -> None:
    """Write back everything dirty on the file system holding ``fd`` (``os.syncfs`` is not in Python 3.11)."""
    _check(_libc.syncfs(ctypes.c_int(fd)), "syncfs")


def start_writeback(fd: int, offset: int = 0, nbytes: int = 0) -> None:
    """Start writing back ``fd``'s dirty pages in the range (0 bytes: to the end) without waiting for it or dropping
    them (``sync_file_range(SYNC_FILE_RANGE_WRITE)``), so a later fsync or syncfs finds little left to do."""
    _check(_libc.sync_file_range(ctypes.c_int(fd), ctypes.c_longlong(offset), ctypes.c_longlong(nbytes),
                                 ctypes.c_uint(2)), "sync_file_range")


def pidfd_open(pid: int) -> int:
    """A pidfd for ``pid`` (``os.pidfd_open`` where the platform has it)."""
    if hasattr(os, "pidfd_open"):
        return os.pidfd_open(pid)
    return _check(_libc.syscall(_SYS_PIDFD_OPEN, ctypes.c_int(pid), ctypes.c_uint(0)), "pidfd_open")


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    """Signal the process behind ``pidfd``; immune to pid reuse."""
    if hasattr(os, "pidfd_send_signal"):  # pragma: no cover - not in CPython today, kept for the future
        os.pidfd_send_signal(pidfd, sig)
        return
    _check(_libc.syscall(_SYS_PIDFD_SEND_SIGNAL, ctypes.c_int(pidfd), ctypes.c_int(sig), None, ctypes.c_uint(0)),
           "pidfd_send_signal")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) capability masks of ``pid`` (0: this thread)."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (_CapData * 2)()
    _check(_libc.syscall(_SYS_CAPGET, ctypes.byref(hdr), ctypes.byref(data)), "capget")
    def join(name: str) -> int:
        return getattr(data[0], name) | (getattr(data[1], name) << 32)
    return join("effective"), join("permitted"), join("inheritable")


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's effective, permitted and inheritable capability masks (64-bit each)."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in (0, 1):
        data[i].effective = (effective >> (32 * i)) & 0xFFFFFFFF
        data[i].permitted = (permitted >> (32 * i)) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> (32 * i)) & 0xFFFFFFFF
    _check(_libc.syscall(_SYS_CAPSET, ctypes.byref(hdr), ctypes.byref(data)), "capset")


AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
_SYS_MOUNT_SETATTR = 442  # same number on every architecture (Linux 5.12+)


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]


def mount_setattr(path: str | bytes, attr_set: int, attr_clr: int = 0, flags: int = 0, dfd: int = -100) -> None:
    """mount_setattr(2): set/clear ``MOUNT_ATTR_*`` on the mount at ``path`` (with ``AT_RECURSIVE`` in ``flags``:
    on every mount below it too, atomically). ``OSError`` (ENOSYS before Linux 5.12)."""
    attr = _MountAttr(attr_set, attr_clr, 0, 0)
    _check(_libc.syscall(ctypes.c_long(_SYS_MOUNT_SETATTR), ctypes.c_int(dfd), _b(path), ctypes.c_uint(flags),
                         ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr))), "mount_setattr")
