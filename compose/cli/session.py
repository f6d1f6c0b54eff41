"""What every engine command starts with: the loaded project, an engine client and a progress display.

``open_session(ctx, services)`` loads and validates the project (warnings printed), checks the named services,
connects to the engine and picks the display from ``--progress``. ``run_plan`` executes a plan with it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker
    import typer

    from compose.display import Display
    from compose.engine.containers import ContainerInfo
    from compose.execute import Context
    from compose.model import Project
    from compose.plan import Plan
    from compose.project import LoadedProject

__all__ = ["Session", "open_session", "parse_signal"]


@dataclass
class Session:
    loaded: "LoadedProject"
    client: "docker.APIClient"
    display: "Display"

    @property
    def project(self) -> "Project":
        return self.loaded.project

    @property
    def name(self) -> str:
        return self.loaded.project.name

    @property
    def bare(self) -> bool:
        """Known by name only (no Compose file)."""
        return not self.loaded.load.files

    def context(self, **kw: Any) -> "Context":
        from compose.execute import Context

        return Context(self.client, self.project, self.display, working_dir=str(self.loaded.load.project_dir),
                       config_files=tuple(self.loaded.load.files), environment=dict(self.loaded.load.environment),
                       **kw)

    def run(self, plan: "Plan", **kw: Any) -> None:
        """Print the plan's warnings, execute it, close the display (even on failure)."""
        from compose import trace
        from compose.execute import execute

        trace.mark(f"execute {len(plan.steps)} steps")
        for warning in plan.warnings:
            self.display.message(f"WARN[0000] {warning}")
        try:
            execute(plan, self.context(**kw))
        finally:
            self.display.close()
            trace.mark("executed")

    def known_services(self) -> set[str]:
        return set(self.loaded.load.disabled_services)

    def containers(self, services: list[str] | None = None, *, all: bool = True,
                   oneoff: bool | None = False) -> list["ContainerInfo"]:
        from compose.engine.containers import list_containers

        return list_containers(self.client, self.name, all=all, services=services or None, oneoff=oneoff)

    def check_services(self, services: list[str] | None) -> None:
        from compose.errors import UserError

        unknown = [s for s in services or () if s not in self.project.services]
        if unknown:
            known = ", ".join(sorted(self.project.services)) or "none"
            raise UserError.single(f"no such service: {', '.join(unknown)} (services: {known})")


def _bare(name: str) -> "LoadedProject":
    """A project known only by name (``-p NAME`` without a Compose file): no services, no resources."""
    from pathlib import Path

    from compose.files import validate_project_name
    from compose.loader import LoadResult
    from compose.model import Project
    from compose.project import LoadedProject
    from compose.sourcemap import SourceMap

    name = validate_project_name(name, "--project-name")
    result = LoadResult(config={}, sources=SourceMap(), warnings=[], project_name=name, project_dir=Path.cwd(),
                        environment={}, files=[], disabled_services={})
    return LoadedProject(result, {"name": name}, Project(name=name))


def open_session(ctx: "typer.Context", services: list[str] | None = None, *, bare_ok: bool = False) -> Session:
    """``bare_ok``: with ``-p NAME`` and no Compose file anywhere, work on the project by its labels alone."""
    from compose import trace
    from compose.cli.output import print_warnings
    from compose.display import make_display
    from compose.engine.client import connect
    from compose.errors import UserError
    from compose.project import load_project

    trace.mark("command parsed")
    opts = ctx.obj
    try:
        loaded = load_project(opts.load_options(services=list(services or [])))
    except UserError as err:
        no_file = len(err.problems) == 1 and err.problems[0].message.startswith("no Compose file found")
        if not (bare_ok and opts.project_name and not opts.files and no_file):
            raise
        loaded = _bare(opts.project_name)
    print_warnings(loaded.warnings)
    trace.mark(f"project loaded ({len(loaded.project.services)} services)")
    session = Session(loaded, connect(), make_display(opts.progress))
    trace.mark("engine connected")
    if not session.bare:  # a bare project's services are known only by the containers' labels
        session.check_services(services)
    return session


def parse_signal(value: str | None) -> str | None:
    """``-s KILL``/``SIGKILL``/``9`` -> the form the API takes."""
    if value is None:
        return None
    return value if value.isdigit() else ("SIG" + value.upper()).replace("SIGSIG", "SIG")
