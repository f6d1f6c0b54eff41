"""Short syntax to long syntax, defaults and resolved paths: a pure function over a plain dict.

The output is what ``pycompose config`` prints and what ``Project.from_dict`` reads. It follows Docker Compose's
``config`` output (compose-go's canonical form) with these choices of our own, made so that the model is typed:
byte sizes are integers (``mem_limit: 536870912``), ulimits are always ``{soft, hard}``, durations are Go
duration strings (``1m30s``), ``extra_hosts`` are ``host=ip`` strings, and every flag is a real boolean.

Each service key has one rule in ``_SERVICE_RULES`` (key -> function of value, key path, context); keys without
a rule are copied. A value the checks in ``validate`` let through but that cannot be read raises ``UserError``
naming the key path; all such problems are collected and raised together.
"""
from __future__ import annotations

import os
import posixpath
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from compose.errors import Problem, UserError
from compose.plain import clone
from compose.shortsyntax import parse_device, parse_extra_host, parse_port, parse_volume
from compose.units import format_duration, parse_bool, parse_bytes, parse_duration, parse_float, parse_int

__all__ = ["canonicalize", "resolve_path", "NETWORK_MODES_WITHOUT_NETWORKS"]

KeyPath = tuple[str | int, ...]
NETWORK_MODES_WITHOUT_NETWORKS = ("host", "none", "bridge")
_RESOURCES = ("networks", "volumes", "secrets", "configs")


@dataclass
class _Context:
    project_dir: Path
    environment: dict[str, str]
    problems: list[Problem] = field(default_factory=list)

    def fail(self, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(message, path))


def canonicalize(config: dict[str, Any], project_dir: Path, environment: dict[str, str]) -> dict[str, Any]:
    """Return the canonical (long syntax, defaults filled, paths absolute) form of a schema-valid config.

    ``environment`` is the interpolation environment: it fills ``environment: [FOO]`` and ``args: [FOO]``
    pass-through values and ``~`` in paths. When ``config["name"]`` is set, networks, volumes, secrets and
    configs get their engine names (``<project>_<key>``; an external one keeps its own). The input is not modified.
    """
    ctx = _Context(Path(os.path.abspath(project_dir)), dict(environment))
    out: dict[str, Any] = {}
    project = config.get("name")
    if project:
        out["name"] = project
    services: dict[str, Any] = {}
    for name in sorted(config.get("services") or {}):
        services[name] = _service(config["services"][name] or {}, ("services", name), ctx)
    out["services"] = services
    uses_default = any("default" in (svc.get("networks") or {}) for svc in services.values())
    for kind in _RESOURCES:
        declared = config.get(kind) or {}
        entries = {key: _resource(kind, key, value, project, ctx) for key, value in sorted(declared.items())}
        if kind == "networks" and uses_default and "default" not in entries:
            entries["default"] = _resource(kind, "default", None, project, ctx)
        if entries:
            out[kind] = entries
    if config.get("models"):
        out["models"] = clone(config["models"])
    for key, value in config.items():
        if isinstance(key, str) and key.startswith("x-"):
            out[key] = clone(value)
    if ctx.problems:
        raise UserError(ctx.problems)
    return out


def resolve_path(path: str, project_dir: Path, environment: dict[str, str] | None = None) -> str:
    """An absolute, normalized host path: ``~`` expanded, relative paths taken from ``project_dir``."""
    if path == "~" or path.startswith("~/"):
        home = (environment or {}).get("HOME") or os.path.expanduser("~")
        path = home + path[1:]
    return os.path.normpath(os.path.join(project_dir, path))


# ---------------------------------------------------------------------------------------------- resources


