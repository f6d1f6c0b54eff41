"""Which of a project's networks and volumes no longer match the Compose file, and what recreating them takes.

A network or volume made by Compose carries ``com.docker.compose.config-hash`` (``compose.resourcehash``). When
that label differs from the file's configuration (``compose.observe.diverges``), Docker Compose recreates a
network at once and a volume only when the user confirms; ``external`` ones and ones without the label are left
as they are. Recreating means removing first every container of the project that uses it; a container of
another project (or a running one-off ``run`` container) using it would make the removal fail half-way, so that
is an error before anything is touched; a stopped one-off container of the project is removed with the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

from compose import labels as L
from compose.engine.containers import ContainerInfo
from compose.confighash import service_hash
from compose.errors import UserError
from compose.graph import ServiceGraph
from compose.model import Project
from compose.observe import Observed, diverges
from compose.plansteps import Op, Plan, remove_container_steps
from compose.resourcehash import network_hash, volume_hash

__all__ = ["Recreation", "diverged_networks", "diverged_volumes", "recreations", "kept_volume_message",
           "resource_keys", "plan_recreations", "recreate_leftovers"]


@dataclass(frozen=True)
class Recreation:
    kind: str  # "network" or "volume"
    key: str  # the resource's key in the Compose file
    name: str  # the engine's name
    users: tuple[ContainerInfo, ...]  # the project's containers to remove before it, sorted by name


def diverged_networks(project: Project, observed: Observed, keys: set[str] | None = None) -> list[str]:
    """Keys (of ``keys``, default all) of the non-external networks whose engine copy diverges, sorted."""
    return sorted(k for k, n in project.networks.items() if (keys is None or k in keys) and not n.external
                  and diverges(observed.networks.get(n.name), project.name, network_hash(n)))


def diverged_volumes(project: Project, observed: Observed, keys: set[str] | None = None) -> list[str]:
    """Keys (of ``keys``, default all) of the non-external volumes whose engine copy diverges, sorted."""
    return sorted(k for k, v in project.volumes.items() if (keys is None or k in keys) and not v.external
                  and diverges(observed.volumes.get(v.name), project.name, volume_hash(v)))


def resource_keys(project: Project, services: list[str], every: bool = False) -> tuple[set[str], set[str]]:
    """The keys of the networks and of the volumes ``services`` use (all declared ones too with ``every``)."""
    networks: set[str] = set(project.networks) if every else set()
    volumes: set[str] = set(project.volumes) if every else set()
    for name in services:
        service = project.services[name]
        if not service.network_mode:
            networks |= set(service.networks or {})
        volumes |= {m.source for m in service.volumes or () if m.type == "volume" and m.source}
    return networks, volumes


def kept_volume_message(name: str) -> str:
    return (f'Volume "{name}" exists but doesn\'t match configuration in compose file; keeping it as it is '
            "(run with -y/--yes to recreate it: its data will be lost)")


def recreations(project: Project, observed: Observed, network_keys: set[str], volume_keys: set[str],
                confirmed: set[str]) -> list[Recreation]:
    """The recreations ``up`` plans for the networks of ``network_keys`` and the volumes of ``volume_keys``
    (a volume only when its key or name is in ``confirmed``); a ``UserError`` when one is used by a container
    that is not one of the project's services."""
    out: list[Recreation] = []
    for key in diverged_networks(project, observed, network_keys):
        name = project.networks[key].name
        out.append(Recreation("network", key, name, _ours(project, "network", key, name,
                                                         observed.network_users.get(name, []))))
    for key in diverged_volumes(project, observed, volume_keys):
        name = project.volumes[key].name
        if key in confirmed or name in confirmed:
            out.append(Recreation("volume", key, name, _ours(project, "volume", key, name,
                                                            observed.volume_users.get(name, []))))
    return out


