"""Engine API create body (Config + HostConfig + NetworkingConfig) plus the image's config -> ``ContainerSpec``.

Pure: no I/O. What the spec does not carry (restart policy, health check, ports, networks, volumes to resolve,
auto-remove) comes back beside it in a :class:`Conversion` for the daemon to act on.
"""
from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from runtime.errors import InvalidArgument
from runtime.spec import DEFAULT_PATH, ContainerSpec, Device, LogConfig, Mount, Resources, Ulimit, parse_signal, validate

__all__ = ["VolumeUse", "PortBinding", "Conversion", "convert", "network_of", "parse_size", "parse_binds", "NAME_RE",
           "host_resources"]

NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$", re.I)


@dataclass(frozen=True)
class VolumeUse:
    """A named (or anonymous: name "") volume at ``target``; the daemon resolves it to a host path."""

    name: str
    target: str
    read_only: bool = False
    nocopy: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    driver: str = "local"
    driver_opts: Mapping[str, str] = field(default_factory=dict)
    subpath: str = ""  # VolumeOptions.Subpath: mount only this part of the volume


@dataclass(frozen=True)
class PortBinding:
    container_port: int
    protocol: str
    host_ip: str
    host_port: int  # 0 = pick one
    host_port_end: int = 0  # > host_port: any free port of host_port..host_port_end


@dataclass
class Conversion:
    spec: ContainerSpec
    volumes: list[VolumeUse]
    ports: list[PortBinding]
    exposed: list[str]
    network_mode: str
    endpoints: dict[str, dict[str, Any]]
    restart: dict[str, Any]
    healthcheck: dict[str, Any] | None
    auto_remove: bool
    config: dict[str, Any]  # the effective Config as inspect shows it
    host_config: dict[str, Any]
    images: list[Mount] = field(default_factory=list)  # type "image", source = the reference: the daemon resolves


def parse_size(value: Any, what: str) -> int:
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value).strip())
    if not match:
        raise InvalidArgument(f"invalid size for {what}: {value!r}")
    unit = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[match.group(2).lower()]
    return int(float(match.group(1)) * unit)


def _bad(msg: str) -> InvalidArgument:
    return InvalidArgument(msg)


def parse_binds(binds: list[str]) -> tuple[list[Mount], list[VolumeUse]]:
    """``HostConfig.Binds``: ``/host:/ctr[:opts]`` (bind) or ``name:/ctr[:opts]`` (named volume)."""
    mounts, vols = [], []
    for bind in binds:
        parts = bind.split(":")
        if len(parts) == 1 and bind.startswith("/"):  # "/path": an anonymous volume there, as Docker reads it
            vols.append(VolumeUse("", bind))
            continue
        if len(parts) < 2 or len(parts) > 3 or not parts[0] or not parts[1]:
            raise _bad(f"invalid volume specification: '{bind}'")
        src, dst = parts[0], parts[1]
        opts = parts[2].split(",") if len(parts) == 3 else []
        if not dst.startswith("/"):
            raise _bad(f"invalid volume specification: '{bind}': invalid mount config for type \"bind\": "
                       f"invalid mount path: '{dst}' mount path must be absolute")
        ro = "ro" in opts
        propagation = next((o for o in opts if o in ("private", "rprivate", "shared", "rshared", "slave",
                                                     "rslave")), "")
        if src.startswith("/"):
            mounts.append(Mount("bind", dst, src, ro, propagation))
        else:
            vols.append(VolumeUse(src, dst, ro, "nocopy" in opts))
    return mounts, vols