def _resource(kind: str, key: str, value: Any, project: str | None, ctx: _Context) -> dict[str, Any]:
    path: KeyPath = (kind, key)
    body = clone(value) if isinstance(value, dict) else {}
    external = body.get("external")
    if external is not None:
        if isinstance(external, dict):
            if external.get("name") and not body.get("name"):
                body["name"] = external["name"]
            body["external"] = True
        else:
            body["external"] = _flag(external, path + ("external",), ctx)
        if not body["external"]:
            del body["external"]
    if "labels" in body:
        body["labels"] = _mapping(body["labels"], path + ("labels",), ctx)
    if "driver_opts" in body:
        body["driver_opts"] = {k: _text(v) for k, v in body["driver_opts"].items()}
    for flag in ("internal", "attachable", "enable_ipv4", "enable_ipv6"):
        if flag in body:
            body[flag] = _flag(body[flag], path + (flag,), ctx)
    if kind in ("secrets", "configs") and "file" in body:
        body["file"] = resolve_path(body["file"], ctx.project_dir, ctx.environment)
    if kind in ("secrets", "configs") and body.get("environment") in ctx.environment:
        body["content"] = ctx.environment[body["environment"]]
    options = body.get("driver_opts") or {}
    if kind == "volumes" and body.get("driver") == "local" and options.get("o") == "bind" and "device" in options:
        options["device"] = resolve_path(options["device"], ctx.project_dir, ctx.environment)
    if not body.get("name"):
        if body.get("external"):
            body["name"] = key
        elif project:
            body["name"] = f"{project}_{key}"
    return dict(sorted(body.items()))


# ----------------------------------------------------------------------------------------------- services


