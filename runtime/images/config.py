"""Image configs (the OCI/Docker ``application/vnd.oci.image.config.v1+json`` document) and changes to them.

``changes`` come either as a dict of the config section's keys (``{"Cmd": ["sh"], "Env": ["A=1"]}``) or as
Dockerfile-style lines, the way ``docker import --change`` and ``docker commit --change`` pass them
(``CMD ["sh"]``, ``ENV A=1``, ``EXPOSE 80/tcp``, ``LABEL a=b``, ``VOLUME /data``, ``WORKDIR /app``, ``USER x``,
``ENTRYPOINT``, ``STOPSIGNAL``, ``ONBUILD``, ``HEALTHCHECK``).
"""
from __future__ import annotations

import json
import platform
import shlex
from typing import Any, Iterable, Mapping

from runtime.errors import InvalidArgument
from runtime.timestamps import now_rfc3339

__all__ = ["CONFIG_KEYS", "new_config", "apply_changes", "parse_changes", "host_platform", "now_rfc3339",
           "config_bytes"]

CONFIG_KEYS = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
               "StopSignal", "Healthcheck", "OnBuild", "Shell", "ArgsEscaped")
_MAP_KEYS = {"ExposedPorts", "Volumes", "Labels"}
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
         "armv6l": "arm", "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x",
         "riscv64": "riscv64"}
_VARIANT = {"armv7l": "v7", "armv6l": "v6", "aarch64": "v8", "arm64": "v8"}


def host_platform() -> dict[str, str]:
    """``{"os": "linux", "architecture": "amd64"}`` (plus ``variant`` on ARM), in OCI terms."""
    machine = platform.machine()
    out = {"os": "linux", "architecture": _ARCH.get(machine, machine)}
    if machine in _VARIANT:
        out["variant"] = _VARIANT[machine]
    return out


def new_config(diff_ids: list[str], *, container_config: Mapping[str, Any] | None = None,
               history: list[dict[str, Any]] | None = None, created: str | None = None,
               comment: str | None = None) -> dict[str, Any]:
    plat = host_platform()
    cfg: dict[str, Any] = {
        "architecture": plat["architecture"],
        "os": plat["os"],
        "created": created or now_rfc3339(),
        "config": dict(container_config or {}),
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": list(history or []),
    }
    if "variant" in plat:
        cfg["variant"] = plat["variant"]
    if comment:
        cfg["comment"] = comment
    return cfg


def config_bytes(cfg: Mapping[str, Any]) -> bytes:
    """Canonical serialisation of a config we create (the image id is the sha256 of these bytes)."""
    return json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()


def apply_changes(section: Mapping[str, Any], changes: Mapping[str, Any] | Iterable[str] | None) -> dict[str, Any]:
    """A new config section with ``changes`` applied. Env, Labels, ExposedPorts, Volumes merge; the rest replace."""
    out = dict(section)
    if not changes:
        return out
    if not isinstance(changes, Mapping):
        changes = parse_changes(changes)
    for key, value in changes.items():
        if key not in CONFIG_KEYS:
            raise InvalidArgument(f"unknown image config key {key!r} (known: {', '.join(CONFIG_KEYS)})")
        if key == "Env":
            env = {e.split("=", 1)[0]: e for e in out.get("Env") or []}
            for e in value or []:
                env[e.split("=", 1)[0]] = e
            out["Env"] = list(env.values())
        elif key in _MAP_KEYS:
            merged = dict(out.get(key) or {})
            merged.update(value or {})
            out[key] = merged
        elif key == "OnBuild":
            out["OnBuild"] = list(out.get("OnBuild") or []) + list(value or [])
        else:
            out[key] = value
    return out


def parse_changes(lines: Iterable[str]) -> dict[str, Any]:
    """Dockerfile-style change lines to a dict of config keys (later lines win, maps merge)."""
    result: dict[str, Any] = {}
    for line in lines:
        line = line.strip()
        if not line:
            continue
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        handler = _HANDLERS.get(word.upper())
        if handler is None:
            raise InvalidArgument(f"{word} is not a valid change command")
        key, value = handler(rest, line)
        if key in result and (key in _MAP_KEYS or key in ("Env", "OnBuild")):
            result = {**result, key: apply_changes({key: result[key]}, {key: value})[key]}
        else:
            result[key] = value
    return result


