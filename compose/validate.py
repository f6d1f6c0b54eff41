"""Semantic checks the schema cannot express: a list of small functions, errors kept apart from warnings.

``check`` runs on the merged, interpolated, schema-valid config (short syntax still present) and reports every
problem at once: references to undefined networks, volumes, secrets, configs and services; dependencies on
services that profiles disabled; dependency cycles (named); duplicate container names; bad ports, volumes,
durations and sizes (by running the canonicalizer and locating what it could not read); conflicting
``network_mode`` and ``networks``; and, as warnings by name, keys that are valid Compose but that pycompose
does not act on.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from compose.canonical import canonicalize
from compose.errors import Problem, UserError
from compose.shortsyntax import PROTOCOLS, is_path_source, port_range
from compose.validate_engine import ENGINE_RULES, replicas
from compose.validate_support import SUPPORT_RULES

__all__ = ["check", "dependency_edges", "ULIMITS"]

KeyPath = tuple[str | int, ...]

ULIMITS = frozenset({"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
                     "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"})
_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_PULL_POLICY = re.compile(r"^(always|never|build|if_not_present|missing|refresh|daily|weekly|every_([0-9]+[wdhms])+)$")
_RESTART = re.compile(r"^(no|always|unless-stopped|on-failure(:[0-9]+)?)$")


@dataclass
class _Checker:
    config: dict[str, Any]
    sources: Any
    disabled: dict[str, dict[str, Any]]
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def _problem(self, path: KeyPath, message: str) -> Problem:
        location = self.sources.locate(path) if self.sources is not None else None
        return Problem(message, path, location)

    def error(self, path: KeyPath, message: str) -> None:
        self.errors.append(self._problem(path, message))

    def warn(self, path: KeyPath, message: str) -> None:
        self.warnings.append(self._problem(path, message))

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return self.config.get("services") or {}

    def each_service(self) -> Iterator[tuple[str, dict[str, Any], KeyPath]]:
        for name, service in self.services.items():
            yield name, service or {}, ("services", name)

    def declared(self, kind: str) -> dict[str, Any]:
        return self.config.get(kind) or {}

    def service_ref(self, path: KeyPath, owner: str, target: str, how: str, required: bool = True) -> None:
        """``owner`` needs service ``target`` (``how``: 'depends on', 'links to'...)."""
        if target in self.services:
            return
        if target in self.disabled:
            profiles = ", ".join(self.disabled[target].get("profiles") or []) or "none"
            message = (f"service {owner!r} {how} service {target!r}, which is not enabled by the active profiles "
                       f"(its profiles: {profiles}); enable one with --profile")
        else:
            message = f"service {owner!r} {how} undefined service {target!r}"
            known = sorted(self.services)
            close = [n for n in known if n.lower() == target.lower()]
            if close:
                message += f", did you mean {close[0]!r}?"
        if required:
            self.error(path, message)
        else:
            self.warn(path, message + "; ignored (required: false)")


def check(
    config: dict[str, Any], sources: Any, disabled_services: dict[str, dict[str, Any]] | None = None
) -> tuple[list[Problem], list[Problem]]:
    """Check a schema-valid config. ``disabled_services`` are services removed by profiles (name -> config).

    ``sources.locate(path)`` (or ``sources=None``) gives each problem its file:line:col.
    Returns ``(errors, warnings)``, each sorted by location.
    """
    checker = _Checker(config, sources, dict(disabled_services or {}))
    for rule in _RULES:
        rule(checker)
    for engine_rule in ENGINE_RULES:
        engine_rule(checker)
    for support_rule in SUPPORT_RULES:
        support_rule(checker)
    return _unique_sorted(checker.errors), _unique_sorted(checker.warnings)


def _unique_sorted(problems: list[Problem]) -> list[Problem]:
    """Sorted by location; the same message twice for one key path (two rules agreeing) shown once."""
    seen: set[tuple[KeyPath, str]] = set()
    out = []
    for problem in sorted(problems, key=_sort_key):
        if (problem.path, problem.message) not in seen:
            seen.add((problem.path, problem.message))
            out.append(problem)
    return out


def _sort_key(problem: Problem) -> tuple[Any, ...]:
    loc = problem.location
    return (loc is None, (loc.file, loc.line, loc.column) if loc else ("", 0, 0), [str(p) for p in problem.path])


# ------------------------------------------------------------------------------------------------- rules


def _readable_values(c: _Checker) -> None:
    """Ports, volumes, durations, sizes, flags: whatever the canonicalizer cannot read is an error here."""
    try:
        canonicalize(c.config, Path("/"), {})
    except UserError as err:
        for problem in err.problems:
            c.error(problem.path, problem.message)


def _networks(c: _Checker) -> None:
    declared = c.declared("networks")
    for key in declared:
        if not _NAME.match(str(key)):
            c.error(("networks", key), f"invalid network name {key!r}: use only letters, digits, '.', '_' and '-'")
    for name, service, path in c.each_service():
        attached = service.get("networks")
        mode = service.get("network_mode")
        if attached is not None and mode is not None:
            c.error(path + ("network_mode",), f"'network_mode: {mode}' and 'networks' cannot be combined; "
                                              "remove one of them")
        if mode and mode.startswith("service:"):
            c.service_ref(path + ("network_mode",), name, mode.split(":", 1)[1], "shares the network of")
        names = list(attached) if attached is not None else []
        for index, network in enumerate(names):
            if network == "default" or network in declared:
                continue
            where = path + ("networks", index if isinstance(attached, list) else network)
            c.error(where, f"service {name!r} uses network {network!r}, which is not defined in the top-level "
                           "'networks'")


def _mounts(c: _Checker) -> None:
    volumes = c.declared("volumes")
    for name, service, path in c.each_service():
        for index, item in enumerate(service.get("volumes") or []):
            where = path + ("volumes", index)
            if isinstance(item, str):
                source = item.split(":")[0] if ":" in item else ""
                if source and not is_path_source(source) and source not in volumes:
                    c.error(where, f"service {name!r} mounts volume {source!r}, which is not defined in the "
                                   "top-level 'volumes'")
                continue
            kind, source, target = item.get("type"), item.get("source"), item.get("target")
            if kind == "volume" and source and source not in volumes:
                c.error(where + ("source",), f"service {name!r} mounts volume {source!r}, which is not defined in "
                                             "the top-level 'volumes'")
            if kind == "bind" and not source:
                c.error(where, "a bind mount needs a 'source' (a host path)")
            if kind != "npipe" and (not target or not str(target).startswith("/")):
                c.error(where + ("target",), f"the container path {target!r} must be absolute")
        for index, item in enumerate(service.get("volumes_from") or []):
            ref = item.rsplit(":", 1)[0] if item.endswith((":ro", ":rw")) else item
            if ref.startswith("container:"):
                continue
            c.service_ref(path + ("volumes_from", index), name, ref.removeprefix("service:"), "takes volumes from")


def _grants(c: _Checker) -> None:
    for kind in ("secrets", "configs"):
        declared = c.declared(kind)
        for name, service, path in c.each_service():
            build = service.get("build")
            lists = [(path + (kind,), service.get(kind) or [])]
            if kind == "secrets" and isinstance(build, dict):
                lists.append((path + ("build", "secrets"), build.get("secrets") or []))
            for where, grants in lists:
                for index, grant in enumerate(grants):
                    source = grant if isinstance(grant, str) else grant.get("source")
                    if source not in declared:
                        c.error(where + (index,), f"service {name!r} uses {kind[:-1]} {source!r}, which is not "
                                                  f"defined in the top-level '{kind}'")
        for key, spec in declared.items():
            spec = spec or {}
            sources = [k for k in ("file", "environment", "content", "external") if spec.get(k) not in (None, False)]
            if not sources:
                allowed = "'file', 'environment' or 'external'" + (" or 'content'" if kind == "configs" else "")
                c.error((kind, key), f"{kind[:-1]} {key!r} needs one of {allowed}")


def _dependencies(c: _Checker) -> None:
    for name, service, path in c.each_service():
        depends = service.get("depends_on") or []
        for index, target in enumerate(depends):
            required = True if isinstance(depends, list) else depends[target].get("required", True) is not False
            where = path + ("depends_on", index if isinstance(depends, list) else target)
            if target == name:
                c.error(where, f"service {name!r} depends on itself")
                continue
            c.service_ref(where, name, target, "depends on", required)
            condition = None if isinstance(depends, list) else depends[target].get("condition")
            if condition == "service_healthy" and _healthcheck_disabled(c.services.get(target)):
                c.error(where + ("condition",), f"service {name!r} waits for {target!r} to be healthy, but "
                                                f"{target!r} disables its healthcheck, so it never will")
        for index, link in enumerate(service.get("links") or []):
            c.service_ref(path + ("links", index), name, link.split(":", 1)[0], "links to")
        for key in ("ipc", "pid", "uts"):
            value = service.get(key)
            if isinstance(value, str) and value.startswith("service:"):
                c.service_ref(path + (key,), name, value.split(":", 1)[1], f"shares the {key} namespace of")


def _healthcheck_disabled(service: Any) -> bool:
    check = (service or {}).get("healthcheck") if isinstance(service, dict) else None
    if not isinstance(check, dict):
        return False
    test = check.get("test")
    disabled = check.get("disable") in (True, "true", "True", "1")
    return disabled or (isinstance(test, list) and test[:1] == ["NONE"]) or test == "NONE"


def dependency_edges(services: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, str]]:
    """``(service, needed service, key)`` for depends_on, links, network_mode/ipc/pid ``service:`` and volumes_from."""
    for name, service in services.items():
        service = service or {}
        for target in service.get("depends_on") or []:
            yield name, target, "depends_on"
        for link in service.get("links") or []:
            yield name, link.split(":", 1)[0], "links"
        for key in ("network_mode", "ipc", "pid", "uts"):
            value = service.get(key)
            if isinstance(value, str) and value.startswith("service:"):
                yield name, value.split(":", 1)[1], key
        for item in service.get("volumes_from") or []:
            ref = item.rsplit(":", 1)[0] if item.endswith((":ro", ":rw")) else item
            if not ref.startswith("container:"):
                yield name, ref.removeprefix("service:"), "volumes_from"


def _cycles(c: _Checker) -> None:
    """One named cycle per group of services that need each other (a strongly connected component)."""
    edges: dict[str, dict[str, str]] = {}
    for owner, target, key in dependency_edges(c.services):
        if owner != target and target in c.services:
            edges.setdefault(owner, {}).setdefault(target, key)
    for component in _components(edges):
        if len(component) < 2:
            continue
        names = _cycle_from(min(component), edges, component)
        c.error(("services", names[0], edges[names[0]][names[1]]), "dependency cycle: " + " -> ".join(names))


def _components(edges: dict[str, dict[str, str]]) -> list[set[str]]:
    """Strongly connected components (Tarjan's algorithm, iterative so deep chains cannot overflow the stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges.get(root, {})))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, {}))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                found.append(component)
    return found


def _cycle_from(start: str, edges: dict[str, dict[str, str]], component: set[str]) -> list[str]:
    """Walk from ``start`` inside ``component`` until a service repeats: that loop, closed."""
    path = [start]
    seen = {start: 0}
    while True:
        nxt = next(t for t in edges[path[-1]] if t in component)
        if nxt in seen:
            return path[seen[nxt]:] + [nxt]
        seen[nxt] = len(path)
        path.append(nxt)


def _container_names(c: _Checker) -> None:
    owners: dict[str, str] = {}
    for name, service, path in c.each_service():
        container = service.get("container_name")
        if not isinstance(container, str):
            continue
        where = path + ("container_name",)
        if not _CONTAINER_NAME.match(container):
            c.error(where, f"invalid container name {container!r}: it must start with a letter or digit and use "
                           "only letters, digits, '_', '.' and '-'")
        if container in owners:
            c.error(where, f"container name {container!r} is already used by service {owners[container]!r}")
        else:
            owners[container] = name
        scale = replicas(service)
        if scale > 1:
            c.error(where, f"service {name!r} sets container_name and runs {scale} replicas; names must be unique")


def _ports(c: _Checker) -> None:
    for name, service, path in c.each_service():
        for index, item in enumerate(service.get("ports") or []):
            if not isinstance(item, dict):
                continue  # short syntax: read by the canonicalizer (_readable_values)
            where = path + ("ports", index)
            for key, allow_zero in (("target", False), ("published", True)):
                value = item.get(key)
                if value is None or value == "":
                    if key == "target":
                        c.error(where, "a port needs a 'target' (the container port)")
                    continue
                try:
                    low, high = port_range(str(value), "container port" if key == "target" else "published port",
                                           allow_zero)
                    if key == "target" and low != high:
                        raise ValueError(f"invalid container port {value!r}: a single port is expected here")
                except ValueError as err:
                    c.error(where + (key,), str(err))
            if str(item.get("protocol", "tcp")).lower() not in PROTOCOLS:
                c.error(where + ("protocol",), f"expected tcp, udp or sctp, got {item['protocol']!r}")
            if item.get("mode", "ingress") not in ("ingress", "host"):
                c.error(where + ("mode",), f"expected 'host' or 'ingress', got {item['mode']!r}")
            if item.get("host_ip"):
                try:
                    ipaddress.ip_address(item["host_ip"])
                except ValueError:
                    c.error(where + ("host_ip",), f"{item['host_ip']!r} is not an IP address")
        for index, item in enumerate(service.get("expose") or []):
            try:
                port_range(str(item).split("/")[0], "exposed port")
            except ValueError as err:
                c.error(path + ("expose", index), str(err))


def _service_values(c: _Checker) -> None:
    for name, service, path in c.each_service():
        if not service.get("image") and not service.get("build") and not service.get("provider"):
            c.error(path, f"service {name!r} has neither an 'image' nor a 'build' context")
        policy = service.get("pull_policy")
        if isinstance(policy, str) and not _PULL_POLICY.match(policy):
            c.error(path + ("pull_policy",), f"expected always, never, missing, build, if_not_present, refresh, "
                                             f"daily, weekly or every_<duration>, got {policy!r}")
        restart = service.get("restart")
        if isinstance(restart, str) and not _RESTART.match(restart):
            c.error(path + ("restart",), f"expected 'no', 'always', 'on-failure[:max-retries]' or "
                                         f"'unless-stopped', got {restart!r}")
        test = (service.get("healthcheck") or {}).get("test")
        if isinstance(test, list) and test and test[0] not in ("NONE", "CMD", "CMD-SHELL"):
            c.error(path + ("healthcheck", "test", 0), f"the first item must be NONE, CMD or CMD-SHELL, got "
                                                       f"{test[0]!r}")
        scale, deployed = service.get("scale"), (service.get("deploy") or {}).get("replicas")
        if scale is not None and deployed is not None and str(scale) != str(deployed):
            c.error(path + ("scale",), f"'scale: {scale}' and 'deploy.replicas: {deployed}' disagree; set one")
        for limit, value in (service.get("ulimits") or {}).items():
            where = path + ("ulimits", limit)
            if limit not in ULIMITS:
                c.error(where, f"unknown ulimit {limit!r}; expected one of {', '.join(sorted(ULIMITS))}")
            elif isinstance(value, dict):
                try:
                    if int(value["soft"]) > int(value["hard"]) >= 0:
                        c.error(where, f"the soft limit ({value['soft']}) is above the hard limit ({value['hard']})")
                except (TypeError, ValueError, KeyError):
                    pass  # reported by _readable_values


_RULES: list[Callable[[_Checker], None]] = [
    _readable_values,
    _networks,
    _mounts,
    _grants,
    _dependencies,
    _cycles,
    _container_names,
    _ports,
    _service_values,
]