def _ours(project: Project, kind: str, key: str, name: str, users: list[ContainerInfo]) -> tuple[ContainerInfo, ...]:
    """The users the recreate may remove: the project's service containers and its stopped one-off (``run``)
    ones (removed, not made again); a running one-off or another project's container is an error."""
    foreign = [c for c in users if c.labels.get(L.PROJECT) != project.name or (c.oneoff and c.running)]
    if foreign:
        names = ", ".join(sorted(c.name for c in foreign))
        raise UserError.single(
            f"{kind} {name} must be recreated, as its configuration in the Compose file changed, but containers "
            f"that are not this project's services use it ({names}); stop and remove them first (nothing was changed)",
            (f"{kind}s", key))
    return tuple(sorted(users, key=lambda c: c.name))


def plan_recreations(plan: Plan, project: Project, observed: Observed, services: list[str], *,
                     all_resources: bool = False, confirmed: set[str] | frozenset[str] = frozenset(),
                     asked: bool = False, timeout: int | None = None) -> dict[str, tuple[str, str]]:
    """Steps recreating the diverged networks (and confirmed volumes) ``services`` use: their containers of the
    project removed (a service's after those of the services depending on it), the resource removed, created
    anew. A diverged volume is recreated only when its key or name is ``confirmed``; one kept unasked is a
    warning. Returns the removed containers: name -> (cause, REMOVE step key); their services create them again
    (``recreate_leftovers`` those of services the plan does not cover)."""
    networks, volumes = resource_keys(project, services, all_resources)
    for key in diverged_volumes(project, observed, volumes):
        name = project.volumes[key].name
        if not asked and not {key, name} & confirmed:
            if kept_volume_message(name) not in plan.warnings:
                plan.warnings.append(kept_volume_message(name))
    found = recreations(project, observed, networks, volumes, set(confirmed))
    users = {c.name: c for r in found for c in r.users}
    causes: dict[str, str] = {}
    for r in found:
        for c in r.users:
            causes.setdefault(c.name, f"{r.kind} {r.name} recreated")
    graph = ServiceGraph(project)
    order = [s for level in graph.reverse_levels() for s in sorted(level)]
    order += sorted({c.service for c in users.values()} - set(order))
    removed: dict[str, str] = {}
    stops_of: dict[str, set[str]] = {}
    for svc in order:
        after = set().union(*(stops_of.get(d, set()) for d in graph.dependents(svc))) if (
            svc in project.services) else set()
        stops_of[svc] = set()
        for c in sorted((c for c in users.values() if c.service == svc), key=lambda c: c.name):
            removed[c.name] = remove_container_steps(plan, c, causes[c.name], timeout, after)
            stop = f"{Op.STOP_CONTAINER.name} {c.name}"
            stops_of[svc].add(stop if stop in plan.steps else removed[c.name])
    for r in found:
        remove, create = ((Op.REMOVE_NETWORK, Op.CREATE_NETWORK) if r.kind == "network"
                          else (Op.REMOVE_VOLUME, Op.CREATE_VOLUME))
        gone = plan.add(remove, r.name, "config changed", {removed[c.name] for c in r.users},
                        args={"recreate": True})
        plan.add(create, r.name, "config changed", {gone}, args={"key": r.key, "recreate": True})
    return {name: (causes[name], key) for name, key in removed.items()}


def recreate_leftovers(plan: Plan, project: Project, observed: Observed, doomed: dict[str, tuple[str, str]],
                       planned: set[str], no_start: bool = False) -> None:
    """Create again the removed containers of the services not in ``planned`` (not named on the command line),
    started when they ran; containers of services no longer in the file stay removed."""
    resources = {k for k, st in plan.steps.items() if st.args.get("recreate") and st.op in (
        Op.CREATE_NETWORK, Op.CREATE_VOLUME)}
    for c in observed.containers:
        if c.name not in doomed or f"{Op.CREATE_CONTAINER.name} {c.name}" in plan.steps:
            continue
        if c.service not in project.services or c.service in planned:
            continue
        cause, removed = doomed[c.name]
        create = plan.add(Op.CREATE_CONTAINER, c.name, cause, {removed} | resources, service=c.service,
                          number=c.number, args={"config_hash": service_hash(project, c.service)})
        if c.running and not no_start:
            plan.add(Op.START_CONTAINER, c.name, "created", {create}, service=c.service, number=c.number)
