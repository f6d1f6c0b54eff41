"""Stop and start plans over the services' dependency edges alone, shared by ``compose.plan`` (edges from
``compose.graph``) and the light ``stop``/``start``/``restart`` (edges kept in the ``compose.loadcache`` summary),
so the two paths cannot order containers differently. Standard library and ``compose.plansteps`` only: no model,
no networkx.

``Edges``: service -> {service it needs: (condition, required)}, every service of the project a key.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from compose.engine.containers import ContainerInfo
from compose.plansteps import Op, Plan

__all__ = ["Edges", "generations", "plan_start_over", "plan_stop_over", "wait_steps"]

Edges = Mapping[str, Mapping[str, tuple[str, bool]]]
Containers = Callable[[str], Iterable[ContainerInfo]]  # a service's (non one-off) containers, by number


def generations(view: Mapping[str, Iterable[str]]) -> list[set[str]]:
    """Kahn's algorithm by levels: first the services that need nothing, then those that need only the ones
    before, and so on. Services on a cycle (or behind one) are left out."""
    waiting = {n: len(set(needs)) for n, needs in view.items()}
    needed_by: dict[str, list[str]] = {n: [] for n in view}
    for a, needs in view.items():
        for b in set(needs):
            needed_by[b].append(a)
    level = {n for n, count in waiting.items() if count == 0}
    out: list[set[str]] = []
    while level:
        out.append(level)
        nxt: set[str] = set()
        for b in level:
            for a in needed_by[b]:
                waiting[a] -= 1
                if waiting[a] == 0:
                    nxt.add(a)
        level = nxt
    return out


def plan_stop_over(levels: list[set[str]], edges: Edges, containers: Containers, chosen: set[str],
                   timeout: int | None, op: Op = Op.STOP_CONTAINER) -> Plan:
    """Stop (or restart, with ``op``) the running containers of the ``chosen`` services, each service after the
    services that depend on it (``levels``: the start order)."""
    plan = Plan()
    dependents: dict[str, set[str]] = {n: set() for n in edges}
    for name, needs in edges.items():
        for dep in needs:
            dependents.setdefault(dep, set()).add(name)
    steps_of: dict[str, set[str]] = {}
    cause = op.name.split("_")[0].lower()
    for name in [s for level in reversed(levels) for s in sorted(level)]:
        after = set().union(*(steps_of.get(d, set()) for d in dependents.get(name, ())))
        steps_of[name] = set()
        if name not in chosen:
            continue
        for c in containers(name):
            if c.running:
                steps_of[name].add(plan.add(op, c.name, cause, after, service=name, number=c.number,
                                            container_id=c.id, args={"timeout": timeout}))
    return plan


def wait_steps(plan: Plan, dep: str, starts: Mapping[str, str], live: Iterable[str], condition: str,
               dependent: str) -> set[str]:
    """Steps the dependent's start waits for, by condition, over every container of ``dep`` (``starts``: its
    container name -> START step key; ``live``: every container name of it that will run)."""
    if condition == "service_started":
        return set(starts.values())
    op = Op.WAIT_HEALTHY if condition == "service_healthy" else Op.WAIT_COMPLETED
    out = set()
    for cname in live:
        start = starts.get(cname)
        out.add(plan.add(op, cname, f"{dependent} depends on {dep} ({condition})", {start} if start else set(),
                         service=dep))
    return out


def plan_start_over(levels: list[set[str]], edges: Edges, containers: Containers, chosen: set[str]) -> Plan:
    """Start the stopped containers of the ``chosen`` services in dependency order, with the waits their
    ``depends_on`` conditions ask for; a failure of a dependency that is not ``required`` only warns."""
    plan = Plan()
    starts_of: dict[str, dict[str, str]] = {}
    live_of: dict[str, list[str]] = {}
    for name in [s for level in levels for s in sorted(level)]:
        starts: dict[str, str] = {}
        live: list[str] = []
        for c in containers(name):
            if name in chosen and not c.running:
                starts[c.name] = plan.add(Op.START_CONTAINER, c.name, c.state or "stopped", service=name,
                                          number=c.number, container_id=c.id)
            live.append(c.name)
        starts_of[name], live_of[name] = starts, live
        for dep, (condition, required) in sorted(edges.get(name, {}).items()):
            waits = wait_steps(plan, dep, starts_of[dep], live_of[dep], condition, name) if starts else set()
            for start in starts.values():
                plan.steps[start].after |= waits
                if not required:
                    plan.steps[start].optional |= waits
    return plan
