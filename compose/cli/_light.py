"""Sessions for the commands that need only the project's name and service names (``ps``, ``logs``, ``exec``,
``cp``, ``export``, ``top``, ``port``, ``images``, ``kill``, ``pause``, ``unpause``, ``attach``, ``commit``,
``stats``, ``events``).

``open_light_session(ctx, services, bare_ok=...)`` is ``open_session`` with the ``compose.loadcache`` summary of
an earlier full load standing in for the project while no file that load read has changed; otherwise (first
run, an edit, another environment, ``-f -``) the project is loaded and validated in full, so errors in the
files are reported exactly as ``open_session`` reports them, and the summary is kept for the next command.
A ``LightSession`` is a ``Session``: asking it for ``project`` (or ``context``/``run``) loads the project then.
Its client is ``compose.engineapi``'s small one (docker-py's for a host not on a unix socket), which hands what
it does not implement to a docker-py client made on first use.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from compose.cli.session import Session, _bare

if TYPE_CHECKING:
    import typer

    from compose.execute import Context
    from compose.loadcache import Summary
    from compose.model import Project
    from compose.project import LoadedProject

__all__ = ["LightSession", "check_project", "open_light_session"]


@dataclass
class LightSession(Session):
    summary: "Summary | None" = None  # set when the project was not loaded (``loaded`` is None then)
    reload: "Callable[[], LoadedProject] | None" = None

    def _full(self) -> "LoadedProject":
        if self.loaded is None:
            assert self.reload is not None, "a light session without its project has a way to load it"
            self.loaded = self.reload()
        return self.loaded

    @property
    def project(self) -> "Project":
        return self._full().project

    @property
    def name(self) -> str:
        return self.summary.name if self.loaded is None and self.summary else self._full().project.name

    @property
    def bare(self) -> bool:
        if self.loaded is None and self.summary:
            return not self.summary.files
        return not self._full().load.files

    @property
    def service_names(self) -> list[str]:
        """The project's (enabled) services, in file order."""
        if self.loaded is None and self.summary:
            return list(self.summary.services)
        return list(self._full().project.services)

    def known_services(self) -> set[str]:
        if self.loaded is None and self.summary:
            return set(self.summary.disabled_services)
        return set(self._full().load.disabled_services)

    def context(self, **kw: Any) -> "Context":
        self._full()
        return super().context(**kw)

    def check_services(self, services: list[str] | None) -> None:
        from compose.errors import UserError

        names = self.service_names
        unknown = [s for s in services or () if s not in names]
        if unknown:
            known = ", ".join(sorted(names)) or "none"
            raise UserError.single(f"no such service: {', '.join(unknown)} (services: {known})")


def _load(opts: Any, services: list[str], bare_ok: bool) -> "LoadedProject":
    """As ``open_session`` loads: in full; ``-p NAME`` without a file (``bare_ok``) is a bare project."""
    from compose.errors import UserError
    from compose.project import load_project

    try:
        return load_project(opts.load_options(services=list(services)))
    except UserError as err:
        no_file = len(err.problems) == 1 and err.problems[0].message.startswith("no Compose file found")
        if not (bare_ok and opts.project_name and not opts.files and no_file):
            raise
        return _bare(opts.project_name)


def _cache_fields(opts: Any, services: list[str]) -> dict[str, Any] | None:
    """What of the command line a load depends on (the rest is the environment and the files); None: stdin."""
    from_env = os.environ.get("COMPOSE_FILE", "").split(os.environ.get("COMPOSE_PATH_SEPARATOR") or ":")
    if "-" in opts.files or (not opts.files and "-" in from_env):
        return None
    return {"files": list(opts.files), "project_name": opts.project_name,
            "project_directory": opts.project_directory, "env_files": list(opts.env_files),
            "profiles": list(opts.profiles), "services": list(services)}


def _summary_of(loaded: "LoadedProject") -> "Summary":
    from compose.graph import ServiceGraph
    from compose.loadcache import Summary

    project = loaded.project
    edges = ServiceGraph(project).service_edges()
    return Summary(name=project.name, project_dir=str(loaded.load.project_dir), files=list(loaded.load.files),
                   services=list(project.services), disabled_services=list(loaded.load.disabled_services),
                   warnings=[str(w) for w in loaded.warnings],
                   depends={n: {d: [c, r] for d, (c, r) in needs.items()} for n, needs in edges.items()},
                   hooks=[n for n, s in project.services.items() if s.pre_stop or s.post_start])


def _env_file_paths(loaded: "LoadedProject") -> list[str]:
    """Every service's env files, read or not (an optional one may appear later)."""
    out = []
    for service in (loaded.canonical.get("services") or {}).values():
        for entry in service.get("env_file") or ():
            if isinstance(entry, dict) and entry.get("path"):
                out.append(str(entry["path"]))
    return out


def _load_light(opts: Any, services: list[str], bare_ok: bool) -> "tuple[LoadedProject | None, Summary | None]":
    """The cached summary, or the project loaded in full (and its summary kept for the next command)."""
    from compose import loadcache

    fields = _cache_fields(opts, services)
    if fields is None or not loadcache.enabled():
        return _load(opts, services, bare_ok), None
    summary = loadcache.lookup(fields)
    if summary is not None:
        return None, summary
    started = time.time_ns()
    with loadcache.record() as opened:
        loaded = _load(opts, services, bare_ok)
    # a bare project (-p NAME, no file) is not kept: it costs nothing to make; nor one read from stdin
    if loaded.load.files and all(os.path.isabs(f) for f in loaded.load.files):
        loadcache.store(fields, _summary_of(loaded), opened, _env_file_paths(loaded), started_ns=started)
    return loaded, None


def _print_warnings(loaded: "LoadedProject | None", summary: "Summary | None") -> None:
    from compose import trace
    from compose.cli.output import print_warnings

    if loaded is not None:
        print_warnings(loaded.warnings)
        trace.mark(f"project loaded ({len(loaded.project.services)} services)")
    elif summary is not None:
        for warning in summary.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        trace.mark(f"project summary from the cache ({len(summary.services)} services)")


def check_project(opts: Any, services: list[str]) -> None:
    """``config -q``: the project loads and validates (warnings printed, the named services exist), from the
    cache when nothing it read has changed since it last did."""
    from compose.errors import UserError

    loaded, summary = _load_light(opts, services, False)
    _print_warnings(loaded, summary)
    known = (loaded.canonical.get("services") or {}) if loaded is not None else (summary.services if summary else [])
    unknown = [s for s in services if s not in known]
    if unknown:
        raise UserError.single(f"no such service: {unknown[0]}")


def open_light_session(ctx: "typer.Context", services: list[str] | None = None, *,
                       bare_ok: bool = False) -> LightSession:
    """``open_session`` for a command that needs only names (see the module docstring)."""
    from compose import trace
    from compose.display import make_display
    from compose.engineapi import connect  # the small client: no docker-py (requests...) to import

    trace.mark("command parsed")
    opts = ctx.obj
    wanted = list(services or [])
    loaded, summary = _load_light(opts, wanted, bare_ok)
    _print_warnings(loaded, summary)
    session = LightSession(loaded, connect(), make_display(opts.progress),  # type: ignore[arg-type]
                           summary=summary, reload=lambda: _load(opts, wanted, bare_ok))  # (``summary`` for None)
    trace.mark("engine connected")
    if not session.bare:  # a bare project's services are known only by the containers' labels
        session.check_services(services)
    return session
