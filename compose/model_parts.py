"""The value objects of the model (ports, mounts, grants, dependencies, healthchecks...) and the codec table
machinery that reads them from, and writes them back to, the canonical dict without loss.

A codec is ``(decode, encode)`` per key; keys without one land in the object's ``extras``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable

from compose.plain import clone
from compose.units import format_duration, parse_duration

__all__ = ["Codec", "PLAIN", "TUPLE", "DURATION", "decode", "encode", "nested", "nested_tuple", "nested_map", "Node",
           "Port", "Mount", "Grant", "Dependency", "ServiceNetwork", "Healthcheck", "Ulimit", "Device", "EnvFile",
           "Build", "Limits"]

Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]
PLAIN: Codec = (clone, clone)
TUPLE: Codec = (tuple, list)


def decode(cls: type, data: dict[str, Any], codecs: dict[str, Codec], **given: Any) -> Any:
    """Build ``cls`` from ``data``: keys in ``codecs`` become fields (``-`` -> ``_``), the rest go to extras."""
    values: dict[str, Any] = dict(given)
    extras: dict[str, Any] = {}
    for key, value in data.items():
        if key in codecs:
            values[key.replace("-", "_")] = codecs[key][0](value)
        else:
            extras[key] = clone(value)
    if "extras" in {f.name for f in fields(cls)}:
        values["extras"] = extras
    return cls(**values)


def encode(obj: Any, codecs: dict[str, Codec]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, (_, encode) in codecs.items():
        value = getattr(obj, key.replace("-", "_"))
        if value is not None:
            out[key] = encode(value)
    out.update(clone(getattr(obj, "extras", {})))
    return out


def _seconds(value: Any) -> float:
    return parse_duration(value)


DURATION: Codec = (_seconds, format_duration)


def nested(cls: Any) -> Codec:
    return (cls.from_dict, lambda obj: obj.to_dict())


def nested_tuple(cls: Any) -> Codec:
    return (lambda items: tuple(cls.from_dict(i) for i in items), lambda objs: [o.to_dict() for o in objs])


def nested_map(cls: Any) -> Codec:
    return (lambda m: {k: None if v is None else cls.from_dict(v) for k, v in m.items()},
            lambda m: {k: None if v is None else v.to_dict() for k, v in m.items()})


class Node:
    """Shared from_dict/to_dict for model objects with a codec table."""

    _codecs: dict[str, Codec] = {}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        return decode(cls, data, cls._codecs)

    def to_dict(self) -> dict[str, Any]:
        return encode(self, self._codecs)


@dataclass(frozen=True)
class Port(Node):
    target: int
    published: str | None = None  # "8080", a range "8000-8010", or None for a random host port
    host_ip: str | None = None
    protocol: str | None = "tcp"
    mode: str | None = "ingress"
    name: str | None = None
    app_protocol: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    _codecs = {k: PLAIN for k in ("name", "mode", "host_ip", "target", "published", "protocol", "app_protocol")}


@dataclass(frozen=True)
class Mount(Node):
    type: str
    target: str | None = None
    source: str | None = None  # absolute host path (bind), volume key (volume), image (image), None (anonymous)
    read_only: bool | None = None
    consistency: str | None = None
    bind: dict[str, Any] | None = None  # propagation, create_host_path, selinux, recursive
    volume: dict[str, Any] | None = None  # nocopy, subpath, labels
    tmpfs: dict[str, Any] | None = None  # size (bytes), mode (int)
    image: dict[str, Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    _codecs = {k: PLAIN for k in ("type", "source", "target", "read_only", "consistency", "bind", "volume",
                                   "tmpfs", "image")}


@dataclass(frozen=True)
class Grant(Node):
    """A service's use of a secret or config."""

    source: str
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    _codecs = {k: PLAIN for k in ("source", "target", "uid", "gid", "mode")}

    def path(self, kind: str) -> str:
        """Where the file appears in the container: ``/run/secrets/<source>`` or ``/<source>`` by default."""
        base = "/run/secrets/" if kind == "secrets" else "/"
        if not self.target:
            return base + self.source
        return self.target if self.target.startswith("/") else base + self.target


@dataclass(frozen=True)
class Dependency(Node):
    condition: str = "service_started"
    required: bool = True
    restart: bool | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    _codecs = {k: PLAIN for k in ("condition", "required", "restart")}


@dataclass(frozen=True)
class ServiceNetwork(Node):
    aliases: tuple[str, ...] | None = None
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    link_local_ips: tuple[str, ...] | None = None
    mac_address: str | None = None
    interface_name: str | None = None
    driver_opts: dict[str, Any] | None = None
    priority: int | float | None = None
    gw_priority: int | float | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    _codecs = {"aliases": TUPLE, "ipv4_address": PLAIN, "ipv6_address": PLAIN, "link_local_ips": TUPLE,
               "mac_address": PLAIN, "interface_name": PLAIN, "driver_opts": PLAIN, "priority": PLAIN,
               "gw_priority": PLAIN}


@dataclass(frozen=True)
class Healthcheck(Node):
    test: tuple[str, ...] | None = None  # ("CMD", ...), ("CMD-SHELL", "..."), ("NONE",)
    interval: float | None = None
    timeout: float | None = None
    start_period: float | None = None
    start_interval: float | None = None
    retries: int | None = None
    disable: bool | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    _codecs = {"test": TUPLE, "interval": DURATION, "timeout": DURATION, "start_period": DURATION,
               "start_interval": DURATION, "retries": PLAIN, "disable": PLAIN}

    @property
    def disabled(self) -> bool:
        return bool(self.disable) or (self.test is not None and tuple(self.test[:1]) == ("NONE",))


@dataclass(frozen=True)
class Ulimit(Node):
    soft: int
    hard: int
    _codecs = {"soft": PLAIN, "hard": PLAIN}


@dataclass(frozen=True)
class Device(Node):
    source: str
    target: str
    permissions: str = "rwm"
    _codecs = {"source": PLAIN, "target": PLAIN, "permissions": PLAIN}


@dataclass(frozen=True)
class EnvFile(Node):
    path: str
    required: bool = True
    format: str | None = None
    _codecs = {"path": PLAIN, "required": PLAIN, "format": PLAIN}


@dataclass(frozen=True)
class Build(Node):
    context: str
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: dict[str, str | None] | None = None
    target: str | None = None
    labels: dict[str, str] | None = None
    tags: tuple[str, ...] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    _codecs = {"context": PLAIN, "dockerfile": PLAIN, "dockerfile_inline": PLAIN, "args": PLAIN,
               "target": PLAIN, "labels": PLAIN, "tags": TUPLE}


@dataclass(frozen=True)
class Limits:
    """cgroup limits for one container, from the service keys and ``deploy.resources`` (explicit keys win)."""

    memory: int | None = None  # bytes (memory.max / memory.limit_in_bytes)
    memory_reservation: int | None = None  # bytes (memory.low / soft_limit_in_bytes)
    memory_swap: int | None = None  # bytes of memory+swap; -1 unlimited
    memory_swappiness: int | None = None
    cpu_quota: int | None = None  # microseconds per cpu_period
    cpu_period: int | None = None
    cpu_shares: int | None = None
    cpuset: str | None = None
    pids: int | None = None
    oom_score_adj: int | None = None
    oom_kill_disable: bool | None = None
    blkio_weight: int | None = None
    shm_size: int | None = None
