"""Rules of the canonical form for the composite service keys: ports, volumes, secrets and configs, depends_on,
networks, extra hosts, devices, env files, ulimits, healthcheck, logging, build, deploy, blkio and develop.

``SERVICE_RULES`` maps each service key to its rule; keys without one are copied as they are.
"""
from __future__ import annotations

import posixpath
import re
from typing import Any

from compose.canonical_values import (
    Context,
    KeyPath,
    Rule,
    as_bytes,
    as_command,
    as_duration,
    as_environment,
    as_flag,
    as_float,
    as_int,
    as_is,
    as_mapping,
    as_micros,
    as_strings,
    bounded,
    converter,
    text,
)
from compose.plain import clone
from compose.shortsyntax import parse_device, parse_extra_host, parse_port, parse_volume

__all__ = ["SERVICE_RULES", "DROPPED"]

_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")


def _ports(value: Any, path: KeyPath, ctx: Context) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        where = path + (index,)
        if isinstance(item, dict):
            entry: dict[str, Any] = {k: v for k, v in item.items() if k.startswith("x-") or k == "name"}
            entry["mode"] = item.get("mode", "ingress")
            if item.get("host_ip"):
                entry["host_ip"] = item["host_ip"]
            if item.get("target") in (None, ""):
                ctx.fail(where, "a port needs a 'target' (the container port)")
                continue
            entry["target"] = as_int(item["target"], where + ("target",), ctx)
            if item.get("published") not in (None, ""):
                entry["published"] = text(item["published"])
            entry["protocol"] = str(item.get("protocol", "tcp")).lower()
            if item.get("app_protocol"):
                entry["app_protocol"] = item["app_protocol"]
            out.append(entry)
            continue
        try:
            out.extend(parse_port(item))
        except ValueError as err:
            ctx.fail(where, str(err))
    return out


def _volumes(value: Any, path: KeyPath, ctx: Context) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        where = path + (index,)
        if isinstance(item, str):
            try:
                mount = parse_volume(item)
            except ValueError as err:
                ctx.fail(where, str(err))
                continue
        else:
            mount = clone(item)
        if "read_only" in mount:
            mount["read_only"] = as_flag(mount["read_only"], where + ("read_only",), ctx)
            if not mount["read_only"]:
                del mount["read_only"]
        if mount.get("type") == "bind" and mount.get("source"):
            mount["source"] = ctx.path(mount["source"])
        if isinstance(mount.get("target"), str) and mount["target"].startswith("/"):
            mount["target"] = posixpath.normpath(mount["target"])
        if mount.get("type") == "bind" and isinstance(mount.get("bind"), dict):
            mount["bind"].setdefault("create_host_path", True)
        for section, flags in (("bind", ("create_host_path",)), ("volume", ("nocopy",))):
            for flag in flags:
                if flag in (mount.get(section) or {}):
                    mount[section][flag] = as_flag(mount[section][flag], where + (section, flag), ctx)
        tmpfs = mount.get("tmpfs")
        if tmpfs and "size" in tmpfs:
            tmpfs["size"] = bounded(as_bytes, 0, None)(tmpfs["size"], where + ("tmpfs", "size"), ctx)
        if tmpfs and isinstance(tmpfs.get("mode"), str):
            tmpfs["mode"] = converter(lambda v: int(v, 8))(tmpfs["mode"], where + ("tmpfs", "mode"), ctx)
        out.append(mount)
    return out


def _grants(value: Any, path: KeyPath, ctx: Context) -> list[dict[str, Any]]:
    """A service's secrets or configs: ``[name]`` -> ``[{source: name}]``; ``mode`` as an int (strings are octal).

    A secret without a target gets ``/run/secrets/<source>``, as Docker Compose records it.
    """
    out = []
    for index, item in enumerate(value):
        grant = {"source": item} if isinstance(item, str) else clone(item)
        if path[-1] == "secrets" and path[-2] != "build":
            target = grant.get("target") or str(grant.get("source"))
            grant["target"] = target if target.startswith("/") else f"/run/secrets/{target}"
        if isinstance(grant.get("mode"), str):
            grant["mode"] = converter(lambda v: int(v, 8))(grant["mode"], path + (index, "mode"), ctx)
        out.append(grant)
    return out


def _depends_on(value: Any, path: KeyPath, ctx: Context) -> dict[str, dict[str, Any]]:
    if isinstance(value, list):
        return {name: {"condition": "service_started", "required": True}
                for name in _names(value, path, ctx, "service")}
    out: dict[str, dict[str, Any]] = {}
    for name, spec in value.items():
        entry = {k: v for k, v in spec.items() if k.startswith("x-")}
        entry["condition"] = spec["condition"]
        entry["required"] = spec.get("required", True)
        if "restart" in spec and as_flag(spec["restart"], path + (name, "restart"), ctx):
            entry["restart"] = True
        out[name] = entry
    return out


def _service_networks(value: Any, path: KeyPath, ctx: Context) -> dict[str, Any]:
    if isinstance(value, list):
        return {name: None for name in _names(value, path, ctx, "network")}
    return {name: clone(spec) for name, spec in value.items()}


