"""The ``develop.watch`` rules of a service, as typed values, and the pure logic around them: which changed paths
a rule takes (``include``/``ignore``, dockerignore-like patterns, plus Compose's default ignores and, for
``rebuild``, the build context's ``.dockerignore``), where a path lands in the container, and the batching of
event bursts by a quiet period."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from enum import Enum
from pathlib import Path
from typing import Any, Iterable

from compose.errors import UserError

__all__ = ["Action", "ExecSpec", "WatchRule", "PathMatcher", "Batcher", "DEFAULT_IGNORES", "parse_rules",
           "service_rules", "read_dockerignore", "container_path"]

# Docker Compose always ignores these (VCS metadata, editor swap and backup files).
DEFAULT_IGNORES = (".git", ".git/**", "**/.git", "**/.git/**", "**/*.swp", "**/*.swx", "**/*~", "**/.#*",
                   "**/#*#", "**/4913", "**/.DS_Store")


class Action(str, Enum):
    SYNC = "sync"
    REBUILD = "rebuild"
    RESTART = "restart"
    SYNC_RESTART = "sync+restart"
    SYNC_EXEC = "sync+exec"

    @property
    def syncs(self) -> bool:
        return self in (Action.SYNC, Action.SYNC_RESTART, Action.SYNC_EXEC)


@dataclass(frozen=True)
class ExecSpec:
    command: tuple[str, ...]
    user: str | None = None
    working_dir: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    privileged: bool = False


def _compile(pattern: str) -> re.Pattern[str]:
    """A dockerignore pattern (``*``, ``?``, ``[...]``, ``**``) as a regex over a '/'-separated relative path;
    a pattern also matches everything under a directory it matches."""
    pattern = pattern.strip().strip("/")
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("^" + "".join(out) + "(?:/.*)?$")


class PathMatcher:
    """Ordered dockerignore patterns: the last matching one wins; ``!pattern`` re-includes."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in patterns:
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            negate = text.startswith("!")
            text = os.path.normpath(text[1:] if negate else text).replace(os.sep, "/")
            self.rules.append((negate, _compile(text)))

    def __bool__(self) -> bool:
        return bool(self.rules)

    def matches(self, rel: str) -> bool:
        hit = False
        for negate, rx in self.rules:
            if rx.match(rel):
                hit = not negate
        return hit


def read_dockerignore(context: str | os.PathLike[str], dockerfile: str | None = None) -> list[str]:
    """The patterns of ``<Dockerfile>.dockerignore`` or the context's ``.dockerignore`` (none when absent)."""
    base = Path(context)
    candidates = [base / f"{dockerfile}.dockerignore"] if dockerfile else []
    candidates.append(base / ".dockerignore")
    for candidate in candidates:
        try:
            return candidate.read_text().splitlines()
        except (FileNotFoundError, NotADirectoryError):
            continue
    return []


@dataclass(frozen=True)
class WatchRule:
    service: str
    path: Path  # absolute, on the host
    action: Action
    target: str | None = None  # absolute, in the container (sync actions)
    ignore: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    initial_sync: bool = False
    exec: ExecSpec | None = None
    extra_ignore: tuple[str, ...] = ()  # the build context's .dockerignore (rebuild)

    @cached_property
    def _ignored(self) -> PathMatcher:
        return PathMatcher((*DEFAULT_IGNORES, *self.ignore, *self.extra_ignore))

    @cached_property
    def _included(self) -> PathMatcher:
        return PathMatcher(self.include)

    def _relative(self, path: Path) -> str | None:
        try:
            rel = path.relative_to(self.path)
        except ValueError:
            return None
        return rel.as_posix() if rel.parts else ""

    def takes(self, path: Path) -> bool:
        """True when a change of ``path`` concerns this rule: under ``path``, included, not ignored."""
        rel = self._relative(path)
        if rel is None:
            return False
        name = rel if rel else path.name
        if self._ignored.matches(name):
            return False
        if self.include and rel:
            return self._included.matches(rel)
        return True

    def target_of(self, path: Path) -> str | None:
        """Where ``path`` lands in the container: ``target`` joined with the path below the rule's ``path``."""
        rel = self._relative(path)
        if rel is None or self.target is None:
            return None
        return f"{self.target.rstrip('/')}/{rel}" if rel else self.target


def container_path(target: str, rel: str) -> str:
    return f"{target.rstrip('/')}/{rel}" if rel else target


