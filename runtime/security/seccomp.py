"""Seccomp profiles in Docker's JSON format: our default profile, user profiles, ``unconfined``.

Parent side: ``load_profile`` reads a profile (``default``, ``unconfined``, JSON text, a dict or a file path) and
``compile_profile`` turns it into a classic BPF program for the container's final capability set, through libseccomp
(cached per profile and capability set). Child side: ``install_filter(bpf)`` installs that program in the calling
thread with a bare ``prctl`` - no libseccomp, no JSON, no imports beyond the standard library.

Installing a filter needs either ``no_new_privs`` or CAP_SYS_ADMIN in the effective set: without no_new_privs,
install it before dropping capabilities (the default profile allows the capset/setuid/execve that follow).
"""
from __future__ import annotations

import ctypes
import functools
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runtime import linux

__all__ = [
    "UNCONFINED", "DEFAULT", "default_profile", "load_profile", "compile_profile", "install_filter",
    "go_arch", "FILTER_FLAGS", "profile_flags",
]

UNCONFINED = "unconfined"
DEFAULT = "default"
_DEFAULT_FILE = Path(__file__).with_name("seccomp_default.json")
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_EPERM = 1
_SECCOMP_SET_MODE_FILTER = 1
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277, "s390x": 348, "ppc64le": 358, "riscv64": 277}
# Docker profile "flags" -> SECCOMP_FILTER_FLAG_* (linux/seccomp.h); TSYNC is meaningless for one thread.
FILTER_FLAGS = {"SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4}
_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "i686": "386",
            "i386": "386", "s390x": "s390x", "ppc64le": "ppc64le", "riscv64": "riscv64", "mips64": "mips64"}


# -- child side ----------------------------------------------------------------------------------------------------

