"""Device access control: which device nodes a container may create (``m``), read (``r``) and write (``w``).

Without it a container holding CAP_MKNOD (a Docker default) could ``mknod`` the host's disk and open it. Docker's
default policy: deny everything, then allow mknod of any node and use of the few harmless devices (null, zero,
full, random, urandom, tty, console, ptmx, ptys, tun). cgroup v1 writes ``devices.deny``/``devices.allow``;
cgroup v2 has no device files: a small eBPF program (type ``CGROUP_DEVICE``) attached to the cgroup decides, built
here instruction by instruction and loaded with the ``bpf`` syscall.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import stat as _stat
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import InvalidArgument, Unsupported

__all__ = ["DeviceRule", "DEFAULT_DEVICES", "ALLOW_ALL", "parse_rule", "v1_lines", "build_program",
           "attach_program", "device_rule_for", "device_policy"]


@dataclass(frozen=True)
class DeviceRule:
    """``type``: ``a`` (all), ``c`` or ``b``; ``major``/``minor`` -1 = any; ``access`` a subset of ``rwm``."""

    type: str = "a"
    major: int = -1
    minor: int = -1
    access: str = "rwm"
    allow: bool = True

    def __post_init__(self) -> None:
        if self.type not in ("a", "c", "b"):
            raise InvalidArgument(f"device rule: type must be a, c or b, not {self.type!r}")
        if not self.access or set(self.access) - set("rwm"):
            raise InvalidArgument(f"device rule: access must be a subset of 'rwm', not {self.access!r}")

    def v1(self) -> str:
        """The line for ``devices.allow``/``devices.deny``: ``c 1:3 rwm``."""
        if self.type == "a":
            return "a"
        return f"{self.type} {_num(self.major)}:{_num(self.minor)} {self.access}"


def _num(n: int) -> str:
    return "*" if n < 0 else str(n)


def parse_rule(text: str, allow: bool = True) -> DeviceRule:
    """``c 1:3 rwm`` / ``b *:* m`` / ``a`` (Docker's ``device_cgroup_rules`` syntax)."""
    parts = text.split()
    if not parts or parts[0] not in ("a", "b", "c"):
        raise InvalidArgument(f"invalid device cgroup rule {text!r}: want 'c|b|a major:minor access'")
    if parts[0] == "a":
        return DeviceRule("a", -1, -1, parts[2] if len(parts) > 2 else "rwm", allow)
    if len(parts) != 3 or ":" not in parts[1]:
        raise InvalidArgument(f"invalid device cgroup rule {text!r}: want 'c|b|a major:minor access'")
    major_s, minor_s = parts[1].split(":", 1)
    try:
        major = -1 if major_s == "*" else int(major_s)
        minor = -1 if minor_s == "*" else int(minor_s)
    except ValueError as err:
        raise InvalidArgument(f"invalid device cgroup rule {text!r}: bad major:minor") from err
    return DeviceRule(parts[0], major, minor, parts[2], allow)


def device_rule_for(path: str, access: str = "rwm") -> DeviceRule:
    """An allow rule for the device node at ``path`` (what ``devices: [/dev/x]`` needs)."""
    try:
        st = os.stat(path)
    except OSError as err:
        raise InvalidArgument(f"error gathering device information while adding custom device {path!r}: "
                              f"{err.strerror}") from err
    if _stat.S_ISCHR(st.st_mode):
        kind = "c"
    elif _stat.S_ISBLK(st.st_mode):
        kind = "b"
    else:
        raise InvalidArgument(f"{path} is not a device node")
    return DeviceRule(kind, os.major(st.st_rdev), os.minor(st.st_rdev), access)


# Docker's default (moby oci defaults + the devices the container's /dev holds).
DEFAULT_DEVICES: tuple[DeviceRule, ...] = (
    DeviceRule("c", -1, -1, "m"), DeviceRule("b", -1, -1, "m"),
    DeviceRule("c", 1, 3, "rwm"), DeviceRule("c", 1, 5, "rwm"), DeviceRule("c", 1, 7, "rwm"),
    DeviceRule("c", 1, 8, "rwm"), DeviceRule("c", 1, 9, "rwm"), DeviceRule("c", 5, 0, "rwm"),
    DeviceRule("c", 5, 1, "rwm"), DeviceRule("c", 5, 2, "rwm"), DeviceRule("c", 136, -1, "rwm"),
    DeviceRule("c", 10, 200, "rwm"),
)
ALLOW_ALL: tuple[DeviceRule, ...] = (DeviceRule("a", -1, -1, "rwm"),)


def device_policy(privileged: bool = False, devices: Iterable[tuple[str, str]] = (),
                  cgroup_rules: Iterable[str] = ()) -> tuple[DeviceRule, ...]:
    """The rules for a container: everything when privileged, else Docker's defaults plus each mapped host device
    (``devices``: (host path, permissions like ``rwm``)) and each ``device_cgroup_rules`` line."""
    if privileged:
        return ALLOW_ALL
    rules = list(DEFAULT_DEVICES)
    for path, perms in devices:
        rules.append(device_rule_for(path, perms or "rwm"))
    rules.extend(parse_rule(line) for line in cgroup_rules)
    return tuple(rules)


def v1_lines(rules: Sequence[DeviceRule]) -> list[tuple[str, str]]:
    """(file, line) writes for v1: deny everything first, then the allow rules (and explicit denies) in order."""
    out: list[tuple[str, str]] = [("devices.deny", "a")]
    for rule in rules:
        out.append(("devices.allow" if rule.allow else "devices.deny", rule.v1()))
    return out


# -- cgroup v2: an eBPF device program -------------------------------------------------------------------------------

_BPF_PROG_TYPE_CGROUP_DEVICE = 15
_BPF_CGROUP_DEVICE = 6
_BPF_PROG_LOAD = 5
_BPF_PROG_ATTACH = 8
_BPF_F_ALLOW_MULTI = 2
_SYS_BPF = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "s390x": 351, "ppc64le": 361, "riscv64": 280}
_DEV_BLOCK, _DEV_CHAR = 1, 2
_ACC = {"m": 1, "r": 2, "w": 4}