def _json_or_shell(rest: str, line: str) -> list[str]:
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    if not rest:
        raise InvalidArgument(f"{line!r}: missing arguments")
    return ["/bin/sh", "-c", rest]


def _pairs(rest: str, line: str) -> dict[str, str]:
    words = shlex.split(rest)
    if not words:
        raise InvalidArgument(f"{line!r}: missing arguments")
    if "=" not in words[0]:
        return {words[0]: rest.split(None, 1)[1] if len(words) > 1 else ""}  # legacy "ENV key value"
    out: dict[str, str] = {}
    for w in words:
        if "=" not in w:
            raise InvalidArgument(f"{line!r}: expected key=value, got {w!r}")
        k, v = w.split("=", 1)
        out[k] = v
    return out


def _ports(rest: str, line: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for p in rest.split():
        port, _, proto = p.partition("/")
        if not port.replace("-", "").isdigit():
            raise InvalidArgument(f"{line!r}: invalid port {p!r}")
        out[f"{port}/{proto or 'tcp'}"] = {}
    return out


def _volumes(rest: str, line: str) -> dict[str, dict]:
    paths = _json_or_shell(rest, line) if rest.startswith("[") else rest.split()
    if paths[:2] == ["/bin/sh", "-c"]:
        paths = rest.split()
    return {p: {} for p in paths}


def _one(rest: str, line: str) -> str:
    if not rest:
        raise InvalidArgument(f"{line!r}: missing argument")
    return rest


def _healthcheck(rest: str, line: str) -> dict[str, Any]:
    if rest.upper() == "NONE":
        return {"Test": ["NONE"]}
    opts: dict[str, Any] = {}
    words = rest.split()
    while words and words[0].startswith("--"):
        name, _, val = words.pop(0)[2:].partition("=")
        field = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
                 "start-interval": "StartInterval", "retries": "Retries"}.get(name)
        if field is None:
            raise InvalidArgument(f"{line!r}: unknown HEALTHCHECK option --{name}")
        opts[field] = int(val) if field == "Retries" else _duration_ns(val, line)
    if not words or words[0].upper() != "CMD":
        raise InvalidArgument(f"{line!r}: expected HEALTHCHECK [options] CMD command or HEALTHCHECK NONE")
    cmd_rest = " ".join(words[1:])
    cmd = _json_or_shell(cmd_rest, line)
    test = ["CMD", *cmd] if cmd[:2] != ["/bin/sh", "-c"] else ["CMD-SHELL", cmd_rest]
    return {"Test": test, **opts}


def _duration_ns(text: str, line: str) -> int:
    units = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
    total, num = 0.0, ""
    i = 0
    while i < len(text):
        c = text[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        unit = text[i:i + 2] if text[i:i + 2] in units else c
        if unit not in units or not num:
            raise InvalidArgument(f"{line!r}: invalid duration {text!r}")
        total += float(num) * units[unit]
        num, i = "", i + len(unit)
    if num:
        raise InvalidArgument(f"{line!r}: duration {text!r} needs a unit")
    return int(total)


_HANDLERS = {
    "CMD": lambda r, l: ("Cmd", _json_or_shell(r, l)),
    "ENTRYPOINT": lambda r, l: ("Entrypoint", _json_or_shell(r, l)),
    "ENV": lambda r, l: ("Env", [f"{k}={v}" for k, v in _pairs(r, l).items()]),
    "LABEL": lambda r, l: ("Labels", _pairs(r, l)),
    "EXPOSE": lambda r, l: ("ExposedPorts", _ports(r, l)),
    "VOLUME": lambda r, l: ("Volumes", _volumes(r, l)),
    "WORKDIR": lambda r, l: ("WorkingDir", _one(r, l)),
    "USER": lambda r, l: ("User", _one(r, l)),
    "STOPSIGNAL": lambda r, l: ("StopSignal", _one(r, l)),
    "ONBUILD": lambda r, l: ("OnBuild", [_one(r, l)]),
    "HEALTHCHECK": lambda r, l: ("Healthcheck", _healthcheck(r, l)),
}
