"""A thin ctypes binding to libseccomp (Debian's ``libseccomp2``): build a filter, export it as classic BPF.

Parent side only: the container's child installs the exported program itself (``seccomp.install_filter``), so it
never loads this library. Loaded lazily on first use.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

from runtime.errors import Unsupported

__all__ = [
    "ACT_KILL_THREAD", "ACT_KILL_PROCESS", "ACT_TRAP", "ACT_LOG", "ACT_ALLOW", "act_errno", "act_trace",
    "CMP_OPS", "Filter", "resolve_arch", "native_arch", "resolve_syscall", "library_version",
]

ACT_KILL_THREAD = 0x00000000
ACT_KILL_PROCESS = 0x80000000
ACT_TRAP = 0x00030000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000
_NR_SCMP_ERROR = -1
_SCMP_FLTATR_CTL_OPTIMIZE = 8  # enum scmp_filter_attr, libseccomp >= 2.5

# enum scmp_compare
CMP_OPS = {
    "SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}


def act_errno(err: int) -> int:
    return 0x00050000 | (err & 0xFFFF)


def act_trace(msg: int) -> int:
    return 0x7FF00000 | (msg & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


@functools.cache
def _lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as err:
        raise Unsupported("libseccomp is not installed (Debian: apt-get install libseccomp2): "
                          "cannot apply a seccomp profile; use seccomp=unconfined to run without one") from err
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.restype = None
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_arch_native.argtypes = []
    lib.seccomp_arch_native.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_version.argtypes = []
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    return lib


def library_version() -> tuple[int, int, int]:
    v = _lib().seccomp_version().contents
    return v.major, v.minor, v.micro


def resolve_arch(name: str) -> int:
    """``SCMP_ARCH_X86_64`` or ``x86_64`` -> libseccomp's arch token; 0 when libseccomp does not know it."""
    short = name.removeprefix("SCMP_ARCH_").lower()
    return int(_lib().seccomp_arch_resolve_name(short.encode()))


def native_arch() -> int:
    return int(_lib().seccomp_arch_native())


def resolve_syscall(name: str) -> int | None:
    """The syscall number (a negative pseudo-number for calls absent on the native arch); ``None`` if unknown."""
    nr = _lib().seccomp_syscall_resolve_name(name.encode())
    return None if nr == _NR_SCMP_ERROR else int(nr)


class Filter:
    """One libseccomp filter context; ``export()`` returns the compiled BPF program as bytes."""

    def __init__(self, default_action: int) -> None:
        self._ctx = _lib().seccomp_init(default_action)
        if not self._ctx:
            raise OSError(ctypes.get_errno(), "seccomp_init failed (bad default action?)")

    def close(self) -> None:
        if self._ctx:
            _lib().seccomp_release(self._ctx)
            self._ctx = None

    def __enter__(self) -> Filter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def prefer_binary_tree(self) -> bool:
        """Sort syscalls into a binary search tree (libseccomp >= 2.5): the kernel checks and caches such a
        filter in about half the time of a linear one, and each syscall passes fewer instructions."""
        return bool(_lib().seccomp_attr_set(self._ctx, _SCMP_FLTATR_CTL_OPTIMIZE, 2) == 0)

    def add_arch(self, token: int) -> None:
        ret = _lib().seccomp_arch_add(self._ctx, token)
        if ret < 0 and -ret != 17:  # EEXIST: the native arch is always there
            raise OSError(-ret, f"seccomp_arch_add({token:#x}): {os.strerror(-ret)}")

    def add_rule(self, action: int, syscall: int, conditions: list[tuple[int, int, int, int]]) -> None:
        """``conditions``: (arg index, op, datum_a, datum_b); ANDed together."""
        arr = (_ArgCmp * max(1, len(conditions)))()
        for i, (idx, op, a, b) in enumerate(conditions):
            arr[i] = _ArgCmp(idx, op, a & 0xFFFFFFFFFFFFFFFF, b & 0xFFFFFFFFFFFFFFFF)
        ret = _lib().seccomp_rule_add_array(self._ctx, action, syscall, len(conditions), arr)
        if ret < 0:
            raise OSError(-ret, f"seccomp_rule_add(syscall {syscall}): {os.strerror(-ret)}")

    def export(self) -> bytes:
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            ret = _lib().seccomp_export_bpf(self._ctx, fd)
            if ret < 0:
                raise OSError(-ret, f"seccomp_export_bpf: {os.strerror(-ret)}")
            size = os.lseek(fd, 0, os.SEEK_END)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)