def _mounts_field(items: list[dict[str, Any]]) -> tuple[list[Mount], list[VolumeUse]]:
    mounts, vols = [], []
    for i, m in enumerate(items):
        kind, target = m.get("Type", "volume"), m.get("Target", "")
        if not target or not str(target).startswith("/"):
            raise _bad(f"invalid mount config: Mounts[{i}]: Target must be an absolute path")
        ro = bool(m.get("ReadOnly"))
        if kind == "bind":
            src = m.get("Source", "")
            if not str(src).startswith("/"):
                raise _bad(f"invalid mount config for type \"bind\": invalid mount path: '{src}'")
            bo = m.get("BindOptions") or {}
            prop = bo.get("Propagation", "")
            mounts.append(Mount("bind", target, src, ro, prop, recursive=not bo.get("NonRecursive", False),
                                options=_readonly_mode(i, bo, ro)))
        elif kind == "image":
            src, sub = str(m.get("Source") or ""), str((m.get("ImageOptions") or {}).get("Subpath") or "")
            if not src:
                raise _bad("invalid mount config for type \"image\": field Source must not be empty")
            clean = posixpath.normpath(sub) if sub else ""
            if sub.startswith("/") or clean == ".." or clean.startswith("../") or "\0" in sub:
                raise _bad(f"invalid mount config for type \"image\": subpath must be a relative path within the "
                           f"image: {sub!r}")
            mounts.append(Mount("image", target, src, True, subpath="" if clean == "." else clean))
        elif kind == "volume":
            vo = m.get("VolumeOptions") or {}
            dc = vo.get("DriverConfig") or {}
            vols.append(VolumeUse(m.get("Source") or "", target, ro, bool(vo.get("NoCopy")), vo.get("Labels") or {},
                                  dc.get("Name") or "local", dc.get("Options") or {}, str(vo.get("Subpath") or "")))
        elif kind == "tmpfs":
            to = m.get("TmpfsOptions") or {}
            mounts.append(Mount("tmpfs", target, "", ro, tmpfs_size=int(to.get("SizeBytes") or 0),
                                tmpfs_mode=int(to.get("Mode") or 0o1777)))
        else:
            raise _bad(f"invalid mount config: mount type unknown: \"{kind}\"")
    return mounts, vols


def _readonly_mode(i: int, bo: Mapping[str, Any], ro: bool) -> tuple[str, ...]:
    """``BindOptions.ReadOnlyNonRecursive`` / ``ReadOnlyForceRecursive`` as the spec's "norro" / "rro" (neither:
    submounts of a read-only bind are made read-only where the kernel can, as Docker 25+ does)."""
    norro, rro = bool(bo.get("ReadOnlyNonRecursive")), bool(bo.get("ReadOnlyForceRecursive"))
    if (norro or rro) and not ro:
        raise _bad(f"invalid mount config for type \"bind\": Mounts[{i}]: must also set ReadOnly")
    if norro and rro:
        raise _bad(f"invalid mount config for type \"bind\": Mounts[{i}]: must not set both ReadOnlyNonRecursive "
                   f"and ReadOnlyForceRecursive")
    if rro and bo.get("Propagation", "rprivate") not in ("", "rprivate"):
        raise _bad(f"invalid mount config for type \"bind\": Mounts[{i}]: read-only force-recursive mount requires "
                   f"rprivate propagation")
    return ("norro",) if norro else ("rro",) if rro else ()


def _tmpfs_field(tmpfs: Mapping[str, str]) -> list[Mount]:
    out = []
    for target, opts in tmpfs.items():
        size, mode, ro, extra = 0, 0o1777, False, []
        for opt in filter(None, (opts or "").split(",")):
            key, _, value = opt.partition("=")
            if key == "size":
                size = parse_size(value, f"tmpfs {target} size")
            elif key == "mode":
                mode = int(value, 8)
            elif key == "ro":
                ro = True
            elif key in ("nosuid", "nodev", "noexec"):
                extra.append(key)
        out.append(Mount("tmpfs", target, "", ro, options=tuple(extra), tmpfs_size=size, tmpfs_mode=mode))
    return out