KeyPath = tuple[str | int, ...]


def _as_list(value: Any, where: KeyPath) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise UserError.single("expected a list of strings", where)


def _exec(value: Any, where: KeyPath) -> ExecSpec:
    if not isinstance(value, dict) or not value.get("command"):
        raise UserError.single("action sync+exec needs exec.command", where)
    command = value["command"]
    argv = tuple(["/bin/sh", "-c", command]) if isinstance(command, str) else _as_list(command, (*where, "command"))
    env = value.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, os.environ.get(item, "")) for item in env)
    return ExecSpec(command=argv, user=value.get("user"), working_dir=value.get("working_dir"),
                    environment={str(k): "" if v is None else str(v) for k, v in env.items()},
                    privileged=bool(value.get("privileged", False)))


def parse_rules(service: str, develop: dict[str, Any] | None, project_dir: str | os.PathLike[str] = ".",
                build_context: str | None = None, dockerfile: str | None = None) -> list[WatchRule]:
    """The typed rules of ``services.<service>.develop.watch``; a bad rule is a ``UserError`` with its key path."""
    out: list[WatchRule] = []
    for i, raw in enumerate((develop or {}).get("watch") or []):
        where: KeyPath = ("services", service, "develop", "watch", i)
        if not isinstance(raw, dict):
            raise UserError.single("expected a mapping with path and action", where)
        try:
            action = Action(raw.get("action"))
        except ValueError:
            raise UserError.single(f"{raw.get('action')!r} is not one of {', '.join(a.value for a in Action)}",
                                   (*where, "action")) from None
        if not isinstance(raw.get("path"), str) or not raw["path"]:
            raise UserError.single("a path is required", (*where, "path"))
        target = raw.get("target")
        if action.syncs and not target:
            raise UserError.single(f"action {action.value} needs a target path in the container", (*where, "target"))
        if target is not None and not str(target).startswith("/"):
            raise UserError.single(f"{target!r} must be an absolute path in the container", (*where, "target"))
        extra: tuple[str, ...] = ()
        if action is Action.REBUILD:
            if build_context is None:
                raise UserError.single(f"rebuild needs a build section on service {service}", (*where, "action"))
            if os.path.isdir(build_context):
                extra = tuple(read_dockerignore(build_context, dockerfile))
        out.append(WatchRule(
            service=service, path=Path(project_dir, raw["path"]).resolve(), action=action,
            target=str(target) if target is not None else None,
            ignore=_as_list(raw.get("ignore"), (*where, "ignore")),
            include=_as_list(raw.get("include"), (*where, "include")),
            initial_sync=bool(raw.get("initial_sync", False)),
            exec=_exec(raw.get("exec"), (*where, "exec")) if action is Action.SYNC_EXEC else None,
            extra_ignore=extra))
    return out


def service_rules(project: Any, services: Iterable[str] | None = None, project_dir: str = ".") -> list[WatchRule]:
    """Every rule of the project's services (or of ``services``) from the model's ``extras['develop']``."""
    out: list[WatchRule] = []
    for name, service in project.services.items():
        if services and name not in services:
            continue
        develop = service.extras.get("develop")
        build = service.build
        context = getattr(build, "context", None) if build is not None else None
        dockerfile = getattr(build, "dockerfile", None) if build is not None else None
        out.extend(parse_rules(name, develop, project_dir, context if build is not None else None, dockerfile))
    return out


@dataclass
class Batcher:
    """Collects changed paths and releases them as one batch once no event came for ``quiet`` seconds (measured
    on the event stream), or once the burst has lasted ``longest`` seconds."""
    quiet: float = 0.5
    longest: float = 10.0
    _paths: dict[Path, None] = field(default_factory=dict)
    _first: float | None = None
    _last: float | None = None

    def add(self, path: Path, now: float) -> None:
        self._paths[path] = None
        if self._first is None:
            self._first = now
        self._last = now

    def due(self) -> float | None:
        """The time the pending batch becomes ready (None when nothing is pending)."""
        if self._first is None or self._last is None:
            return None
        return min(self._last + self.quiet, self._first + self.longest)

    def take(self, now: float) -> list[Path]:
        """The batch when it is ready at ``now`` (in arrival order), else []."""
        due = self.due()
        if due is None or now < due:
            return []
        out = list(self._paths)
        self._paths.clear()
        self._first = self._last = None
        return out