class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(bpf: bytes, flags: int = 0) -> None:
    """Install a compiled BPF program (from ``compile_profile``) in this thread, with ``SECCOMP_FILTER_FLAG_*``
    ``flags`` (``profile_flags``). Raises ``OSError`` on refusal."""
    if not bpf or len(bpf) % 8:
        raise ValueError(f"not a BPF program: {len(bpf)} bytes")
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.addressof(buf))
    if not flags:
        linux.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog))
        return
    nr = _SYS_SECCOMP.get(os.uname().machine)
    if nr is None:
        raise OSError(38, f"seccomp filter flags: unknown seccomp syscall number on {os.uname().machine}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ret = libc.syscall(ctypes.c_long(nr), ctypes.c_uint(_SECCOMP_SET_MODE_FILTER), ctypes.c_uint(flags),
                       ctypes.c_void_p(ctypes.addressof(prog)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp(SET_MODE_FILTER, {flags:#x}): {os.strerror(err)}")


# -- parent side ---------------------------------------------------------------------------------------------------

def go_arch(machine: str | None = None) -> str:
    """The architecture name Docker profiles use in ``includes.arches`` (Go's GOARCH) for this machine."""
    machine = machine or os.uname().machine
    return _GO_ARCH.get(machine, machine)


@functools.cache
def _default_text() -> str:
    return _DEFAULT_FILE.read_text(encoding="utf-8")


def default_profile() -> dict[str, Any]:
    """Our default profile (equivalent in effect to Docker's), as a fresh dict."""
    profile: dict[str, Any] = json.loads(_default_text())
    return profile


def load_profile(value: str | os.PathLike[str] | dict[str, Any] | None) -> dict[str, Any] | None:
    """``None``/``"default"`` -> the default profile; ``"unconfined"`` -> ``None`` (no filter); a dict or JSON
    text -> that profile; anything else is a path to a JSON file. Raises ``InvalidArgument`` on a bad profile."""
    from runtime.errors import InvalidArgument

    if value is None or value == DEFAULT or value == "":
        return default_profile()
    if value == UNCONFINED:
        return None
    if isinstance(value, dict):
        profile = value
    else:
        text = str(value) if not isinstance(value, os.PathLike) else None
        if text is None or not text.lstrip().startswith("{"):
            try:
                text = Path(value).read_text(encoding="utf-8")
            except OSError as err:
                raise InvalidArgument(f"opening seccomp profile ({value}) failed: {err.strerror}") from err
        try:
            profile = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidArgument(f"decoding seccomp profile failed: {err}") from err
    _check_profile(profile)
    return profile


def _check_profile(profile: Any) -> None:
    from runtime.errors import InvalidArgument

    if not isinstance(profile, dict):
        raise InvalidArgument("seccomp profile: want a JSON object")
    if "defaultAction" not in profile:
        raise InvalidArgument("seccomp profile: defaultAction is missing")
    _action(profile["defaultAction"], profile.get("defaultErrnoRet"))
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidArgument("seccomp profile: use either 'architectures' or 'archMap', not both")
    flags = profile.get("flags") or []
    if not isinstance(flags, list) or any(not isinstance(f, str) or f not in FILTER_FLAGS for f in flags):
        raise InvalidArgument(f"seccomp profile: flags must be a list of {', '.join(FILTER_FLAGS)}")
    arch_map = profile.get("archMap") or []
    architectures = profile.get("architectures") or []
    if not isinstance(arch_map, list) or not all(
            isinstance(e, dict) and isinstance(e.get("architecture"), str)
            and isinstance(e.get("subArchitectures") or [], list)
            and all(isinstance(a, str) for a in e.get("subArchitectures") or []) for e in arch_map):
        raise InvalidArgument("seccomp profile: archMap must be a list of {architecture, subArchitectures: [...]}")
    if not isinstance(architectures, list) or not all(isinstance(a, str) for a in architectures):
        raise InvalidArgument("seccomp profile: architectures must be a list of architecture names")
    calls = profile.get("syscalls")
    calls = [] if calls is None else calls
    if not isinstance(calls, list):
        raise InvalidArgument("seccomp profile: syscalls must be a list")
    for i, call in enumerate(calls):
        where = f"syscalls[{i}]"
        if not isinstance(call, dict):
            raise InvalidArgument(f"seccomp profile: {where} is not an object")
        if call.get("name") and call.get("names"):
            raise InvalidArgument(f"seccomp profile: {where}: use either 'name' or 'names', not both")
        names = call.get("names") or ([call["name"]] if call.get("name") else [])
        if not names:
            raise InvalidArgument(f"seccomp profile: {where} names no syscall")
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise InvalidArgument(f"seccomp profile: {where}.names must be a list of syscall names")
        _action(call.get("action", ""), call.get("errnoRet"), where)
        for key in ("includes", "excludes"):
            cond = call.get(key) or {}
            if not isinstance(cond, dict) or any(
                    not isinstance(cond.get(k) or [], list) for k in ("caps", "arches")) \
                    or not isinstance(cond.get("minKernel") or "", str):
                raise InvalidArgument(f"seccomp profile: {where}.{key}: want {{caps: [...], arches: [...], "
                                      "minKernel: \"x.y\"}")
        for j, arg in enumerate(call.get("args") or ()):
            if not isinstance(arg, dict) or arg.get("op") not in _cmp_ops():
                op = arg.get("op") if isinstance(arg, dict) else arg
                raise InvalidArgument(f"seccomp profile: {where}.args[{j}]: unknown comparison {op!r}")
            for key in ("index", "value", "valueTwo"):
                if not isinstance(arg.get(key, 0), int) or isinstance(arg.get(key, 0), bool):
                    raise InvalidArgument(f"seccomp profile: {where}.args[{j}].{key} must be an integer")
            if not (0 <= arg.get("value", 0) < 2**64 and 0 <= arg.get("valueTwo", 0) < 2**64):
                raise InvalidArgument(f"seccomp profile: {where}.args[{j}]: values must fit in 64 bits unsigned")
            if not 0 <= arg.get("index", -1) <= 5:
                raise InvalidArgument(f"seccomp profile: {where}.args[{j}]: index must be 0-5")


def profile_flags(profile: dict[str, Any]) -> int:
    """The profile's ``flags`` as a ``SECCOMP_FILTER_FLAG_*`` mask (TSYNC dropped: the child has one thread)."""
    mask = 0
    for name in profile.get("flags") or ():
        mask |= FILTER_FLAGS[name]
    return mask & ~FILTER_FLAGS["SECCOMP_FILTER_FLAG_TSYNC"]


def _cmp_ops() -> dict[str, int]:
    from runtime.security.libseccomp import CMP_OPS
    return CMP_OPS


def _action(name: str, errno_ret: int | None, where: str = "defaultAction") -> int:
    from runtime.errors import InvalidArgument
    from runtime.security import libseccomp as ls

    simple = {
        "SCMP_ACT_KILL": ls.ACT_KILL_THREAD, "SCMP_ACT_KILL_THREAD": ls.ACT_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": ls.ACT_KILL_PROCESS, "SCMP_ACT_TRAP": ls.ACT_TRAP, "SCMP_ACT_LOG": ls.ACT_LOG,
        "SCMP_ACT_ALLOW": ls.ACT_ALLOW,
    }
    if not isinstance(name, str):
        raise InvalidArgument(f"seccomp profile: {where}: the action must be a string, not {name!r}")
    if name in simple:
        return simple[name]
    if errno_ret is not None and (not isinstance(errno_ret, int) or isinstance(errno_ret, bool)
                                  or not 0 <= errno_ret <= 0xFFFF):
        raise InvalidArgument(f"seccomp profile: {where}: errnoRet must be an errno number, not {errno_ret!r}")
    if name == "SCMP_ACT_ERRNO":
        return ls.act_errno(_EPERM if errno_ret is None else int(errno_ret))
    if name == "SCMP_ACT_TRACE":
        return ls.act_trace(_EPERM if errno_ret is None else int(errno_ret))
    if name == "SCMP_ACT_NOTIFY":
        raise InvalidArgument(f"seccomp profile: {where}: SCMP_ACT_NOTIFY is not supported")
    raise InvalidArgument(f"seccomp profile: {where}: unknown action {name!r}")


def compile_profile(profile: dict[str, Any], capabilities: Iterable[str], machine: str | None = None) -> bytes:
    """The BPF program for ``profile`` given the container's capabilities (names, e.g. ``CAP_SYS_ADMIN``)."""
    from runtime.errors import InvalidArgument

    caps = frozenset(c.upper() if c.upper().startswith("CAP_") else "CAP_" + c.upper() for c in capabilities)
    try:
        return _compile(json.dumps(profile, sort_keys=True), caps, machine or os.uname().machine)
    except OSError as err:
        raise InvalidArgument(f"seccomp profile: libseccomp refused it: {err.strerror}") from err


@functools.lru_cache(maxsize=32)
def _compile(profile_json: str, caps: frozenset[str], machine: str) -> bytes:
    from runtime.security import libseccomp as ls

    profile = json.loads(profile_json)
    default_errno = profile.get("defaultErrnoRet")
    default = _action(profile["defaultAction"], default_errno)
    arch = go_arch(machine)
    kernel = _kernel_version()
    with ls.Filter(default) as flt:
        flt.prefer_binary_tree()  # older libseccomp: a linear filter, same effect
        for name in _arches(profile):
            token = ls.resolve_arch(name)
            if token:
                flt.add_arch(token)
        for call in profile.get("syscalls") or ():
            if not _applies(call, caps, arch, kernel):
                continue
            action = _action(call["action"], call.get("errnoRet"))
            if action == default:
                continue  # libseccomp refuses a rule that repeats the default action
            names = call.get("names") or [call["name"]]
            for name in names:
                nr = ls.resolve_syscall(name)
                if nr is None:
                    continue  # a syscall this libseccomp (or arch) does not know: as Docker, skip it
                for conds in _condition_sets(call.get("args") or ()):
                    flt.add_rule(action, nr, conds)
        return flt.export()


def _arches(profile: dict[str, Any]) -> list[str]:
    """Native arch plus the sub-architectures the profile maps to it (``archMap``) or lists (``architectures``)."""
    from runtime.security import libseccomp as ls

    native = ls.native_arch()
    if profile.get("archMap"):
        for entry in profile["archMap"]:
            if ls.resolve_arch(entry["architecture"]) == native:
                return [entry["architecture"], *(entry.get("subArchitectures") or ())]
        return []
    return list(profile.get("architectures") or ())


def _applies(call: dict[str, Any], caps: frozenset[str], arch: str, kernel: tuple[int, ...]) -> bool:
    inc = call.get("includes") or {}
    exc = call.get("excludes") or {}
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if inc.get("caps") and not all(c in caps for c in inc["caps"]):
        return False
    if inc.get("minKernel") and kernel < _parse_version(inc["minKernel"]):
        return False
    if exc.get("arches") and arch in exc["arches"]:
        return False
    if exc.get("caps") and any(c in caps for c in exc["caps"]):
        return False
    return True


def _condition_sets(args: Iterable[dict[str, Any]]) -> list[list[tuple[int, int, int, int]]]:
    """libseccomp cannot AND two conditions on one argument: then, as runc does, each becomes its own rule."""
    ops = _cmp_ops()
    conds = [(int(a["index"]), ops[a["op"]], int(a.get("value", 0)), int(a.get("valueTwo", 0))) for a in args]
    indexes = [c[0] for c in conds]
    if len(indexes) != len(set(indexes)):
        return [[c] for c in conds]
    return [conds]


def _parse_version(text: str) -> tuple[int, ...]:
    out = []
    for part in text.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def _kernel_version() -> tuple[int, ...]:
    return _parse_version(os.uname().release.split("-")[0])
