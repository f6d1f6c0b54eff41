"""Service lifecycle hooks, as Docker Compose runs them: each ``post_start`` entry is an Engine API exec in the
container right after it started (``up``, ``start``, ``restart``), each ``pre_stop`` entry one right before it is
stopped (``stop``, ``down``, ``restart``, a recreate, Ctrl-C in ``up``).

A hook is ``command`` (a string is split like ``command:``), ``user``, ``privileged``, ``working_dir`` and
``environment`` (list or mapping; only the hook's own variables are set, as Docker Compose does, on top of the
container's). A hook that exits non-zero fails the command with ``<service> hook exited with status N`` (Docker
Compose's words) plus the key path and the tail of what it printed. A ``pre_stop`` hook that finds its container
already gone or stopped is skipped, as Docker Compose skips it.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from compose.engine.errors import Conflict, NotFound, translated
from compose.errors import UserError
from compose.model import Service
from compose.units import parse_bool

if TYPE_CHECKING:
    import docker

__all__ = ["Hook", "HOOK_KINDS", "hooks_of", "run_hook", "run_hooks"]

HOOK_KINDS = ("post_start", "pre_stop")
_TAIL_LINES = 5


@dataclass(frozen=True)
class Hook:
    command: tuple[str, ...]
    user: str | None = None
    privileged: bool = False
    working_dir: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    path: tuple[str | int, ...] = ()  # services.<name>.<kind>[i], for errors


def _command(value: Any, path: tuple[str | int, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as err:
            raise UserError.single(f"cannot split the hook command into words: {err}", path + ("command",)) from err
    return tuple(str(v) for v in value or ())


def _environment(value: Any) -> dict[str, str]:
    """A list of ``KEY=VALUE`` or a mapping; a bare ``KEY`` (or a null value) sets nothing, as Docker Compose."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    out: dict[str, str] = {}
    for item in value or ():
        key, sep, val = str(item).partition("=")
        if sep:
            out[key] = val
    return out


def hooks_of(service: Service, kind: str) -> list[Hook]:
    """The service's ``post_start`` or ``pre_stop`` hooks, in file order."""
    if kind not in HOOK_KINDS:
        raise ValueError(f"unknown hook kind {kind!r}")
    out = []
    for i, raw in enumerate(getattr(service, kind) or ()):
        path: tuple[str | int, ...] = ("services", service.name, kind, i)
        privileged = raw.get("privileged")
        try:
            flag = parse_bool(privileged) if privileged is not None else False
        except ValueError as err:
            raise UserError.single(str(err), path + ("privileged",)) from err
        command = _command(raw.get("command"), path)
        if not command:
            raise UserError.single("a hook needs a command", path + ("command",))
        out.append(Hook(command=command, user=raw.get("user") or None, privileged=flag,
                        working_dir=raw.get("working_dir") or None, environment=_environment(raw.get("environment")),
                        path=path))
    return out


def _tail(output: bytes) -> str:
    lines = output.decode("utf-8", "replace").rstrip("\n").splitlines()[-_TAIL_LINES:]
    return "; ".join(line.strip() for line in lines if line.strip())


def run_hook(client: "docker.APIClient", container: str, service: Service, hook: Hook) -> None:
    """Run one hook in ``container`` and wait for it; a non-zero exit is a ``UserError``."""
    where = f"{hook.path[2] if len(hook.path) > 2 else 'hook'} in {container}"
    with translated(where):
        exec_id = client.exec_create(container, list(hook.command), stdout=True, stderr=True, tty=bool(service.tty),
                                     privileged=hook.privileged, user=hook.user or "",
                                     environment=[f"{k}={v}" for k, v in hook.environment.items()] or None,
                                     workdir=hook.working_dir)["Id"]
        output = client.exec_start(exec_id, tty=bool(service.tty))
        code = int(client.exec_inspect(exec_id).get("ExitCode") or 0)
    if code != 0:
        said = _tail(output if isinstance(output, bytes) else b"")
        raise UserError.single(f"{service.name} hook exited with status {code}" + (f": {said}" if said else ""),
                               hook.path)


def run_hooks(client: "docker.APIClient", container: str, service: Service, kind: str) -> None:
    """Every ``kind`` hook of ``service`` in ``container``, in order; the first failure stops the rest."""
    for hook in hooks_of(service, kind):
        try:
            run_hook(client, container, service, hook)
        except (NotFound, Conflict):
            if kind == "pre_stop":  # already gone or not running: nothing to run the hook in, as Docker Compose
                return
            raise