def _service(raw: dict[str, Any], path: KeyPath, ctx: _Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _DROPPED:
            continue
        rule = _SERVICE_RULES.get(key)
        result = rule(value, path + (key,), ctx) if rule else clone(value)
        if result is not None:
            out[key] = result
    if "networks" not in out and "network_mode" not in out and "provider" not in out:
        out["networks"] = {"default": None}
    if out.get("pull_policy") == "if_not_present":
        out["pull_policy"] = "missing"
    _infer_depends_on(out)
    return dict(sorted(out.items()))


def _infer_depends_on(service: dict[str, Any]) -> None:
    """Links, ``service:`` namespaces and volumes_from imply a dependency (as Docker Compose records them)."""
    implied: list[tuple[str, bool]] = [(link.split(":", 1)[0], True) for link in service.get("links") or []]
    for key in ("network_mode", "ipc", "pid", "uts"):
        value = service.get(key)
        if isinstance(value, str) and value.startswith("service:"):
            implied.append((value.split(":", 1)[1], True))
    for item in service.get("volumes_from") or []:
        if not item.startswith("container:"):
            implied.append((item.split(":", 1)[0], False))
    if not implied:
        return
    depends = service.setdefault("depends_on", {})
    for name, restart in implied:
        if name not in depends:
            depends[name] = {"condition": "service_started", "required": True, **({"restart": True} if restart else {})}


def _command(value: Any, path: KeyPath, ctx: _Context) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as err:
            ctx.fail(path, f"cannot split the command into words: {err}")
            return [value]
    return [str(v) for v in value]


def _mapping(value: Any, path: KeyPath, ctx: _Context) -> dict[str, str]:
    """labels, annotations, sysctls: list of ``k=v`` or mapping -> mapping of strings."""
    if isinstance(value, dict):
        return {str(k): "" if v is None else _text(v) for k, v in value.items()}
    out: dict[str, str] = {}
    for item in value:
        key, _, val = str(item).partition("=")
        out[key.strip()] = val
    return out


def _environment(value: Any, path: KeyPath, ctx: _Context) -> dict[str, str | None]:
    """``[A=1, B]`` or ``{A: 1, B: null}`` -> ``{A: "1", B: <from the environment, else null>}``."""
    out: dict[str, str | None] = {}
    items = value.items() if isinstance(value, dict) else (_split_env(str(i)) for i in value)
    for key, val in items:
        key = str(key)
        out[key] = ctx.environment.get(key) if val is None else _text(val)
    return out


def _split_env(item: str) -> tuple[str, str | None]:
    key, sep, val = item.partition("=")
    return key, (val if sep else None)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _strings(value: Any, path: KeyPath, ctx: _Context) -> list[str]:
    return [value] if isinstance(value, str) else [_text(v) for v in value]


def _flag(value: Any, path: KeyPath, ctx: _Context) -> bool:
    try:
        return parse_bool(value)
    except ValueError as err:
        ctx.fail(path, str(err))
        return False


def _converter(parse: Callable[[Any], Any]) -> Callable[[Any, KeyPath, _Context], Any]:
    def convert(value: Any, path: KeyPath, ctx: _Context) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as err:
            ctx.fail(path, str(err))
            return value

    return convert


_int = _converter(parse_int)
_float = _converter(parse_float)
_bytes = _converter(parse_bytes)
_duration = _converter(lambda v: format_duration(parse_duration(v)))


def _micros(value: Any, path: KeyPath, ctx: _Context) -> Any:
    """cpu_rt_period/runtime: microseconds, as a number or a duration."""
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        return _converter(lambda v: int(parse_duration(v) * 1_000_000))(value, path, ctx)
    return _int(value, path, ctx)


def _ports(value: Any, path: KeyPath, ctx: _Context) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        where = path + (index,)
        if isinstance(item, dict):
            entry: dict[str, Any] = {k: v for k, v in item.items() if k.startswith("x-") or k == "name"}
            entry["mode"] = item.get("mode", "ingress")
            if item.get("host_ip"):
                entry["host_ip"] = item["host_ip"]
            entry["target"] = _int(item.get("target"), where + ("target",), ctx)
            if item.get("published") not in (None, ""):
                entry["published"] = _text(item["published"])
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


def _volumes(value: Any, path: KeyPath, ctx: _Context) -> list[dict[str, Any]]:
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
            mount["read_only"] = _flag(mount["read_only"], where + ("read_only",), ctx)
            if not mount["read_only"]:
                del mount["read_only"]
        if mount.get("type") == "bind" and mount.get("source"):
            mount["source"] = resolve_path(mount["source"], ctx.project_dir, ctx.environment)
        if isinstance(mount.get("target"), str) and mount["target"].startswith("/"):
            mount["target"] = posixpath.normpath(mount["target"])
        if mount.get("type") == "bind" and isinstance(mount.get("bind"), dict):
            mount["bind"].setdefault("create_host_path", True)
        for section, flags in (("bind", ("create_host_path",)), ("volume", ("nocopy",))):
            for flag in flags:
                if flag in (mount.get(section) or {}):
                    mount[section][flag] = _flag(mount[section][flag], where + (section, flag), ctx)
        tmpfs = mount.get("tmpfs")
        if tmpfs and "size" in tmpfs:
            tmpfs["size"] = _bytes(tmpfs["size"], where + ("tmpfs", "size"), ctx)
        if tmpfs and isinstance(tmpfs.get("mode"), str):
            tmpfs["mode"] = _converter(lambda v: int(v, 8))(tmpfs["mode"], where + ("tmpfs", "mode"), ctx)
        out.append(mount)
    return out


def _grants(value: Any, path: KeyPath, ctx: _Context) -> list[dict[str, Any]]:
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
            grant["mode"] = _converter(lambda v: int(v, 8))(grant["mode"], path + (index, "mode"), ctx)
        out.append(grant)
    return out


def _depends_on(value: Any, path: KeyPath, ctx: _Context) -> dict[str, dict[str, Any]]:
    if isinstance(value, list):
        return {name: {"condition": "service_started", "required": True} for name in value}
    out: dict[str, dict[str, Any]] = {}
    for name, spec in value.items():
        entry = {k: v for k, v in spec.items() if k.startswith("x-")}
        entry["condition"] = spec["condition"]
        entry["required"] = spec.get("required", True)
        if "restart" in spec and _flag(spec["restart"], path + (name, "restart"), ctx):
            entry["restart"] = True
        out[name] = entry
    return out


def _service_networks(value: Any, path: KeyPath, ctx: _Context) -> dict[str, Any]:
    if isinstance(value, list):
        return {name: None for name in value}
    return {name: clone(spec) for name, spec in value.items()}


def _extra_hosts(value: Any, path: KeyPath, ctx: _Context) -> list[str]:
    out: list[str] = []
    if isinstance(value, dict):
        for host, addresses in value.items():
            for address in [addresses] if isinstance(addresses, str) else addresses:
                out.append(f"{host}={address.strip('[]')}")
        return out
    for index, item in enumerate(value):
        try:
            host, address = parse_extra_host(item)
        except ValueError as err:
            ctx.fail(path + (index,), str(err))
            continue
        out.append(f"{host}={address}")
    return out


def _devices(value: Any, path: KeyPath, ctx: _Context) -> list[dict[str, Any]]:
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


def _env_file(value: Any, path: KeyPath, ctx: _Context) -> list[dict[str, Any]]:
    out = []
    for index, item in enumerate([value] if isinstance(value, str) else value):
        entry: dict[str, Any] = {"path": item, "required": True} if isinstance(item, str) else dict(item)
        entry["path"] = resolve_path(str(entry["path"]), ctx.project_dir, ctx.environment)
        entry["required"] = _flag(entry.get("required", True), path + (index, "required"), ctx)
        out.append(entry)
    return out


def _label_file(value: Any, path: KeyPath, ctx: _Context) -> list[str]:
    return [resolve_path(p, ctx.project_dir, ctx.environment) for p in _strings(value, path, ctx)]


def _ulimits(value: Any, path: KeyPath, ctx: _Context) -> dict[str, dict[str, int]]:
    out = {}
    for name, limit in value.items():
        where = path + (name,)
        if isinstance(limit, dict):
            out[name] = {"soft": _int(limit.get("soft"), where + ("soft",), ctx),
                         "hard": _int(limit.get("hard"), where + ("hard",), ctx)}
        else:
            single = _int(limit, where, ctx)
            out[name] = {"soft": single, "hard": single}
    return out


def _healthcheck(value: Any, path: KeyPath, ctx: _Context) -> dict[str, Any]:
    out: dict[str, Any] = clone(value)
    test = out.get("test")
    if isinstance(test, str):
        out["test"] = ["CMD-SHELL", test]
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if key in out:
            out[key] = _duration(out[key], path + (key,), ctx)
    if "retries" in out:
        out["retries"] = _int(out["retries"], path + ("retries",), ctx)
    if "disable" in out:
        out["disable"] = _flag(out["disable"], path + ("disable",), ctx)
    return out


def _logging(value: Any, path: KeyPath, ctx: _Context) -> dict[str, Any]:
    out: dict[str, Any] = clone(value)
    if out.get("options"):
        out["options"] = {k: None if v is None else _text(v) for k, v in out["options"].items()}
    return out


def _is_remote(context: str) -> bool:
    return "://" in context or context.startswith(("git@", "github.com/"))


def _build(value: Any, path: KeyPath, ctx: _Context) -> dict[str, Any]:
    out: dict[str, Any] = {"context": value} if isinstance(value, str) else clone(value)
    context = out.get("context", ".")
    out["context"] = context if _is_remote(context) else resolve_path(context, ctx.project_dir, ctx.environment)
    if "dockerfile_inline" not in out:
        out.setdefault("dockerfile", "Dockerfile")
    if "args" in out:
        out["args"] = _environment(out["args"], path + ("args",), ctx)
    for key in ("labels", "additional_contexts"):
        if key in out:
            out[key] = _mapping(out[key], path + (key,), ctx)
    for name, where in (out.get("additional_contexts") or {}).items():
        if not _is_remote(where) and ":" not in where.split("/")[0]:
            out["additional_contexts"][name] = resolve_path(where, ctx.project_dir, ctx.environment)
    if "ssh" in out and isinstance(out["ssh"], dict):
        out["ssh"] = [f"{k}={v}" if v is not None else k for k, v in out["ssh"].items()]
    for key in ("no_cache", "pull", "privileged"):
        if key in out:
            out[key] = _flag(out[key], path + (key,), ctx)
    for key, rule in (("shm_size", _bytes), ("extra_hosts", _extra_hosts), ("ulimits", _ulimits),
                      ("secrets", _grants)):
        if key in out:
            out[key] = rule(out[key], path + (key,), ctx)
    return out


def _develop(value: Any, path: KeyPath, ctx: _Context) -> dict[str, Any] | None:
    if value is None:
        return None
    out: dict[str, Any] = clone(value)
    for rule in out.get("watch") or []:
        if isinstance(rule.get("path"), str):
            rule["path"] = resolve_path(rule["path"], ctx.project_dir, ctx.environment)
    return out


def _deploy(value: Any, path: KeyPath, ctx: _Context) -> dict[str, Any] | None:
    if value is None:
        return None
    out: dict[str, Any] = clone(value)
    if "replicas" in out:
        out["replicas"] = _int(out["replicas"], path + ("replicas",), ctx)
    if "labels" in out:
        out["labels"] = _mapping(out["labels"], path + ("labels",), ctx)
    resources = out.get("resources") or {}
    for part in ("limits", "reservations"):
        section = resources.get(part) or {}
        where = path + ("resources", part)
        if "cpus" in section:
            section["cpus"] = _float(section["cpus"], where + ("cpus",), ctx)
        if "memory" in section:
            section["memory"] = _bytes(section["memory"], where + ("memory",), ctx)
        if "pids" in section:
            section["pids"] = _int(section["pids"], where + ("pids",), ctx)
        for device in section.get("devices") or []:
            if device.get("count") is None and not device.get("device_ids"):
                device["count"] = -1  # "all", as Docker Compose records it
            elif device.get("count") == "all":
                device["count"] = -1
    policy = out.get("restart_policy") or {}
    for key in ("delay", "window"):
        if key in policy:
            policy[key] = _duration(policy[key], path + ("restart_policy", key), ctx)
    if "max_attempts" in policy:
        policy["max_attempts"] = _int(policy["max_attempts"], path + ("restart_policy", "max_attempts"), ctx)
    for section_name in ("update_config", "rollback_config"):
        section = out.get(section_name) or {}
        for key in ("delay", "monitor"):
            if key in section:
                section[key] = _duration(section[key], path + (section_name, key), ctx)
        if "parallelism" in section:
            section["parallelism"] = _int(section["parallelism"], path + (section_name, "parallelism"), ctx)
        if "max_failure_ratio" in section:
            section["max_failure_ratio"] = _float(section["max_failure_ratio"],
                                                  path + (section_name, "max_failure_ratio"), ctx)
    return out


def _blkio(value: Any, path: KeyPath, ctx: _Context) -> dict[str, Any]:
    out: dict[str, Any] = clone(value)
    if "weight" in out:
        out["weight"] = _int(out["weight"], path + ("weight",), ctx)
    for key in ("device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops"):
        convert = _bytes if key.endswith("bps") else _int
        for index, limit in enumerate(out.get(key) or []):
            if "rate" in limit:
                limit["rate"] = convert(limit["rate"], path + (key, index, "rate"), ctx)
    for index, limit in enumerate(out.get("weight_device") or []):
        if "weight" in limit:
            limit["weight"] = _int(limit["weight"], path + ("weight_device", index, "weight"), ctx)
    return out


def _as_is(value: Any, path: KeyPath, ctx: _Context) -> Any:
    return clone(value)


_DROPPED = frozenset({"extends"})  # resolved by the loader before canonicalization
_SERVICE_RULES: dict[str, Callable[[Any, KeyPath, _Context], Any]] = {
    "annotations": _mapping,
    "attach": _flag,
    "blkio_config": _blkio,
    "build": _build,
    "command": _command,
    "cpu_count": _int,
    "cpu_percent": _int,
    "cpu_period": _int,
    "cpu_quota": _int,
    "cpu_rt_period": _micros,
    "cpu_rt_runtime": _micros,
    "cpu_shares": _int,
    "cpus": _float,
    "depends_on": _depends_on,
    "devices": _devices,
    "dns": _strings,
    "dns_opt": _strings,
    "dns_search": _strings,
    "entrypoint": _command,
    "env_file": _env_file,
    "environment": _environment,
    "expose": _strings,
    "extra_hosts": _extra_hosts,
    "group_add": _strings,
    "healthcheck": _healthcheck,
    "init": _flag,
    "label_file": _label_file,
    "labels": _mapping,
    "logging": _logging,
    "mem_limit": _bytes,
    "mem_reservation": _bytes,
    "mem_swappiness": _int,
    "memswap_limit": _bytes,
    "networks": _service_networks,
    "oom_kill_disable": _flag,
    "oom_score_adj": _int,
    "pid": _as_is,
    "pids_limit": _int,
    "ports": _ports,
    "privileged": _flag,
    "read_only": _flag,
    "scale": _int,
    "secrets": _grants,
    "configs": _grants,
    "shm_size": _bytes,
    "stdin_open": _flag,
    "stop_grace_period": _duration,
    "sysctls": _mapping,
    "tmpfs": _strings,
    "tty": _flag,
    "ulimits": _ulimits,
    "volumes": _volumes,
    "deploy": _deploy,
    "develop": _develop,
}
