"""Short syntax to long syntax, defaults and resolved paths: a pure function over a plain dict.

The output is what ``pycompose config`` prints and what ``Project.from_dict`` reads. It follows Docker Compose's
``config`` output (compose-go's canonical form: default network, implied depends_on, secret targets, engine
names...) with these choices of our own, made so that the model is typed: byte sizes are integers
(``mem_limit: 536870912``; ``deploy.resources.*.memory`` a digit string, as the schema wants a string there),
ulimits are always ``{soft, hard}``, durations are Go duration strings (``1m30s``), ``extra_hosts`` are
``host=ip`` strings, and every flag is a real boolean. The output is itself a valid Compose file (schema-valid,
and canonicalizing it again changes nothing); a secret's value is never copied into it.

Each service key has one rule in ``SERVICE_RULES`` (``canonical_rules``); keys without one are copied. A value
that cannot be read is reported with its key path; all such problems are raised together as one ``UserError``
(``validate.check`` runs this function to locate them in the file first).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from compose.canonical_rules import DROPPED, SERVICE_RULES
from compose.canonical_values import Context, KeyPath, as_flag, as_mapping, resolve_path, text
from compose.errors import UserError
from compose.plain import clone

__all__ = ["canonicalize", "resolve_path"]

_RESOURCES = ("networks", "volumes", "secrets", "configs")
_SERVICE_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")


def canonicalize(config: dict[str, Any], project_dir: Path, environment: dict[str, str], *,
                 resolve_paths: bool = True) -> dict[str, Any]:
    """Return the canonical (long syntax, defaults filled, paths absolute) form of a schema-valid config.

    ``environment`` is the interpolation environment: it fills ``environment: [FOO]`` and ``args: [FOO]``
    pass-through values and ``~`` in paths. When ``config["name"]`` is set, networks, volumes, secrets and
    configs get their engine names (``<project>_<key>``; an external one keeps its own). The input is not modified.
    ``resolve_paths=False`` leaves host paths as written (``config --no-path-resolution``).
    """
    ctx = Context(Path(os.path.abspath(project_dir)), dict(environment), resolve_paths=resolve_paths)
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


# ---------------------------------------------------------------------------------------------- resources


def _resource(kind: str, key: str, value: Any, project: str | None, ctx: Context) -> dict[str, Any]:
    path: KeyPath = (kind, key)
    body = clone(value) if isinstance(value, dict) else {}
    external = body.get("external")
    if external is not None:
        if isinstance(external, dict):
            if external.get("name") and not body.get("name"):
                body["name"] = external["name"]
            body["external"] = True
        else:
            body["external"] = as_flag(external, path + ("external",), ctx)
        if not body["external"]:
            del body["external"]
    if "labels" in body:
        body["labels"] = as_mapping(body["labels"], path + ("labels",), ctx)
    if "driver_opts" in body:
        body["driver_opts"] = {k: text(v) for k, v in body["driver_opts"].items()}
    for flag in ("internal", "attachable", "enable_ipv4", "enable_ipv6"):
        if flag in body:
            body[flag] = as_flag(body[flag], path + (flag,), ctx)
    if kind in ("secrets", "configs") and "file" in body:
        body["file"] = ctx.path(body["file"])
    if kind == "configs" and body.get("environment") in ctx.environment:
        body["content"] = ctx.environment[body["environment"]]  # never for secrets: `config` must not print them
    options = body.get("driver_opts") or {}
    if kind == "volumes" and body.get("driver") == "local" and options.get("o") == "bind" and "device" in options:
        options["device"] = ctx.path(options["device"])
    if not body.get("name"):
        if body.get("external"):
            body["name"] = key
        elif project:
            body["name"] = f"{project}_{key}"
    return dict(sorted(body.items()))


# ----------------------------------------------------------------------------------------------- services


def _service(raw: dict[str, Any], path: KeyPath, ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in DROPPED:
            continue
        rule = SERVICE_RULES.get(key)
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
        if name not in depends and _SERVICE_NAME.match(name):
            depends[name] = {"condition": "service_started", "required": True, **({"restart": True} if restart else {})}
