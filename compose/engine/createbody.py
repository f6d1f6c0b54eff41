"""The ``POST /containers/create`` body for one container of a service, as Docker Compose sends it.

``create_body`` gives ``Config`` (with ``HostConfig`` and ``NetworkingConfig`` inside, the wire shape);
``extra_networks`` gives the endpoints to connect after create and before start (the first network goes in the
create call, the others are connected, in Docker Compose's order: priority, then name).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compose import labels as L
from compose.model import Mount, Project, Service, ServiceNetwork
from compose.naming import container_name, network_name, volume_name
from compose.secretcopy import copied_grant

__all__ = ["ContainerSpec", "create_body", "endpoint_config", "ordered_networks", "service_image"]

_NS = 1_000_000_000


@dataclass(frozen=True)
class ContainerSpec:
    """What is specific to one container: its number, name, labels the plan adds, one-off overrides."""

    number: int
    config_hash: str
    oneoff: bool = False
    slug: str | None = None
    name: str | None = None
    working_dir: str = ""
    config_files: tuple[str, ...] = ()
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    workdir: str | None = None
    tty: bool | None = None
    stdin_open: bool | None = None
    publish_ports: bool = True
    auto_remove: bool = False
    api_socket: str | None = None  # the engine's unix socket on the host, for ``use_api_socket``


def service_image(project: Project, service: Service) -> str:
    """The image a service's containers run: ``image``, else the built ``<project>-<service>``."""
    return service.image or f"{project.name}-{service.name}".lower()


def ordered_networks(service: Service) -> list[str]:
    """The service's network keys: highest ``priority`` first, then by name (Docker Compose's order)."""
    nets = service.networks or {}

    def key(name: str) -> tuple[float, str]:
        cfg = nets[name]
        return (-(cfg.priority or 0) if cfg else 0, name)

    return sorted(nets, key=key)


def _label_files(service: Service) -> dict[str, str]:
    """``label_file`` entries read in order (KEY=VALUE lines, later files win), as Docker Compose does."""
    from pathlib import Path

    from compose.dotenv import read_dotenv
    from compose.errors import UserError

    out: dict[str, str] = {}
    for i, name in enumerate(service.extras.get("label_file") or ()):
        try:
            out.update(read_dotenv(Path(str(name)), {}))
        except UserError as err:
            raise UserError.single(f"label_file: {err.problems[0].message.replace('env file', 'label file')}",
                                   ("services", service.name, "label_file", i)) from err
    return out


def _labels(project: Project, service: Service, spec: ContainerSpec) -> dict[str, str]:
    out = _label_files(service)
    out.update(service.labels or {})  # ``labels`` win over ``label_file``
    deps = {n: (d.condition, bool(d.restart)) for n, d in (service.depends_on or {}).items()}
    out.update({
        L.PROJECT: project.name,
        L.SERVICE: service.name,
        L.CONTAINER_NUMBER: str(spec.number),
        L.ONEOFF: "True" if spec.oneoff else "False",
        L.CONFIG_HASH: spec.config_hash,
        L.VERSION: L.COMPOSE_VERSION,
        L.DEPENDS_ON: L.depends_on_value(deps),
        L.IMAGE: service_image(project, service),
    })
    if spec.working_dir:
        out[L.WORKING_DIR] = spec.working_dir
    if spec.config_files:
        out[L.CONFIG_FILES] = ",".join(spec.config_files)
    if spec.slug:
        out[L.SLUG] = spec.slug
    return out


def _healthcheck(service: Service) -> dict[str, Any] | None:
    hc = service.healthcheck
    if hc is None:
        return None
    if hc.disabled:
        return {"Test": ["NONE"]}
    out: dict[str, Any] = {}
    if hc.test is not None:
        out["Test"] = list(hc.test)
    for key, value in (("Interval", hc.interval), ("Timeout", hc.timeout), ("StartPeriod", hc.start_period),
                       ("StartInterval", hc.start_interval)):
        if value is not None:
            out[key] = int(value * _NS)
    if hc.retries is not None:
        out["Retries"] = hc.retries
    return out


