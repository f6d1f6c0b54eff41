"""``stop``, ``start`` and ``restart``: the light path when it can, the full one otherwise, with one ordering.

Light (the ``compose.loadcache`` summary valid, an engine on a unix socket): no project load, the small client
(``compose.engineapi``), one container listing, the plan made by ``compose.servicedeps`` over the summary's
dependency edges (the same functions ``compose.plan`` calls with ``compose.graph``'s edges) and run by
``compose.containersteps``. Full (``compose.plan`` over the loaded project, run by ``compose.execute``) for: a
first run or edited files, ``-f -``, a bare ``-p NAME``, another host, ``--dry-run``, a chosen service with
``pre_stop``/``post_start`` hooks, a dependency cycle (reported by the full path), ``start`` of a service whose
``depends_on`` asks for ``service_healthy``/``service_completed_successfully``, ``start --wait``, and a project
with no service enabled (``compose.plan`` then takes every labelled container).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

    from compose.cli.session import Session
    from compose.loadcache import Summary
    from compose.servicedeps import Edges

__all__ = ["light_plan_fits", "run_ordered"]

_COMMANDS = ("stop", "restart", "start")


def _edges(summary: "Summary") -> "Edges | None":
    if set(summary.depends) != set(summary.services):  # (a summary without edges: never, since version 2)
        return None
    return {n: {d: (str(c), bool(r)) for d, (c, r) in summary.depends[n].items()} for n in summary.services}


def light_plan_fits(summary: "Summary", wanted: list[str], command: str) -> bool:
    """The light path can do exactly what the full one would (see the module docstring)."""
    from compose.servicedeps import generations

    edges = _edges(summary)
    if edges is None or not edges or os.environ.get("PYCOMPOSE_DRY_RUN") == "1":
        return False  # (no service enabled: compose.plan then acts on every labelled container, unordered)
    if sum(len(level) for level in generations({n: set(e) for n, e in edges.items()})) != len(edges):
        return False  # a cycle: the full path names it
    chosen = set(wanted or summary.services)
    if chosen & set(summary.hooks):
        return False
    if command == "start":
        return all(c == "service_started" for n in chosen for c, _ in edges.get(n, {}).values())
    return True


def run_ordered(ctx: "typer.Context", services: list[str] | None, command: str, *, timeout: int | None = None,
                full_only: bool = False) -> "Session | None":
    """Run ``command`` (stop, restart, start) on ``services`` (default all); the full path's session (for
    ``start --wait``), None after the light path."""
    from compose import trace
    from compose.cli._light import _load_light, _print_warnings

    assert command in _COMMANDS
    trace.mark("command parsed")
    opts = ctx.obj
    wanted = list(services or [])
    loaded, summary = _load_light(opts, wanted, True)
    _print_warnings(loaded, summary)
    client = None
    if summary is not None and not full_only and light_plan_fits(summary, wanted, command):
        from compose.engineapi import Client, connect

        client = connect()
        if isinstance(client, Client):
            _light(ctx, summary, client, wanted, command, timeout)
            return None
    return _full(ctx, loaded, client, wanted, command, timeout)


def _light(ctx: "typer.Context", summary: "Summary", client: Any, wanted: list[str], command: str,
           timeout: int | None) -> None:
    from compose import trace
    from compose.cli._light import LightSession
    from compose.containersteps import run_container_steps
    from compose.display import make_display
    from compose.engine.containers import ContainerInfo, list_containers
    from compose.plansteps import Op
    from compose.servicedeps import generations, plan_start_over, plan_stop_over

    session = LightSession(None, client, make_display(ctx.obj.progress), summary=summary)  # type: ignore[arg-type]
    trace.mark("engine connected")
    session.check_services(wanted)
    edges = _edges(summary)
    assert edges is not None
    levels = generations({n: set(e) for n, e in edges.items()})
    trace.mark("observe")
    by_service: dict[str, list[ContainerInfo]] = {}
    for c in list_containers(client, summary.name, oneoff=False):  # observe()'s listing
        by_service.setdefault(c.service, []).append(c)
    for found in by_service.values():
        found.sort(key=lambda c: (c.number, c.name))  # as Observed.service_containers

    def containers(service: str) -> list[ContainerInfo]:
        return by_service.get(service, [])

    chosen = set(wanted or summary.services)
    if command == "start":
        plan = plan_start_over(levels, edges, containers, chosen)
    else:
        op = Op.RESTART_CONTAINER if command == "restart" else Op.STOP_CONTAINER
        plan = plan_stop_over(levels, edges, containers, chosen, timeout, op)
    trace.mark(f"execute {len(plan.steps)} steps")
    try:
        run_container_steps(plan, client, session.display)
    finally:
        session.display.close()
        trace.mark("executed")


def _full(ctx: "typer.Context", loaded: Any, client: Any, wanted: list[str], command: str,
          timeout: int | None) -> "Session":
    from compose import trace
    from compose.cli._light import _load
    from compose.cli.session import Session
    from compose.display import make_display
    from compose.engine.client import connect
    from compose.observe import observe
    from compose.plan import Op, plan_start, plan_stop

    opts = ctx.obj
    if loaded is None:  # the summary was valid but the light path cannot do this one
        loaded = _load(opts, wanted, True)
    session = Session(loaded, client if client is not None else connect(), make_display(opts.progress))
    trace.mark("engine connected")
    if not session.bare:  # a bare project's services are known only by the containers' labels
        session.check_services(wanted)
    observed = observe(session.client, session.project, images=False)
    if command == "start":
        plan = plan_start(session.project, observed, wanted or None)
    else:
        op = Op.RESTART_CONTAINER if command == "restart" else Op.STOP_CONTAINER
        plan = plan_stop(session.project, observed, wanted or None, timeout, op=op)
    session.run(plan)
    return session
