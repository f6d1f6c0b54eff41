"""The container spec: everything the engine needs to run one container, as frozen dataclasses.

The daemon translates an Engine API body into a ``ContainerSpec``; the container service stores it as JSON
(``spec_to_dict``/``spec_from_dict``) and the child side (``init.py``) reads it back. ``validate(spec)`` runs a list
of small check functions and returns every problem found (an empty list means valid). Only the standard library and
``runtime.resources`` (the cgroup limits, ``Resources``) are imported: the container's init process reads this module.
"""
from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.resources import Resources, resource_problems

__all__ = [
    "NAMESPACES", "DEFAULT_NAMESPACES", "DEFAULT_MASKED_PATHS", "DEFAULT_READONLY_PATHS", "DEFAULT_SHM_SIZE",
    "DEFAULT_PATH", "Mount", "Device", "Ulimit", "Resources", "LogConfig", "ContainerSpec", "ExecSpec",
    "validate", "CHECKS", "spec_to_dict", "spec_from_dict", "exec_to_dict", "exec_from_dict", "parse_signal",
]

NAMESPACES = ("pid", "mount", "uts", "ipc", "net", "cgroup")
DEFAULT_NAMESPACES = NAMESPACES
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Docker's defaults (moby oci/defaults.go).
DEFAULT_MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

_MOUNT_TYPES = ("bind", "volume", "tmpfs", "image")
_PROPAGATIONS = ("", "private", "rprivate", "shared", "rshared", "slave", "rslave")
_ULIMITS = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
            "rtprio", "rttime", "sigpending", "stack", "as")
# Sysctls that live in a namespace the container owns (Docker's list: ipc and net).
_IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                "kernel.shmmni", "kernel.shm_rmid_forced")


@dataclass(frozen=True)
class Mount:
    """One mount in the container. ``source`` is a host path for ``bind`` and ``volume`` (the volume's dir)."""

    type: str
    target: str
    source: str = ""
    read_only: bool = False
    propagation: str = ""  # "" = rprivate for binds
    recursive: bool = True
    # nosuid, nodev, noexec, nocopy (volume: do not copy image data in); for read-only binds "rro" (submounts
    # read-only too, an error where the kernel cannot) or "norro" (the top mount only); neither: rro where possible
    options: tuple[str, ...] = ()
    tmpfs_size: int = 0  # bytes; 0 = kernel default (half of RAM)
    tmpfs_mode: int = 0o1777
    subpath: str = ""  # image: mount only this directory of the image (``source`` = its layer dirs, top first, ":")


@dataclass(frozen=True)
class Device:
    """A host device node made available in the container (``devices: [/dev/fuse]``)."""

    host_path: str
    container_path: str = ""  # "" = same as host_path
    permissions: str = "rwm"


@dataclass(frozen=True)
class Ulimit:
    name: str
    soft: int
    hard: int


@dataclass(frozen=True)
class LogConfig:
    """The json-file driver's options: rotate past ``max_size`` bytes (0 = never), keep ``max_file`` files."""

    max_size: int = 0
    max_file: int = 1


@dataclass(frozen=True)
class ContainerSpec:
    """A container, fully resolved: ``args`` is the final argv (entrypoint + cmd), ``env`` the final environment.

    ``rootfs`` is the layer dirs lowest-first (overlay lower dirs); the service fills it from the image.
    """

    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    group_add: tuple[str, ...] = ()  # extra groups (names from the container's /etc/group, or numbers)
    hostname: str = ""
    domainname: str = ""
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    image: str = ""
    rootfs: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = DEFAULT_NAMESPACES
    netns_path: str = ""
    # namespaces to join instead of making them (``pid``/``ipc``/``uts``/``cgroup`` -> a ns file such as
    # /proc/<pid>/ns/ipc of another container's init): compose's ``pid: service:x``, ``ipc: service:x``
    join_namespaces: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    devices: tuple[Device, ...] = ()
    device_cgroup_rules: tuple[str, ...] = ()  # "c 1:3 rwm", "b *:* r" (Docker's --device-cgroup-rule)
    readonly_rootfs: bool = False
    shm_size: int = DEFAULT_SHM_SIZE
    resources: Resources = field(default_factory=Resources)
    cgroup_parent: str = ""
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    no_new_privs: bool = False
    seccomp: str = "default"  # "default", "unconfined" or a JSON profile (Docker's format)
    masked_paths: tuple[str, ...] = DEFAULT_MASKED_PATHS
    readonly_paths: tuple[str, ...] = DEFAULT_READONLY_PATHS
    ulimits: tuple[Ulimit, ...] = ()
    sysctls: Mapping[str, str] = field(default_factory=dict)
    oom_score_adj: int | None = None
    init: bool = False
    stop_signal: str = "SIGTERM"
    stop_timeout: int = 10
    labels: Mapping[str, str] = field(default_factory=dict)
    hosts: str = ""  # content of the managed /etc/hosts ("" = localhost entries + own hostname)
    resolv_conf: str = ""  # content of the managed /etc/resolv.conf ("" = the host's)
    log: LogConfig = field(default_factory=LogConfig)