def _port_key(target: int | str, protocol: str | None) -> str:
    return f"{target}/{protocol or 'tcp'}"


def _ports(service: Service) -> tuple[dict[str, Any], dict[str, list[dict[str, str]]]]:
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for item in service.expose or ():
        number, _, proto = str(item).partition("/")
        exposed[_port_key(number, proto or None)] = {}
    for port in service.ports or ():
        key = _port_key(port.target, port.protocol)
        exposed[key] = {}
        bindings.setdefault(key, []).append({"HostIp": port.host_ip or "", "HostPort": port.published or ""})
    return exposed, bindings


def _mount(project: Project, mount: Mount) -> tuple[str | None, dict[str, Any] | None]:
    """One service volume: a ``Binds`` entry (short-syntax binds, which create the host path) or a ``Mounts``."""
    if mount.type == "bind" and (mount.bind or {}).get("create_host_path", True) and not (
            mount.bind or {}).get("recursive"):
        flags = ["ro" if mount.read_only else "rw"]
        if (mount.bind or {}).get("propagation"):
            flags.append(str((mount.bind or {})["propagation"]))
        if (mount.bind or {}).get("selinux") in ("z", "Z"):  # relabel; the engine accepts it (no SELinux here)
            flags.append(str((mount.bind or {})["selinux"]))
        return f"{mount.source}:{mount.target}:{','.join(flags)}", None
    out: dict[str, Any] = {"Type": mount.type, "Target": mount.target}
    if mount.read_only:
        out["ReadOnly"] = True
    if mount.type == "volume":
        if mount.source:
            out["Source"] = volume_name(project, mount.source)
        vol = mount.volume or {}
        opts = {k: v for k, v in (("NoCopy", vol.get("nocopy")), ("Subpath", vol.get("subpath")),
                                  ("Labels", vol.get("labels"))) if v}
        if opts:
            out["VolumeOptions"] = opts
    elif mount.type == "bind":
        out["Source"] = mount.source
        bind = mount.bind or {}
        recursive = bind.get("recursive")  # as Docker Compose: one BindOptions flag per mode ("enabled": none)
        given = {"Propagation": bind.get("propagation"), "CreateMountpoint": bind.get("create_host_path"),
                 "NonRecursive": True if recursive == "disabled" else None,
                 "ReadOnlyNonRecursive": True if recursive == "writable" else None,
                 "ReadOnlyForceRecursive": True if recursive == "readonly" else None}
        opts = {k: v for k, v in given.items() if v is not None}
        if opts:
            out["BindOptions"] = opts
    elif mount.type == "tmpfs":
        tmp = mount.tmpfs or {}
        opts = {k: v for k, v in (("SizeBytes", tmp.get("size")), ("Mode", tmp.get("mode"))) if v is not None}
        if opts:
            out["TmpfsOptions"] = opts
    elif mount.type == "image":  # Engine API 1.47+: the image's filesystem, read-only
        out["Source"] = mount.source
        if (mount.image or {}).get("subpath"):
            out["ImageOptions"] = {"Subpath": (mount.image or {})["subpath"]}
    elif mount.source:
        out["Source"] = mount.source
    return None, out


def _grant_mounts(project: Project, service: Service) -> list[dict[str, Any]]:
    """File-backed secrets and configs, bind-mounted read-only at ``/run/secrets/<name>`` and ``/<name>`` (unless
    a ``uid``, ``gid`` or ``mode`` asks for a copy: ``compose.secretcopy``)."""
    out = []
    for kind in ("secrets", "configs"):
        defined = getattr(project, kind)
        for grant in getattr(service, kind) or ():
            resource = defined.get(grant.source)
            if resource is not None and resource.file and not copied_grant(resource, grant):
                out.append({"Type": "bind", "Source": resource.file, "Target": grant.path(kind), "ReadOnly": True})
    return out


def _restart(policy: str | None) -> dict[str, Any]:
    if not policy:
        return {"Name": "no"}
    name, _, count = policy.partition(":")
    out: dict[str, Any] = {"Name": name}
    if count:
        out["MaximumRetryCount"] = int(count)
    return out


