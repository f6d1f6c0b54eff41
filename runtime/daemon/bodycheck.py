"""Shape checks of an Engine API container-create body (Config + HostConfig + NetworkingConfig), so that a
wrongly typed field is a 400 naming the field, as Go's JSON decoding makes it in Docker, never a crash."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from runtime.errors import InvalidArgument

__all__ = ["check_create_body", "check_body", "unsupported_warnings", "EXEC", "NETWORK", "CONNECT", "UPDATE", "EXEC_START"]

Check = Callable[[Any], bool]


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _strs(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _str_or_strs(v: Any) -> bool:
    return _str(v) or _strs(v)


def _str_map(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(x, str) for x in v.values())


def _obj(v: Any) -> bool:
    return isinstance(v, dict)


def _obj_map(v: Any) -> bool:
    return isinstance(v, dict) and all(x is None or isinstance(x, dict) for x in v.values())


def _objs(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, dict) for x in v)


def _ints(v: Any) -> bool:
    return isinstance(v, list) and all(_int(x) for x in v)


def _ports(v: Any) -> bool:
    return isinstance(v, dict) and all(x is None or (isinstance(x, list) and all(
        isinstance(b, dict) and all(k in ("HostIp", "HostPort") and (y is None or _str(y)) for k, y in b.items())
        for b in x)) for x in v.values())


_KINDS: dict[Check, str] = {_str: "a string", _int: "an integer", _bool: "a boolean", _strs: "a list of strings",
                            _str_or_strs: "a string or a list of strings", _str_map: "an object of strings",
                            _obj: "an object", _obj_map: "an object of objects", _objs: "a list of objects",
                            _ints: "a list of integers", _ports: "an object of port bindings"}

_CONFIG: dict[str, Check] = {
    "Hostname": _str, "Domainname": _str, "User": _str, "AttachStdin": _bool, "AttachStdout": _bool,
    "AttachStderr": _bool, "ExposedPorts": _obj_map, "Tty": _bool, "OpenStdin": _bool, "StdinOnce": _bool,
    "Env": _strs, "Cmd": _str_or_strs, "Healthcheck": _obj, "ArgsEscaped": _bool, "Image": _str, "Volumes": _obj_map,
    "WorkingDir": _str, "Entrypoint": _str_or_strs, "NetworkDisabled": _bool, "MacAddress": _str, "OnBuild": _strs,
    "Labels": _str_map, "StopSignal": _str, "StopTimeout": _int, "Shell": _strs, "HostConfig": _obj,
    "NetworkingConfig": _obj,
}
_HOST: dict[str, Check] = {
    "Binds": _strs, "Mounts": _objs, "PortBindings": _ports, "RestartPolicy": _obj, "Memory": _int,
    "MemoryReservation": _int, "MemorySwap": _int, "NanoCpus": _int, "CpuQuota": _int, "CpuPeriod": _int,
    "CpuShares": _int, "CpusetCpus": _str, "CpusetMems": _str, "PidsLimit": _int, "OomKillDisable": _bool,
    "OomScoreAdj": _int, "NetworkMode": _str, "PidMode": _str, "IpcMode": _str, "UTSMode": _str,
    "CgroupnsMode": _str, "CgroupParent": _str, "Tmpfs": _str_map, "Ulimits": _objs, "LogConfig": _obj,
    "SecurityOpt": _strs, "CapAdd": _strs, "CapDrop": _strs, "ExtraHosts": _strs, "Dns": _strs,
    "DnsSearch": _strs, "DnsOptions": _strs, "AutoRemove": _bool, "Privileged": _bool, "ReadonlyRootfs": _bool,
    "Init": _bool, "PublishAllPorts": _bool, "Sysctls": _str_map, "ConsoleSize": _ints, "ShmSize": _int,
    "GroupAdd": _strs, "Devices": _objs, "VolumesFrom": _strs, "Links": _strs, "DeviceCgroupRules": _strs,
    "MemorySwappiness": _int, "BlkioWeight": _int, "BlkioWeightDevice": _objs, "BlkioDeviceReadBps": _objs,
    "BlkioDeviceWriteBps": _objs, "BlkioDeviceReadIOps": _objs, "BlkioDeviceWriteIOps": _objs,
}
_HEALTH: dict[str, Check] = {"Test": _strs, "Interval": _int, "Timeout": _int, "Retries": _int,
                             "StartPeriod": _int, "StartInterval": _int}
_RESTART: dict[str, Check] = {"Name": _str, "MaximumRetryCount": _int}
_LOG: dict[str, Check] = {"Type": _str, "Config": _str_map}
_ULIMIT: dict[str, Check] = {"Name": _str, "Soft": _int, "Hard": _int}
_MOUNT: dict[str, Check] = {"Type": _str, "Source": _str, "Target": _str, "ReadOnly": _bool, "Consistency": _str,
                            "BindOptions": _obj, "VolumeOptions": _obj, "TmpfsOptions": _obj}
_ENDPOINT: dict[str, Check] = {"Aliases": _strs, "IPAMConfig": _obj, "MacAddress": _str, "Links": _strs,
                               "DriverOpts": _str_map, "GwPriority": _int}


def _check(obj: Mapping[str, Any], table: Mapping[str, Check], where: str) -> None:
    for key, check in table.items():
        value = obj.get(key)
        if value is not None and not check(value):
            raise InvalidArgument(f"invalid {where}{key}: want {_KINDS[check]}, got {type(value).__name__} "
                                  f"{str(value)[:40]!r}")


def check_create_body(body: Any) -> None:
    if not isinstance(body, dict):
        raise InvalidArgument("config cannot be empty in order to create a container")
    _check(body, _CONFIG, "")
    if body.get("Healthcheck"):
        _check(body["Healthcheck"], _HEALTH, "Healthcheck.")
    host = body.get("HostConfig") or {}
    _check(host, _HOST, "HostConfig.")
    if host.get("RestartPolicy"):
        _check(host["RestartPolicy"], _RESTART, "HostConfig.RestartPolicy.")
    if host.get("LogConfig"):
        _check(host["LogConfig"], _LOG, "HostConfig.LogConfig.")
    for i, item in enumerate(host.get("Ulimits") or []):
        _check(item, _ULIMIT, f"HostConfig.Ulimits[{i}].")
        if item.get("Name") is None or item.get("Soft") is None or item.get("Hard") is None:
            raise InvalidArgument(f"invalid HostConfig.Ulimits[{i}]: Name, Soft and Hard are required")
    for i, item in enumerate(host.get("Mounts") or []):
        _check(item, _MOUNT, f"HostConfig.Mounts[{i}].")
        for sub in ("BindOptions", "VolumeOptions", "TmpfsOptions"):
            for k, v in (item.get(sub) or {}).items():
                if isinstance(v, (dict, list)) and k not in ("Labels", "DriverConfig"):
                    raise InvalidArgument(f"invalid HostConfig.Mounts[{i}].{sub}.{k}")
    net = body.get("NetworkingConfig") or {}
    endpoints = net.get("EndpointsConfig")
    if endpoints is not None:
        if not _obj_map(endpoints):
            raise InvalidArgument("invalid NetworkingConfig.EndpointsConfig: want an object of objects")
        for name, cfg in endpoints.items():
            _check(cfg or {}, _ENDPOINT, f"NetworkingConfig.EndpointsConfig.{name}.")


EXEC: dict[str, Check] = {"AttachStdin": _bool, "AttachStdout": _bool, "AttachStderr": _bool, "DetachKeys": _str,
                          "Tty": _bool, "Env": _strs, "Cmd": _str_or_strs, "Privileged": _bool, "User": _str,
                          "WorkingDir": _str, "ConsoleSize": _ints}
EXEC_START: dict[str, Check] = {"Detach": _bool, "Tty": _bool, "ConsoleSize": _ints}
NETWORK: dict[str, Check] = {"Name": _str, "Driver": _str, "Scope": _str, "Internal": _bool, "Attachable": _bool,
                             "Ingress": _bool, "IPAM": _obj, "EnableIPv6": _bool, "EnableIPv4": _bool,
                             "Options": _str_map, "Labels": _str_map, "CheckDuplicate": _bool, "ConfigOnly": _bool}
CONNECT: dict[str, Check] = {"Container": _str, "EndpointConfig": _obj, "Force": _bool}
UPDATE: dict[str, Check] = {k: v for k, v in _HOST.items() if k in (
    "Memory", "MemoryReservation", "MemorySwap", "NanoCpus", "CpuQuota", "CpuPeriod", "CpuShares", "CpusetCpus",
    "CpusetMems", "PidsLimit", "RestartPolicy")}


def check_body(body: Mapping[str, Any], table: Mapping[str, Check], where: str = "") -> None:
    """Check the fields of ``body`` named in ``table`` (absent and null ones pass)."""
    _check(body, table, where)
    if where == "" and table is CONNECT and body.get("EndpointConfig"):
        _check(body["EndpointConfig"], _ENDPOINT, "EndpointConfig.")
    if table is UPDATE and body.get("RestartPolicy"):
        _check(body["RestartPolicy"], _RESTART, "RestartPolicy.")


# HostConfig fields this engine acts on (the mode fields by their "host" value, see specconv)
_HOST_SUPPORTED = {
    "Binds", "Mounts", "Tmpfs", "PortBindings", "PublishAllPorts", "RestartPolicy", "AutoRemove", "NetworkMode",
    "PidMode", "IpcMode", "UTSMode", "CgroupnsMode", "CgroupParent", "Memory", "MemoryReservation", "MemorySwap",
    "NanoCpus", "CpuQuota", "CpuPeriod", "CpuShares", "CpusetCpus", "CpusetMems", "PidsLimit", "OomKillDisable",
    "OomScoreAdj", "Ulimits", "LogConfig", "SecurityOpt", "CapAdd", "CapDrop", "Privileged", "ReadonlyRootfs",
    "Init", "Sysctls", "ShmSize", "ExtraHosts", "Dns", "DnsSearch", "DnsOptions", "ConsoleSize", "VolumesFrom",
    "Links", "GroupAdd", "Devices", "DeviceCgroupRules", "MemorySwappiness", "BlkioWeight", "BlkioWeightDevice",
    "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
}
_HOST_DEFAULTS_OK = {"Isolation": ("", "default"), "Runtime": ("", "runc", "pycompose"), "MemorySwappiness": (-1,),
                     "LogConfig": (), "KernelMemory": (0,), "BlkioWeight": (0,), "CpuCount": (0,),
                     "CpuPercent": (0,), "ContainerIDFile": ("",)}


def unsupported_warnings(body: Mapping[str, Any]) -> list[str]:
    """Docker's ``Warnings`` of a create: every HostConfig field set that this engine does not act on."""
    out = []
    for key, value in (body.get("HostConfig") or {}).items():
        if key in _HOST_SUPPORTED or value in (None, "", [], {}, False):
            continue
        if key in _HOST_DEFAULTS_OK and value in _HOST_DEFAULTS_OK[key]:
            continue
        if isinstance(value, int) and not isinstance(value, bool) and value == 0:
            continue
        out.append(f"HostConfig.{key} is not supported by this engine and was ignored")
    driver = ((body.get("HostConfig") or {}).get("LogConfig") or {}).get("Type") or "json-file"
    if driver != "json-file":
        out.append(f"log driver {driver!r} is not supported by this engine: json-file is used")
    return out
