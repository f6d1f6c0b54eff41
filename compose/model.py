"""The typed, normalized Compose model: frozen dataclasses built from ``canonicalize()`` output.

``Project.from_dict(canonical, name)`` reads the canonical dict; ``Project.to_dict()`` gives it back (with
``name`` and engine names filled in), so the model loses nothing: keys it does not type (``x-*``, ``develop``,
``blkio_config``...) are kept in each object's ``extras``. Durations are seconds (float), sizes bytes (int).
``Service.limits`` maps ``mem_limit``/``cpus``/``pids_limit`` and ``deploy.resources`` onto cgroup limits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compose.model_parts import (
    DURATION,
    PLAIN,
    TUPLE,
    Build,
    Codec,
    Dependency,
    Device,
    EnvFile,
    Grant,
    Healthcheck,
    Limits,
    Mount,
    Port,
    ServiceNetwork,
    Ulimit,
    decode,
    encode,
    nested,
    nested_map,
    nested_tuple,
)
from compose.plain import clone

__all__ = ["Project", "Service", "Network", "Volume", "Secret", "Config", "Port", "Mount", "Grant",
           "Dependency", "ServiceNetwork", "Healthcheck", "Ulimit", "Limits", "Build", "Device", "EnvFile"]

_SERVICE_CODECS: dict[str, Codec] = {
    **{k: PLAIN for k in ("image", "restart", "user", "working_dir", "hostname", "domainname", "container_name",
                           "network_mode", "stop_signal", "pull_policy", "platform", "ipc", "pid", "uts",
                           "cgroup", "cgroup_parent", "mac_address", "init", "privileged", "read_only", "tty",
                           "stdin_open", "environment", "labels", "annotations", "sysctls", "logging", "deploy",
                           "scale", "mem_limit", "mem_reservation", "memswap_limit", "mem_swappiness", "cpus",
                           "cpu_shares", "cpu_quota", "cpu_period", "cpuset", "pids_limit", "shm_size",
                           "oom_score_adj", "oom_kill_disable", "post_start", "pre_stop")},
    **{k: TUPLE for k in ("command", "entrypoint", "expose", "links", "volumes_from", "tmpfs", "cap_add",
                           "cap_drop", "dns", "dns_search", "dns_opt", "extra_hosts", "security_opt", "group_add",
                           "profiles")},
    "build": nested(Build),
    "ports": nested_tuple(Port),
    "volumes": nested_tuple(Mount),
    "secrets": nested_tuple(Grant),
    "configs": nested_tuple(Grant),
    "devices": nested_tuple(Device),
    "env_file": nested_tuple(EnvFile),
    "depends_on": nested_map(Dependency),
    "networks": nested_map(ServiceNetwork),
    "ulimits": nested_map(Ulimit),
    "healthcheck": nested(Healthcheck),
    "stop_grace_period": DURATION,
}


def _bytes(value: Any) -> int | None:
    """deploy.resources memory: canonical form keeps it a digit string (the schema wants a string there)."""
    return None if value is None else int(value)


@dataclass(frozen=True)
class Service:
    name: str
    image: str | None = None
    build: Build | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: dict[str, str | None] | None = None
    env_file: tuple[EnvFile, ...] | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    ports: tuple[Port, ...] | None = None
    expose: tuple[str, ...] | None = None
    volumes: tuple[Mount, ...] | None = None
    volumes_from: tuple[str, ...] | None = None
    tmpfs: tuple[str, ...] | None = None
    secrets: tuple[Grant, ...] | None = None
    configs: tuple[Grant, ...] | None = None
    depends_on: dict[str, Dependency] | None = None
    links: tuple[str, ...] | None = None
    networks: dict[str, ServiceNetwork | None] | None = None
    network_mode: str | None = None
    healthcheck: Healthcheck | None = None
    restart: str | None = None
    user: str | None = None
    working_dir: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    container_name: str | None = None
    init: bool | None = None
    privileged: bool | None = None
    read_only: bool | None = None
    tty: bool | None = None
    stdin_open: bool | None = None
    cap_add: tuple[str, ...] | None = None
    cap_drop: tuple[str, ...] | None = None
    security_opt: tuple[str, ...] | None = None
    devices: tuple[Device, ...] | None = None
    dns: tuple[str, ...] | None = None
    dns_search: tuple[str, ...] | None = None
    dns_opt: tuple[str, ...] | None = None
    extra_hosts: tuple[str, ...] | None = None  # "host=ip"
    group_add: tuple[str, ...] | None = None
    sysctls: dict[str, str] | None = None
    ulimits: dict[str, Ulimit] | None = None
    stop_signal: str | None = None
    stop_grace_period: float | None = None
    profiles: tuple[str, ...] | None = None
    pull_policy: str | None = None
    platform: str | None = None
    ipc: str | None = None
    pid: str | None = None
    uts: str | None = None
    cgroup: str | None = None
    cgroup_parent: str | None = None
    mac_address: str | None = None
    logging: dict[str, Any] | None = None
    deploy: dict[str, Any] | None = None
    scale: int | None = None
    mem_limit: int | None = None
    mem_reservation: int | None = None
    memswap_limit: int | None = None
    mem_swappiness: int | None = None
    cpus: float | None = None
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpuset: str | None = None
    pids_limit: int | None = None
    shm_size: int | None = None
    oom_score_adj: int | None = None
    oom_kill_disable: bool | None = None
    post_start: list[dict[str, Any]] | None = None
    pre_stop: list[dict[str, Any]] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> "Service":
        result: Service = decode(cls, data, _SERVICE_CODECS, name=name)
        return result

    def to_dict(self) -> dict[str, Any]:
        return dict(sorted(encode(self, _SERVICE_CODECS).items()))

    def image_name(self, project: str) -> str:
        """The image to run: ``image``, else the one ``build`` makes, named ``<project>-<service>`` as Compose does."""
        return self.image or f"{project}-{self.name}"

    @property
    def replicas(self) -> int:
        """How many containers ``up`` runs: ``scale``, else ``deploy.replicas``, else 1."""
        if self.scale is not None:
            return self.scale
        replicas = (self.deploy or {}).get("replicas")
        return 1 if replicas is None else int(replicas)

    @property
    def needed_services(self) -> set[str]:
        """Services this one needs started first (depends_on, links, ``service:`` modes, volumes_from)."""
        out = set(self.depends_on or {})
        out.update(link.split(":", 1)[0] for link in self.links or ())
        for mode in (self.network_mode, self.ipc, self.pid, self.uts):
            if mode and mode.startswith("service:"):
                out.add(mode.split(":", 1)[1])
        for item in self.volumes_from or ():
            ref = item.rsplit(":", 1)[0] if item.endswith((":ro", ":rw")) else item
            if not ref.startswith("container:"):
                out.add(ref.removeprefix("service:"))
        return out

    @property
    def limits(self) -> Limits:
        resources = (self.deploy or {}).get("resources") or {}
        limit, reserve = resources.get("limits") or {}, resources.get("reservations") or {}
        cpus = self.cpus if self.cpus is not None else limit.get("cpus")
        period = self.cpu_period if self.cpu_period is not None else (100_000 if cpus else None)
        quota = self.cpu_quota if self.cpu_quota is not None else (round(cpus * period) if cpus and period else None)
        blkio = self.extras.get("blkio_config") or {}
        return Limits(
            memory=self.mem_limit if self.mem_limit is not None else _bytes(limit.get("memory")),
            memory_reservation=self.mem_reservation if self.mem_reservation is not None else _bytes(
                reserve.get("memory")),
            memory_swap=self.memswap_limit,
            memory_swappiness=self.mem_swappiness,
            cpu_quota=quota,
            cpu_period=period,
            cpu_shares=self.cpu_shares,
            cpuset=self.cpuset,
            pids=self.pids_limit if self.pids_limit is not None else limit.get("pids"),
            oom_score_adj=self.oom_score_adj,
            oom_kill_disable=self.oom_kill_disable,
            blkio_weight=blkio.get("weight"),
            shm_size=self.shm_size,
        )


@dataclass(frozen=True)
class _Resource:
    key: str  # the key in the Compose file
    name: str  # the engine's name (<project>_<key>, or as set)
    external: bool = False
    labels: dict[str, str] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    _codecs = {"name": PLAIN, "external": PLAIN, "labels": PLAIN}

    @classmethod
    def from_dict(cls, key: str, data: dict[str, Any] | None, project: str) -> Any:
        data = dict(data or {})
        if not data.get("name"):
            data["name"] = key if data.get("external") else f"{project}_{key}"
        data.setdefault("external", False)
        return decode(cls, data, cls._codecs, key=key)

    def to_dict(self) -> dict[str, Any]:
        out = encode(self, self._codecs)
        if not out.get("external"):
            out.pop("external", None)
        return dict(sorted(out.items()))


@dataclass(frozen=True)
class Network(_Resource):
    driver: str | None = None
    driver_opts: dict[str, str] | None = None
    ipam: dict[str, Any] | None = None
    internal: bool | None = None
    attachable: bool | None = None
    enable_ipv4: bool | None = None
    enable_ipv6: bool | None = None
    _codecs = {**_Resource._codecs, **{k: PLAIN for k in ("driver", "driver_opts", "ipam", "internal",
                                                           "attachable", "enable_ipv4", "enable_ipv6")}}


@dataclass(frozen=True)
class Volume(_Resource):
    driver: str | None = None
    driver_opts: dict[str, str] | None = None
    _codecs = {**_Resource._codecs, "driver": PLAIN, "driver_opts": PLAIN}


@dataclass(frozen=True)
class Secret(_Resource):
    file: str | None = None  # absolute path
    environment: str | None = None  # name of the variable holding the value
    _codecs = {**_Resource._codecs, "file": PLAIN, "environment": PLAIN}


@dataclass(frozen=True)
class Config(_Resource):
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    _codecs = {**_Resource._codecs, "file": PLAIN, "environment": PLAIN, "content": PLAIN}


_KINDS: dict[str, Any] = {"networks": Network, "volumes": Volume, "secrets": Secret, "configs": Config}


@dataclass(frozen=True)
class Project:
    name: str
    services: dict[str, Service] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    volumes: dict[str, Volume] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    configs: dict[str, Config] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)  # models, x-* and anything else at the top level

    @classmethod
    def from_dict(cls, canonical: dict[str, Any], name: str) -> "Project":
        """Build the model from ``canonicalize()`` output; ``name`` is the resolved project name."""
        services = {key: Service.from_dict(key, spec or {}) for key, spec in (canonical.get("services") or {}).items()}
        resources = {kind: {key: klass.from_dict(key, spec, name) for key, spec in (canonical.get(kind) or {}).items()}
                     for kind, klass in _KINDS.items()}
        extras = {k: clone(v) for k, v in canonical.items() if k not in ("name", "services", *_KINDS)}
        return cls(name=name, services=services, extras=extras, **resources)

    def to_dict(self) -> dict[str, Any]:
        """The canonical dict: ``name``, ``services``, then networks, volumes, secrets, configs, extras."""
        out: dict[str, Any] = {"name": self.name, "services": {k: s.to_dict() for k, s in self.services.items()}}
        for kind in _KINDS:
            entries: dict[str, Any] = getattr(self, kind)
            if entries:
                out[kind] = {k: v.to_dict() for k, v in entries.items()}
        out.update(clone(self.extras))
        return out

    def service_names(self) -> list[str]:
        return sorted(self.services)