def _ports(bindings: Mapping[str, Any] | None) -> list[PortBinding]:
    """``HostConfig.PortBindings``, checked; ranges ("8000-8010/tcp", host "8000-8010") expand as Docker does."""
    from runtime.network.ports import bindings_from_engine

    for key, hosts in (bindings or {}).items():
        port, _, proto = key.partition("/")
        if (proto or "tcp") not in ("tcp", "udp", "sctp") or not port.replace("-", "", 1).isdigit():
            raise _bad(f"invalid port specification: \"{key}\"")
        for h in hosts or [{}]:
            hp = (h or {}).get("HostPort") or "0"
            if not all(p.isdigit() and 0 <= int(p) <= 65535 for p in hp.split("-", 1)):
                raise _bad(f"invalid port specification: \"{hp}\"")
    try:
        wishes = bindings_from_engine(dict(bindings or {}))
    except InvalidArgument as err:
        raise _bad(f"invalid port specification: {err}") from err
    return [PortBinding(w.container_port, w.protocol, w.host_ip, w.host_port, w.host_port_end) for w in wishes]


def _resolv(host: Mapping[str, Any]) -> str:
    lines = [f"nameserver {d}" for d in host.get("Dns") or []]
    if host.get("DnsSearch"):
        lines.append("search " + " ".join(host["DnsSearch"]))
    if host.get("DnsOptions"):
        lines.append("options " + " ".join(host["DnsOptions"]))
    return "\n".join(lines) + "\n" if lines else ""


def _security(opts: list[str]) -> tuple[bool, str]:
    no_new_privs, seccomp = False, "default"
    for opt in opts:
        key, sep, value = opt.partition("=" if "=" in opt else ":")
        if key == "no-new-privileges":
            no_new_privs = not sep or value.lower() in ("true", "1", "")
        elif key == "seccomp":
            seccomp = "unconfined" if value == "unconfined" else value
        elif key in ("apparmor", "label", "systempaths"):
            continue
        else:
            raise _bad(f"invalid --security-opt: {opt!r}")
    return no_new_privs, seccomp


def _duration_ok(hc: Mapping[str, Any]) -> None:
    for key in ("Interval", "Timeout", "StartPeriod", "StartInterval"):
        value = hc.get(key) or 0
        if value < 0 or (0 < value < 1_000_000):
            raise _bad(f"Healthcheck.{key} must be at least 1ms (or 0 for the default)")
    if (hc.get("Retries") or 0) < 0:
        raise _bad("Healthcheck.Retries must not be negative")


def host_resources(host: Mapping[str, Any]) -> Resources:
    """The cgroup limits of a ``HostConfig`` (create's, or one with ``/update``'s fields laid over it)."""
    return Resources(
        memory=int(host.get("Memory") or 0), memory_reservation=int(host.get("MemoryReservation") or 0),
        memory_swap=int(host.get("MemorySwap") or 0), nano_cpus=int(host.get("NanoCpus") or 0),
        cpu_quota=int(host.get("CpuQuota") or 0), cpu_period=int(host.get("CpuPeriod") or 0),
        cpu_shares=int(host.get("CpuShares") or 0), cpuset_cpus=host.get("CpusetCpus") or "",
        cpuset_mems=host.get("CpusetMems") or "", pids_limit=int(host.get("PidsLimit") or 0),
        oom_kill_disable=bool(host.get("OomKillDisable")),
        memory_swappiness=-1 if host.get("MemorySwappiness") is None else int(host["MemorySwappiness"]),
        blkio_weight=int(host.get("BlkioWeight") or 0),
        blkio_weight_device=_per_device(host, "BlkioWeightDevice", "Weight"),
        blkio_read_bps=_per_device(host, "BlkioDeviceReadBps", "Rate"),
        blkio_write_bps=_per_device(host, "BlkioDeviceWriteBps", "Rate"),
        blkio_read_iops=_per_device(host, "BlkioDeviceReadIOps", "Rate"),
        blkio_write_iops=_per_device(host, "BlkioDeviceWriteIOps", "Rate"))