_DEPLOY_CONDITIONS = {"none": "no", "no": "no", "on-failure": "on-failure", "any": "always", "always": "always",
                      "unless-stopped": "unless-stopped"}


def _deploy_restart(service: Service) -> dict[str, Any] | None:
    """``deploy.restart_policy`` wins over ``restart``, as Docker Compose maps it (condition any -> always,
    none -> no; ``max_attempts`` the retry count; ``delay`` and ``window`` are swarm only)."""
    policy = (service.deploy or {}).get("restart_policy")
    if not isinstance(policy, dict) or not policy:
        return None
    condition = str(policy.get("condition") or "any")
    out: dict[str, Any] = {"Name": _DEPLOY_CONDITIONS.get(condition, condition)}
    if policy.get("max_attempts") is not None:
        out["MaximumRetryCount"] = int(policy["max_attempts"])
    return out


def _service_ref(project: Project, mode: str) -> str:
    """``service:web`` -> ``container:<project>-web-1``."""
    if mode.startswith("service:"):
        name = mode.split(":", 1)[1]
        target = project.services.get(name)
        return "container:" + container_name(project.name, target or name, 1)
    return mode


def _volumes_from(project: Project, items: tuple[str, ...]) -> list[str]:
    out = []
    for item in items:
        ref, mode = (item.rsplit(":", 1) if item.endswith((":ro", ":rw")) else (item, ""))
        if ref.startswith("container:"):
            name = ref.split(":", 1)[1]
        else:
            svc = ref.removeprefix("service:")
            name = container_name(project.name, project.services.get(svc) or svc, 1)
        out.append(f"{name}:{mode}" if mode else name)
    return out


def _resources(service: Service) -> dict[str, Any]:
    lim = service.limits
    deploy_cpus = ((service.deploy or {}).get("resources") or {}).get("limits", {}).get("cpus")
    cpus = service.cpus if service.cpus is not None else deploy_cpus
    out: dict[str, Any] = {
        "Memory": lim.memory, "MemoryReservation": lim.memory_reservation, "MemorySwap": lim.memory_swap,
        "MemorySwappiness": lim.memory_swappiness, "CpuShares": lim.cpu_shares, "CpusetCpus": lim.cpuset,
        "PidsLimit": lim.pids, "OomScoreAdj": lim.oom_score_adj, "OomKillDisable": lim.oom_kill_disable,
        "BlkioWeight": lim.blkio_weight, "ShmSize": lim.shm_size,
        "CpuQuota": service.cpu_quota, "CpuPeriod": service.cpu_period,
    }
    if cpus is not None:
        out["NanoCpus"] = int(round(float(cpus) * _NS))
    return {k: v for k, v in out.items() if v is not None}


_BLKIO_DEVICE_FIELDS = (("weight_device", "BlkioWeightDevice", "weight", "Weight"),
                        ("device_read_bps", "BlkioDeviceReadBps", "rate", "Rate"),
                        ("device_write_bps", "BlkioDeviceWriteBps", "rate", "Rate"),
                        ("device_read_iops", "BlkioDeviceReadIOps", "rate", "Rate"),
                        ("device_write_iops", "BlkioDeviceWriteIOps", "rate", "Rate"))


def _blkio_devices(service: Service) -> dict[str, list[dict[str, Any]]]:
    """``blkio_config`` per-device weights and throttles as ``[{"Path": ..., "Weight"|"Rate": n}]`` (rates in
    bytes or operations per second, already converted by ``canonical``)."""
    blkio = service.extras.get("blkio_config") or {}
    out: dict[str, list[dict[str, Any]]] = {}
    for key, field_name, value_key, wire_key in _BLKIO_DEVICE_FIELDS:
        entries = [{"Path": str(e["path"]), wire_key: int(e[value_key])} for e in blkio.get(key) or ()
                   if e.get("path") is not None and e.get(value_key) is not None]
        if entries:
            out[field_name] = entries
    return out