def _names(items: list[str], path: KeyPath, ctx: Context, what: str) -> list[str]:
    """Names from a short-syntax list that will become mapping keys (which the schema restricts)."""
    good = []
    for index, name in enumerate(items):
        if _NAME.match(name):
            good.append(name)
        else:
            ctx.fail(path + (index,), f"invalid {what} name {name!r}: use only letters, digits, '.', '_' and '-'")
    return good


def _extra_hosts(value: Any, path: KeyPath, ctx: Context) -> list[str]:
    out: list[str] = []
    entries: list[tuple[KeyPath, str]] = []
    if isinstance(value, dict):
        for host, addresses in value.items():
            for address in [addresses] if isinstance(addresses, str) else addresses:
                entries.append((path + (host,), f"{host}={address}"))
    else:
        entries = [(path + (index,), item) for index, item in enumerate(value)]
    for where, item in entries:
        try:
            host, address = parse_extra_host(item)
        except ValueError as err:
            ctx.fail(where, str(err))
            continue
        out.append(f"{host}={address}")
    return out


def _unique(items: list[Any]) -> list[Any]:
    """Drop repeats that only became equal in long syntax (``80`` and ``"80"``): the schema wants unique items."""
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _devices(value: Any, path: KeyPath, ctx: Context) -> list[dict[str, Any]]:
    out = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            out.append({"source": item["source"], "target": item.get("target") or item["source"],
                        "permissions": item.get("permissions") or "rwm"})
            continue
        try:
            out.append(parse_device(item))
        except ValueError as err:
            ctx.fail(path + (index,), str(err))
    return out


def _env_file(value: Any, path: KeyPath, ctx: Context) -> list[dict[str, Any]]:
    out = []
    for index, item in enumerate([value] if isinstance(value, str) else value):
        entry: dict[str, Any] = {"path": item, "required": True} if isinstance(item, str) else dict(item)
        entry["path"] = ctx.path(str(entry["path"]))
        entry["required"] = as_flag(entry.get("required", True), path + (index, "required"), ctx)
        out.append(entry)
    return out


def _label_file(value: Any, path: KeyPath, ctx: Context) -> list[str]:
    return [ctx.path(p) for p in as_strings(value, path, ctx)]


def _ulimits(value: Any, path: KeyPath, ctx: Context) -> dict[str, dict[str, int]]:
    out = {}
    for name, limit in value.items():
        where = path + (name,)
        if isinstance(limit, dict):
            out[name] = {"soft": as_int(limit.get("soft"), where + ("soft",), ctx),
                         "hard": as_int(limit.get("hard"), where + ("hard",), ctx)}
        else:
            single = as_int(limit, where, ctx)
            out[name] = {"soft": single, "hard": single}
    return out