@dataclass(frozen=True)
class ExecSpec:
    """A process to run inside a running container (``docker exec``)."""

    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    user: str = ""
    working_dir: str = ""
    tty: bool = False
    open_stdin: bool = False
    privileged: bool = False


def parse_signal(value: str | int) -> int:
    """``SIGTERM``, ``TERM``, ``15`` -> 15. Raises ``ValueError`` for anything else."""
    if isinstance(value, int) or str(value).isdigit():
        num = int(value)
        if 0 < num < signal.NSIG:
            return num
        raise ValueError(f"invalid signal: {value}")
    name = str(value).upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(getattr(signal.Signals, name))
    except AttributeError:
        if name.startswith("SIGRTMIN+") and name[9:].isdigit():
            return signal.SIGRTMIN + int(name[9:])
        raise ValueError(f"invalid signal: {value}") from None


# --- checks: each returns a list of problems ---------------------------------------------------------------------

def _check_args(spec: ContainerSpec) -> list[str]:
    return [] if spec.args and spec.args[0] else ["no command specified"]


def _check_env(spec: ContainerSpec) -> list[str]:
    return [f"invalid environment entry {e!r}: want KEY=VALUE" for e in spec.env if "=" not in e or e[0] == "="]


def _check_paths(spec: ContainerSpec) -> list[str]:
    out = []
    if spec.working_dir and not spec.working_dir.startswith("/"):
        out.append(f"working dir {spec.working_dir!r} must be an absolute path")
    for m in spec.mounts:
        if not m.target.startswith("/"):
            out.append(f"mount target {m.target!r} must be an absolute path")
        if m.type not in _MOUNT_TYPES:
            out.append(f"mount {m.target}: unknown type {m.type!r} (want one of {', '.join(_MOUNT_TYPES)})")
        if m.type in ("bind", "volume", "image") and not m.source.startswith("/"):
            out.append(f"mount {m.target}: source {m.source!r} must be an absolute host path")
        if m.propagation not in _PROPAGATIONS:
            out.append(f"mount {m.target}: unknown propagation {m.propagation!r}")
    targets = [os.path.normpath(m.target) for m in spec.mounts]
    out += [f"duplicate mount point {t}" for t in sorted({t for t in targets if targets.count(t) > 1})]
    return out


def _check_devices(spec: ContainerSpec) -> list[str]:
    out = []
    for d in spec.devices:
        if not d.host_path.startswith("/") or (d.container_path and not d.container_path.startswith("/")):
            out.append(f"device {d.host_path}: paths must be absolute")
        if not d.permissions or set(d.permissions) - set("rwm"):
            out.append(f"device {d.host_path}: permissions {d.permissions!r} must be made of r, w and m")
    return out


def _check_namespaces(spec: ContainerSpec) -> list[str]:
    out = [f"unknown namespace {n!r}" for n in spec.namespaces if n not in NAMESPACES]
    if "mount" not in spec.namespaces:
        out.append("the mount namespace is required")
    if spec.netns_path and not os.path.lexists(spec.netns_path):
        out.append(f"network namespace {spec.netns_path} does not exist")
    for name, path in spec.join_namespaces.items():
        if name not in ("pid", "ipc", "uts", "cgroup"):
            out.append(f"cannot join a {name!r} namespace (net: use netns_path; mount: never shared)")
        elif name in spec.namespaces:
            out.append(f"the {name} namespace is both private and joined")
        if not os.path.lexists(path):
            out.append(f"{name} namespace {path} does not exist")
    return out


def _check_names(spec: ContainerSpec) -> list[str]:
    out = []
    if len(spec.hostname) > 64:
        out.append("hostname longer than 64 characters")
    if len(spec.domainname) > 64:
        out.append("domainname longer than 64 characters")
    if ("uts" not in spec.namespaces) and (spec.hostname or spec.domainname):
        out.append("hostname needs a uts namespace")
    return out