def _per_device(host: Mapping[str, Any], key: str, value: str) -> tuple[tuple[str, int], ...]:
    """``[{"Path": "/dev/sda", "Rate": 1048576}]`` (or ``"Weight"``) as (path, value) pairs."""
    out = []
    for item in host.get(key) or ():
        if not isinstance(item, Mapping) or not isinstance(item.get("Path"), str) or not str(
                item.get(value, "")).isdigit():
            raise _bad(f"{key}: want a list of {{\"Path\": \"/dev/...\", \"{value}\": number}}, got {item!r}")
        out.append((item["Path"], int(item[value])))
    return tuple(out)


def _devices(host: Mapping[str, Any]) -> tuple[Device, ...]:
    """``HostConfig.Devices``: ``[{"PathOnHost", "PathInContainer", "CgroupPermissions"}]``."""
    out = []
    for item in host.get("Devices") or ():
        if not isinstance(item, Mapping) or not item.get("PathOnHost"):
            raise _bad(f"Devices: want {{\"PathOnHost\": \"/dev/...\", ...}}, got {item!r}")
        out.append(Device(str(item["PathOnHost"]), str(item.get("PathInContainer") or ""),
                          str(item.get("CgroupPermissions") or "rwm")))
    return tuple(out)


def _endpoints(body: Mapping[str, Any], network_mode: str) -> dict[str, Any]:
    """``NetworkingConfig.EndpointsConfig``, with the deprecated container-wide ``MacAddress`` moved onto the main
    network's endpoint as Docker (API >= 1.44) moves it; a different MAC there is refused, as Docker refuses it."""
    endpoints = dict((body.get("NetworkingConfig") or {}).get("EndpointsConfig") or {})
    if any(isinstance(ep, Mapping) and (ep.get("DriverOpts") or (ep.get("IPAMConfig") or {}).get("LinkLocalIPs"))
           for ep in endpoints.values()):
        from runtime.network.endpointcfg import check_endpoints  # interface names, link-local addresses: 400s

        check_endpoints(endpoints)
    mac = body.get("MacAddress")
    if not mac or network_mode in ("host", "none") or network_mode.startswith("container:"):
        return endpoints
    key = "bridge" if network_mode == "default" else network_mode
    if key not in endpoints and network_mode == "default" and "default" in endpoints:
        key = "default"
    ep = dict(endpoints.get(key) or {})
    if ep.get("MacAddress") and str(ep["MacAddress"]).lower() != str(mac).lower():
        raise _bad("the container-wide MAC address must match the endpoint-specific MAC address for the main "
                   "network, or be left empty")
    ep["MacAddress"] = mac
    endpoints[key] = ep
    return endpoints