def _host_config(project: Project, service: Service, spec: ContainerSpec, network_mode: str) -> dict[str, Any]:
    binds, mounts = [], []
    for mount in service.volumes or ():
        bind, other = _mount(project, mount)
        if bind:
            binds.append(bind)
        if other:
            mounts.append(other)
    mounts += _grant_mounts(project, service)
    if service.extras.get("use_api_socket") and spec.api_socket:  # the engine's API inside, as Docker Compose
        binds.append(f"{spec.api_socket}:/var/run/docker.sock")
    _, bindings = _ports(service)
    hc: dict[str, Any] = {
        "NetworkMode": network_mode,
        "RestartPolicy": _deploy_restart(service) or _restart(service.restart),
        "Binds": binds or None,
        "Mounts": mounts or None,
        "PortBindings": bindings if spec.publish_ports and bindings else None,
        "CapAdd": list(service.cap_add) if service.cap_add else None,
        "CapDrop": list(service.cap_drop) if service.cap_drop else None,
        "Privileged": service.privileged or None,
        "ReadonlyRootfs": service.read_only or None,
        "Tmpfs": {_tmpfs(t)[0]: _tmpfs(t)[1] for t in service.tmpfs} if service.tmpfs else None,
        "Ulimits": [{"Name": k, "Soft": u.soft, "Hard": u.hard} for k, u in sorted(service.ulimits.items())]
        if service.ulimits else None,
        "Sysctls": dict(service.sysctls) if service.sysctls else None,
        "SecurityOpt": list(service.security_opt) if service.security_opt else None,
        "ExtraHosts": [h.replace("=", ":", 1) for h in service.extra_hosts] if service.extra_hosts else None,
        "Dns": list(service.dns) if service.dns else None,
        "DnsSearch": list(service.dns_search) if service.dns_search else None,
        "DnsOptions": list(service.dns_opt) if service.dns_opt else None,
        "Init": service.init,
        "LogConfig": {"Type": service.logging.get("driver") or "", "Config": service.logging.get("options") or {}}
        if service.logging else None,
        "VolumesFrom": _volumes_from(project, service.volumes_from) if service.volumes_from else None,
        "Devices": [{"PathOnHost": d.source, "PathInContainer": d.target, "CgroupPermissions": d.permissions}
                    for d in service.devices] if service.devices else None,
        "GroupAdd": list(service.group_add) if service.group_add else None,
        "IpcMode": _service_ref(project, service.ipc) if service.ipc else None,
        "PidMode": _service_ref(project, service.pid) if service.pid else None,
        "UTSMode": service.uts,
        "CgroupnsMode": service.cgroup,
        "CgroupParent": service.cgroup_parent,
        "AutoRemove": spec.auto_remove or None,
        "Annotations": {str(k): str(v) for k, v in service.annotations.items()} if service.annotations else None,
        "DeviceCgroupRules": [str(r) for r in service.extras["device_cgroup_rules"]]
        if service.extras.get("device_cgroup_rules") else None,
        **_resources(service),
        **_blkio_devices(service),
    }
    return {k: v for k, v in hc.items() if v is not None}


def _tmpfs(item: str) -> tuple[str, str]:
    path, _, opts = item.partition(":")
    return path, opts


IFNAME_OPTION = "com.docker.network.endpoint.ifname"


def endpoint_config(service: Service, key: str, *, number: int, project: str,
                    links: list[str] | None = None) -> dict[str, Any]:
    """The ``EndpointsConfig`` entry for ``key``: aliases (the service name first), static and link-local
    addresses, MAC, driver options (``interface_name`` among them), gateway priority."""
    cfg: ServiceNetwork | None = (service.networks or {}).get(key)
    aliases = [service.name]
    out: dict[str, Any] = {}
    if cfg is not None:
        aliases += [a for a in cfg.aliases or () if a not in aliases]
        ipam = {k: v for k, v in (("IPv4Address", cfg.ipv4_address), ("IPv6Address", cfg.ipv6_address),
                                  ("LinkLocalIPs", list(cfg.link_local_ips or ()) or None)) if v}
        if ipam:
            out["IPAMConfig"] = ipam
        if cfg.mac_address:
            out["MacAddress"] = cfg.mac_address
        opts = {str(k): str(v) for k, v in (cfg.driver_opts or {}).items()}
        if cfg.interface_name:  # as Docker Compose sends it (Engine 28.1+ names the interface so)
            opts[IFNAME_OPTION] = cfg.interface_name
        if opts:
            out["DriverOpts"] = opts
        if cfg.gw_priority is not None:
            out["GwPriority"] = cfg.gw_priority
    out["Aliases"] = aliases
    if links:
        out["Links"] = links
    return out