def _check_signals(spec: ContainerSpec) -> list[str]:
    try:
        parse_signal(spec.stop_signal)
    except ValueError as err:
        return [f"stop signal: {err}"]
    return [] if spec.stop_timeout >= -1 else ["stop timeout must be >= -1"]


def _check_limits(spec: ContainerSpec) -> list[str]:
    out = [f"unknown ulimit {u.name!r}" for u in spec.ulimits if u.name not in _ULIMITS]
    out += [f"ulimit {u.name}: soft limit {u.soft} is above hard limit {u.hard}"
            for u in spec.ulimits if u.hard >= 0 and u.soft > u.hard]
    if spec.oom_score_adj is not None and not -1000 <= spec.oom_score_adj <= 1000:
        out.append("oom_score_adj must be between -1000 and 1000")
    if spec.shm_size < 0:
        out.append("shm_size must not be negative")
    if spec.log.max_file < 1:
        out.append("log max-file must be at least 1")
    return out


def _check_resources(spec: ContainerSpec) -> list[str]:
    return resource_problems(spec.resources)


def _check_sysctls(spec: ContainerSpec) -> list[str]:
    out = []
    for key in spec.sysctls:
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if "ipc" not in spec.namespaces:
                out.append(f"sysctl {key} needs a private ipc namespace")
        elif key.startswith("net."):
            if "net" not in spec.namespaces and not spec.netns_path:
                out.append(f"sysctl {key} needs a private network namespace")
        elif key in ("kernel.domainname", "kernel.hostname"):
            out.append(f"sysctl {key}: set the {key.split('.')[1]} instead")
        else:
            out.append(f"sysctl {key} is not namespaced: it would change the host")
    return out


def _check_seccomp(spec: ContainerSpec) -> list[str]:
    if spec.seccomp in ("default", "unconfined") or spec.seccomp.lstrip().startswith("{"):
        return []
    return [f"seccomp: want 'default', 'unconfined' or a JSON profile, got {spec.seccomp[:40]!r}"]


CHECKS: tuple[Callable[[ContainerSpec], list[str]], ...] = (
    _check_args, _check_env, _check_paths, _check_devices, _check_namespaces, _check_names, _check_signals,
    _check_limits, _check_resources, _check_sysctls, _check_seccomp,
)


def validate(spec: ContainerSpec) -> list[str]:
    """Every problem with ``spec`` (empty when valid)."""
    return [problem for check in CHECKS for problem in check(spec)]


# --- JSON round trip -----------------------------------------------------------------------------------------------

def spec_to_dict(spec: ContainerSpec) -> dict[str, Any]:
    return dataclasses.asdict(spec)


def _tuple_of(cls: type, items: Any) -> tuple[Any, ...]:
    return tuple(cls(**{**i, **({"options": tuple(i.get("options", ()))} if cls is Mount else {})})
                 if isinstance(i, dict) else i for i in items or ())


def spec_from_dict(data: Mapping[str, Any]) -> ContainerSpec:
    known = {f.name for f in dataclasses.fields(ContainerSpec)}
    kw: dict[str, Any] = {k: v for k, v in data.items() if k in known}
    for key in ("args", "env", "rootfs", "namespaces", "cap_add", "cap_drop", "masked_paths", "readonly_paths",
                "group_add", "device_cgroup_rules"):
        if key in kw:
            kw[key] = tuple(kw[key])
    if "mounts" in kw:
        kw["mounts"] = _tuple_of(Mount, kw["mounts"])
    if "ulimits" in kw:
        kw["ulimits"] = _tuple_of(Ulimit, kw["ulimits"])
    if "devices" in kw:
        kw["devices"] = _tuple_of(Device, kw["devices"])
    if isinstance(kw.get("resources"), dict):
        kw["resources"] = Resources(**kw["resources"])
    if isinstance(kw.get("log"), dict):
        kw["log"] = LogConfig(**kw["log"])
    return ContainerSpec(**kw)


def exec_to_dict(spec: ExecSpec) -> dict[str, Any]:
    return dataclasses.asdict(spec)


def exec_from_dict(data: Mapping[str, Any]) -> ExecSpec:
    kw = dict(data)
    kw["args"] = tuple(kw["args"])
    kw["env"] = tuple(kw.get("env", ()))
    return ExecSpec(**kw)