def _healthcheck(value: Any, path: KeyPath, ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = clone(value)
    test = out.get("test")
    if isinstance(test, str):
        out["test"] = ["CMD-SHELL", test]
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if key in out:
            out[key] = as_duration(out[key], path + (key,), ctx)
    if "retries" in out:
        out["retries"] = as_int(out["retries"], path + ("retries",), ctx)
    if "disable" in out:
        out["disable"] = as_flag(out["disable"], path + ("disable",), ctx)
    return out


def _logging(value: Any, path: KeyPath, ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = clone(value)
    if out.get("options"):
        out["options"] = {k: None if v is None else text(v) for k, v in out["options"].items()}
    return out


def _is_remote(context: str) -> bool:
    return "://" in context or context.startswith(("git@", "github.com/"))


def _build(value: Any, path: KeyPath, ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {"context": value} if isinstance(value, str) else clone(value)
    context = out.get("context", ".")
    out["context"] = context if _is_remote(context) else ctx.path(context)
    if "dockerfile_inline" not in out:
        out.setdefault("dockerfile", "Dockerfile")
    if "args" in out:
        out["args"] = as_environment(out["args"], path + ("args",), ctx)
    for key in ("labels", "additional_contexts"):
        if key in out:
            out[key] = as_mapping(out[key], path + (key,), ctx)
    for name, where in (out.get("additional_contexts") or {}).items():
        if not _is_remote(where) and ":" not in where.split("/")[0]:
            out["additional_contexts"][name] = ctx.path(where)
    if "ssh" in out and isinstance(out["ssh"], dict):
        out["ssh"] = [f"{k}={v}" if v is not None else k for k, v in out["ssh"].items()]
    for key in ("no_cache", "pull", "privileged"):
        if key in out:
            out[key] = as_flag(out[key], path + (key,), ctx)
    for key, rule in (("shm_size", as_bytes), ("extra_hosts", _extra_hosts), ("ulimits", _ulimits),
                      ("secrets", _grants)):
        if key in out:
            out[key] = rule(out[key], path + (key,), ctx)
    return out


def _develop(value: Any, path: KeyPath, ctx: Context) -> dict[str, Any] | None:
    if value is None:
        return None
    out: dict[str, Any] = clone(value)
    for rule in out.get("watch") or []:
        if isinstance(rule.get("path"), str):
            rule["path"] = ctx.path(rule["path"])
    return out


def _deploy(value: Any, path: KeyPath, ctx: Context) -> dict[str, Any] | None:
    if value is None:
        return None
    out: dict[str, Any] = clone(value)
    if "replicas" in out:
        out["replicas"] = as_int(out["replicas"], path + ("replicas",), ctx)
    if "labels" in out:
        out["labels"] = as_mapping(out["labels"], path + ("labels",), ctx)
    resources = out.get("resources") or {}
    for part in ("limits", "reservations"):
        section = resources.get(part) or {}
        where = path + ("resources", part)
        if "cpus" in section:
            section["cpus"] = as_float(section["cpus"], where + ("cpus",), ctx)
        if "memory" in section:  # the schema wants a string here: bytes as a digit string, as Compose prints
            memory = as_bytes(section["memory"], where + ("memory",), ctx)
            section["memory"] = str(memory) if isinstance(memory, int) else memory
        if "pids" in section:
            section["pids"] = as_int(section["pids"], where + ("pids",), ctx)
        for device in section.get("devices") or []:
            if device.get("count") is None and not device.get("device_ids"):
                device["count"] = -1  # "all", as Docker Compose records it
            elif device.get("count") == "all":
                device["count"] = -1
    policy = out.get("restart_policy") or {}
    for key in ("delay", "window"):
        if key in policy:
            policy[key] = as_duration(policy[key], path + ("restart_policy", key), ctx)
    if "max_attempts" in policy:
        policy["max_attempts"] = as_int(policy["max_attempts"], path + ("restart_policy", "max_attempts"), ctx)
    for section_name in ("update_config", "rollback_config"):
        section = out.get(section_name) or {}
        for key in ("delay", "monitor"):
            if key in section:
                section[key] = as_duration(section[key], path + (section_name, key), ctx)
        if "parallelism" in section:
            section["parallelism"] = as_int(section["parallelism"], path + (section_name, "parallelism"), ctx)
        if "max_failure_ratio" in section:
            section["max_failure_ratio"] = as_float(section["max_failure_ratio"],
                                                  path + (section_name, "max_failure_ratio"), ctx)
    return out


def _blkio(value: Any, path: KeyPath, ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = clone(value)
    if "weight" in out:
        out["weight"] = as_int(out["weight"], path + ("weight",), ctx)
    for key in ("device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops"):
        convert = as_bytes if key.endswith("bps") else as_int
        for index, limit in enumerate(out.get(key) or []):
            if "rate" in limit:
                limit["rate"] = convert(limit["rate"], path + (key, index, "rate"), ctx)
    for index, limit in enumerate(out.get("weight_device") or []):
        if "weight" in limit:
            limit["weight"] = as_int(limit["weight"], path + ("weight_device", index, "weight"), ctx)
    return out


DROPPED = frozenset({"extends"})  # resolved by the loader before canonicalization
SERVICE_RULES: dict[str, Rule] = {
    "annotations": as_mapping,
    "attach": as_flag,
    "blkio_config": _blkio,
    "build": _build,
    "command": as_command,
    "cpu_count": bounded(as_int, 0, None),
    "cpu_percent": bounded(as_int, 0, 100),
    "cpu_period": as_int,
    "cpu_quota": as_int,
    "cpu_rt_period": as_micros,
    "cpu_rt_runtime": as_micros,
    "cpu_shares": as_int,
    "cpus": as_float,
    "depends_on": _depends_on,
    "devices": _devices,
    "dns": as_strings,
    "dns_opt": as_strings,
    "dns_search": as_strings,
    "entrypoint": as_command,
    "env_file": _env_file,
    "environment": as_environment,
    "expose": lambda v, p, c: _unique(as_strings(v, p, c)),
    "extra_hosts": lambda v, p, c: _unique(_extra_hosts(v, p, c)),
    "group_add": lambda v, p, c: _unique(as_strings(v, p, c)),
    "healthcheck": _healthcheck,
    "init": as_flag,
    "label_file": _label_file,
    "labels": as_mapping,
    "logging": _logging,
    "mem_limit": as_bytes,
    "mem_reservation": as_bytes,
    "mem_swappiness": as_int,
    "memswap_limit": as_bytes,
    "networks": _service_networks,
    "oom_kill_disable": as_flag,
    "oom_score_adj": bounded(as_int, -1000, 1000),
    "pid": as_is,
    "pids_limit": as_int,
    "ports": lambda v, p, c: _unique(_ports(v, p, c)),
    "privileged": as_flag,
    "read_only": as_flag,
    "scale": as_int,
    "secrets": _grants,
    "configs": _grants,
    "shm_size": as_bytes,
    "stdin_open": as_flag,
    "stop_grace_period": as_duration,
    "sysctls": as_mapping,
    "tmpfs": as_strings,
    "tty": as_flag,
    "ulimits": _ulimits,
    "volumes": lambda v, p, c: _unique(_volumes(v, p, c)),
    "deploy": _deploy,
    "develop": _develop,
}