def network_of(body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(network mode, endpoints) of a create body, as ``convert`` gives them: they depend on the body alone, so
    the daemon makes the network sandbox while the image is looked up and the rest converted."""
    host: Mapping[str, Any] = body.get("HostConfig") or {}
    network_mode = host.get("NetworkMode") or "default"
    return network_mode, _endpoints(body, network_mode)


def convert(body: Mapping[str, Any], image_config: Mapping[str, Any], *, container_id: str, image: str,
            defaults: Mapping[str, Any] | None = None) -> Conversion:
    """``defaults``: engine-wide values (``ulimits``: list of spec Ulimit, ``log_opts``, ``cgroup_parent``,
    ``dns``)."""
    if not isinstance(body, Mapping):
        raise _bad("config cannot be empty in order to create a container")
    defaults = defaults or {}
    host: Mapping[str, Any] = body.get("HostConfig") or {}
    img = image_config or {}
    entrypoint = body.get("Entrypoint")
    cmd = body.get("Cmd")
    if isinstance(entrypoint, str):
        entrypoint = [entrypoint]
    if isinstance(cmd, str):
        cmd = [cmd]
    if entrypoint is not None:  # an explicit entrypoint (even empty) drops the image's Cmd as Docker does
        entry = [e for e in entrypoint if e != ""] if entrypoint != [""] else []
        command = list(cmd or [])
    else:
        entry = list(img.get("Entrypoint") or [])
        command = list(cmd) if cmd else list(img.get("Cmd") or [])
    args = entry + command
    if not args:
        raise _bad("no command specified")
    hostname = body.get("Hostname") or container_id[:12]
    env: dict[str, str] = {}
    for item in list(img.get("Env") or []) + list(body.get("Env") or []):
        key, sep, value = item.partition("=")
        if not key:
            raise _bad(f"invalid environment variable: {item!r}")
        if sep:
            env[key] = value
    env.setdefault("PATH", DEFAULT_PATH)
    # (HOSTNAME is not part of Config.Env: the container's init adds it from its hostname, as Docker's daemon does)
    env = {"PATH": env.pop("PATH"), **env}

    mounts, vols = parse_binds(list(host.get("Binds") or []))
    m2, v2 = _mounts_field(list(host.get("Mounts") or []))
    images = [m for m in m2 if m.type == "image"]
    mounts += [m for m in m2 if m.type != "image"] + _tmpfs_field(host.get("Tmpfs") or {})
    vols += v2
    taken = {m.target for m in mounts + images} | {v.target for v in vols}
    for target in list((img.get("Volumes") or {}).keys()) + list((body.get("Volumes") or {}).keys()):
        if target not in taken:
            vols.append(VolumeUse("", target))
            taken.add(target)

    ulimits = {u.name: u for u in defaults.get("ulimits", ())}
    for u in host.get("Ulimits") or []:
        ulimits[u["Name"]] = Ulimit(u["Name"], int(u["Soft"]), int(u["Hard"]))
    log_cfg = host.get("LogConfig") or {}
    log_opts = {**defaults.get("log_opts", {}), **(log_cfg.get("Config") or {})}
    log = LogConfig(parse_size(log_opts["max-size"], "log max-size") if log_opts.get("max-size") else 0,
                    int(log_opts.get("max-file", "1")))
    resources = host_resources(host)
    no_new_privs, seccomp = _security(list(host.get("SecurityOpt") or []))
    namespaces = ["pid", "mount", "uts", "ipc", "net", "cgroup"]
    network_mode = host.get("NetworkMode") or "default"
    for key, ns in (("PidMode", "pid"), ("IpcMode", "ipc"), ("UTSMode", "uts"), ("CgroupnsMode", "cgroup")):
        if (host.get(key) or "") == "host":
            namespaces.remove(ns)
    if network_mode == "host":
        namespaces.remove("net")
    stop_signal = body.get("StopSignal") or img.get("StopSignal") or "SIGTERM"
    try:
        parse_signal(stop_signal)
    except ValueError as err:
        raise _bad(f"invalid stop signal: {err}") from None
    stop_timeout = body.get("StopTimeout")
    labels = {**(img.get("Labels") or {}), **(body.get("Labels") or {})}
    health = body.get("Healthcheck") if body.get("Healthcheck") is not None else img.get("Healthcheck")
    if health:
        _duration_ok(health)
        test = health.get("Test") or []
        if test and test[0] not in ("NONE", "CMD", "CMD-SHELL"):
            raise _bad(f"invalid Healthcheck.Test: first element must be NONE, CMD or CMD-SHELL, not {test[0]!r}")
    restart = dict(host.get("RestartPolicy") or {})
    if restart.get("Name", "") not in ("", "no", "always", "on-failure", "unless-stopped"):
        raise _bad(f"invalid restart policy '{restart.get('Name')}'")
    if restart.get("MaximumRetryCount") and restart.get("Name") != "on-failure":
        raise _bad("invalid restart policy: maximum retry count can only be used with 'on-failure'")
    if host.get("AutoRemove") and restart.get("Name") not in (None, "", "no"):
        raise _bad("conflicting options: cannot specify both --restart and --rm")
    sysctls = dict(host.get("Sysctls") or {})
    extra_hosts = list(host.get("ExtraHosts") or [])
    spec = ContainerSpec(
        args=tuple(args), env=tuple(f"{k}={v}" for k, v in env.items()),
        working_dir=body.get("WorkingDir") or img.get("WorkingDir") or "",
        user=str(body.get("User") or img.get("User") or ""),
        hostname=hostname, domainname=body.get("Domainname") or "", tty=bool(body.get("Tty")),
        open_stdin=bool(body.get("OpenStdin")), stdin_once=bool(body.get("StdinOnce")), image=image,
        namespaces=tuple(namespaces), mounts=tuple(mounts), devices=_devices(host),
        device_cgroup_rules=tuple(host.get("DeviceCgroupRules") or ()),
        group_add=tuple(str(g) for g in host.get("GroupAdd") or ()), readonly_rootfs=bool(host.get("ReadonlyRootfs")),
        shm_size=int(host.get("ShmSize") or 64 * 1024 * 1024), resources=resources,
        cgroup_parent=host.get("CgroupParent") or defaults.get("cgroup_parent", ""),
        privileged=bool(host.get("Privileged")), cap_add=tuple(host.get("CapAdd") or ()),
        cap_drop=tuple(host.get("CapDrop") or ()), no_new_privs=no_new_privs, seccomp=seccomp,
        ulimits=tuple(ulimits.values()), sysctls=sysctls, oom_score_adj=host.get("OomScoreAdj") or None,
        init=bool(host.get("Init")), stop_signal=str(stop_signal),
        stop_timeout=int(stop_timeout) if stop_timeout is not None else 10, labels=labels,
        hosts="".join(f"{h.split(':', 1)[1]}\t{h.split(':', 1)[0]}\n" for h in extra_hosts
                      if ":" in h and not h.endswith(":host-gateway")),  # that one needs the network: at start
        resolv_conf=_resolv(host) if host.get("Dns") or host.get("DnsSearch") or host.get("DnsOptions") else "",
        log=log)
    problems = [p for p in validate(replace(spec, mounts=())) if "network namespace" not in p]
    if problems:
        raise _bad("; ".join(problems))
    config = {
        "Hostname": hostname, "Domainname": spec.domainname, "User": spec.user,
        "AttachStdin": bool(body.get("AttachStdin")), "AttachStdout": bool(body.get("AttachStdout")),
        "AttachStderr": bool(body.get("AttachStderr")),
        "ExposedPorts": {**(img.get("ExposedPorts") or {}), **(body.get("ExposedPorts") or {})} or None,
        "Tty": spec.tty, "OpenStdin": spec.open_stdin, "StdinOnce": spec.stdin_once, "Env": list(spec.env),
        "Cmd": list(args[len(entry):]) or None, "Healthcheck": health or None, "Image": image,
        "Volumes": {v.target: {} for v in vols if not v.name} or None, "WorkingDir": spec.working_dir,
        "Entrypoint": entry or None, "OnBuild": None, "Labels": labels, "StopSignal": stop_signal,
        **({"StopTimeout": stop_timeout} if stop_timeout is not None else {}),
    }
    ports = _ports(host.get("PortBindings"))
    exposed = sorted(set((config["ExposedPorts"] or {}).keys()) | {f"{p.container_port}/{p.protocol}" for p in ports})
    host_config = dict(host)
    host_config.setdefault("NetworkMode", network_mode)
    host_config.setdefault("RestartPolicy", {"Name": restart.get("Name") or "no",
                                             "MaximumRetryCount": restart.get("MaximumRetryCount") or 0})
    host_config.setdefault("LogConfig", {"Type": "json-file", "Config": log_opts})
    return Conversion(spec, vols, ports, exposed, network_mode, _endpoints(body, network_mode),
                      {"Name": restart.get("Name") or "no", "MaximumRetryCount": restart.get("MaximumRetryCount") or 0},
                      health or None, bool(host.get("AutoRemove")), config, host_config, images)