# opcodes
_LDXW = 0x61      # dst = *(u32 *)(src + off)
_AND_K = 0x57     # dst &= imm
_RSH_K = 0x77     # dst >>= imm
_MOV_X = 0xBF     # dst = src
_MOV_K = 0xB7     # dst = imm
_JNE_K = 0x55     # if dst != imm: pc += off
_EXIT = 0x95


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def build_program(rules: Sequence[DeviceRule]) -> bytes:
    """The CGROUP_DEVICE program: the last matching rule wins (as v1 semantics after ``deny a``), default deny."""
    head = [
        _insn(_LDXW, 2, 1, 0),          # r2 = ctx->access_type
        _insn(_AND_K, 2, 0, 0, 0xFFFF),  # r2 = device type
        _insn(_LDXW, 3, 1, 0),
        _insn(_RSH_K, 3, 0, 0, 16),      # r3 = requested access
        _insn(_LDXW, 4, 1, 4),          # r4 = major
        _insn(_LDXW, 5, 1, 8),          # r5 = minor
    ]
    blocks: list[list[bytes]] = []
    for rule in reversed(rules):  # first block checked = last rule given: the last match decides
        checks: list[tuple[int, int]] = []  # (register, value) that must be equal, else skip the block
        block: list[bytes] = []
        if rule.type != "a":
            checks.append((2, _DEV_CHAR if rule.type == "c" else _DEV_BLOCK))
        if rule.major >= 0:
            checks.append((4, rule.major))
        if rule.minor >= 0:
            checks.append((5, rule.minor))
        acc = sum(_ACC[a] for a in set(rule.access))
        tail_len = 2  # mov r0, exit
        acc_len = 3 if acc != 7 else 0
        remaining = len(checks) + acc_len + tail_len
        for reg, value in checks:
            remaining -= 1
            block.append(_insn(_JNE_K, reg, 0, remaining, value))
        if acc != 7:
            block.append(_insn(_MOV_X, 1, 3))                    # r1 = requested access
            block.append(_insn(_AND_K, 1, 0, 0, ~acc & 0xFFFF))  # bits not granted by this rule
            block.append(_insn(_JNE_K, 1, 0, tail_len, 0))       # any left: rule does not match
        block.append(_insn(_MOV_K, 0, 0, 0, 1 if rule.allow else 0))
        block.append(_insn(_EXIT))
        blocks.append(block)
        if not checks and acc == 7:
            break  # matches everything: earlier rules (and the default) are unreachable, the verifier refuses them
    else:
        blocks.append([_insn(_MOV_K, 0, 0, 0, 0), _insn(_EXIT)])  # no rule matched: deny
    tail: list[bytes] = []
    return b"".join(head + [i for b in blocks for i in b] + tail)


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    nr = _SYS_BPF.get(os.uname().machine)
    if nr is None:
        raise Unsupported(f"device filtering on cgroup v2: unknown bpf syscall number for {os.uname().machine}")
    ret = _libc.syscall(ctypes.c_long(nr), ctypes.c_int(cmd), attr, ctypes.c_uint(len(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf({cmd}): {os.strerror(err)}")
    return int(ret)


def attach_program(cgroup_dir: Path, rules: Iterable[DeviceRule]) -> None:
    """Load the device program for ``rules`` and attach it to the cgroup v2 directory ``cgroup_dir``."""
    code = build_program(list(rules))
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b"Apache-2.0")
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQQIIQ", attr, 0, _BPF_PROG_TYPE_CGROUP_DEVICE, len(code) // 8,
                     ctypes.addressof(insns), ctypes.addressof(license_), 1, len(log), ctypes.addressof(log))
    struct.pack_into("16s", attr, 48, b"pycompose_dev")
    struct.pack_into("<I", attr, 68, _BPF_CGROUP_DEVICE)  # expected_attach_type
    try:
        prog = _bpf(_BPF_PROG_LOAD, attr)
    except OSError as err:
        detail = log.value.decode(errors="replace").strip().splitlines()[-3:]
        raise OSError(err.errno, f"loading the device filter failed: {err.strerror}; {' / '.join(detail)}") from err
    try:
        dirfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            attach = ctypes.create_string_buffer(128)
            struct.pack_into("<IIII", attach, 0, dirfd, prog, _BPF_CGROUP_DEVICE, _BPF_F_ALLOW_MULTI)
            _bpf(_BPF_PROG_ATTACH, attach)
        finally:
            os.close(dirfd)
    finally:
        os.close(prog)  # the cgroup keeps the program alive while attached