def _links(project: Project, service: Service) -> list[str]:
    out = []
    for link in service.links or ():
        target, _, alias = link.partition(":")
        out.append(f"{container_name(project.name, project.services.get(target) or target, 1)}:{alias or target}")
    for link in service.extras.get("external_links") or ():  # containers outside the project, by their name
        target, _, alias = str(link).partition(":")
        out.append(f"{target}:{alias or target}")
    return out


def _service_mac(service: Service, key: str, endpoint: dict[str, Any]) -> None:
    """Service-level ``mac_address`` goes to the first network's endpoint (Docker Compose for API >= 1.44); a
    different ``mac_address`` on that network is refused as Docker Compose refuses it."""
    if not service.mac_address:
        return
    if endpoint.get("MacAddress") and endpoint["MacAddress"].lower() != service.mac_address.lower():
        from compose.errors import UserError

        raise UserError.single(f"the service-level mac_address should have the same value as network {key}",
                               ("services", service.name, "mac_address"))
    endpoint["MacAddress"] = service.mac_address


def create_body(project: Project, service: Service, spec: ContainerSpec) -> dict[str, Any]:
    """The create body for container ``spec.number`` of ``service`` (pass ``name=`` to the API separately)."""
    exposed, _ = _ports(service)
    env = {k: v for k, v in (service.environment or {}).items() if v is not None}
    env.update(spec.environment)
    if service.extras.get("use_api_socket"):
        if not spec.api_socket:
            from compose.errors import UserError

            raise UserError.single("use_api_socket needs the engine on a unix socket (PYCOMPOSE_HOST/DOCKER_HOST "
                                   "is not unix://)", ("services", service.name, "use_api_socket"))
        env["DOCKER_HOST"] = "unix:///var/run/docker.sock"
    command = spec.command if spec.command is not None else service.command
    entrypoint = spec.entrypoint if spec.entrypoint is not None else service.entrypoint
    stop_timeout = int(service.stop_grace_period) if service.stop_grace_period is not None else None
    config: dict[str, Any] = {
        "Image": service_image(project, service),
        "Cmd": list(command) if command is not None else None,
        "Entrypoint": (list(entrypoint) or [""]) if entrypoint is not None else None,
        "Env": [f"{k}={v}" for k, v in env.items()] or None,
        "Labels": _labels(project, service, spec),
        "Healthcheck": _healthcheck(service),
        "User": spec.user or service.user,
        "WorkingDir": spec.workdir or service.working_dir,
        "Hostname": service.hostname,
        "Domainname": service.domainname,
        "Tty": bool(spec.tty if spec.tty is not None else service.tty),
        "OpenStdin": bool(spec.stdin_open if spec.stdin_open is not None else service.stdin_open),
        "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
        "ExposedPorts": exposed or None,
        "StopSignal": service.stop_signal,
        "StopTimeout": stop_timeout,
    }
    config = {k: v for k, v in config.items() if v is not None}
    nets = ordered_networks(service)
    if service.network_mode:
        mode = _service_ref(project, service.network_mode)
        networking = {"EndpointsConfig": {"bridge": {"MacAddress": service.mac_address}}} if (
            mode == "bridge" and service.mac_address) else None
    elif nets:
        first = nets[0]
        mode = network_name(project, first)
        ep = endpoint_config(service, first, number=spec.number, project=project.name, links=_links(project, service))
        _service_mac(service, first, ep)
        networking = {"EndpointsConfig": {mode: ep}}
    else:
        mode, networking = "none", None
    config["HostConfig"] = _host_config(project, service, spec, mode)
    if networking:
        config["NetworkingConfig"] = networking
    return config
