"""The service dependency graph (networkx): start order as parallel levels, stop order, sub-graphs.

Nodes: each service by its name (``kind="service"``), each network as ``network:<key>`` and each named volume as
``volume:<key>`` (``kind="network"``/``"volume"``). An edge ``a -> b`` means ``a`` needs ``b`` first; service edges
carry ``via`` (``depends_on``, ``links``, ``network_mode``, ``ipc``, ``pid``, ``volumes_from``) and, for
depends_on, ``condition``, ``required`` and ``restart``.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

import networkx as nx

from compose.errors import UserError
from compose.model import Project, Service

__all__ = ["ServiceGraph", "network_node", "volume_node"]


def network_node(key: str) -> str:
    return f"network:{key}"


def volume_node(key: str) -> str:
    return f"volume:{key}"


class ServiceGraph:
    """Services, networks and volumes as nodes; an edge ``a -> b`` means ``a`` needs ``b`` started first."""

    def __init__(self, project: Project, services: Iterable[str] | None = None) -> None:
        self.project = project
        chosen = list(project.services) if services is None else list(services)
        self.graph: nx.DiGraph = nx.DiGraph()
        for name in chosen:
            self.graph.add_node(name, kind="service")
        for name in chosen:
            self._add_edges(name, project.services[name], set(chosen))

    @property
    def services(self) -> list[str]:
        """The services in this graph, sorted."""
        return sorted(n for n, kind in self.graph.nodes(data="kind") if kind == "service")

    def _add_edges(self, name: str, service: Service, chosen: set[str]) -> None:
        graph = self.graph
        other = dict(reversed(self._other_needs(service)))  # target -> first way it is needed
        for target, dep in (service.depends_on or {}).items():
            if target in chosen:
                graph.add_edge(name, target, via=other.get(target, "depends_on"), condition=dep.condition,
                               required=dep.required, restart=bool(dep.restart))
        for target, via in other.items():
            if target in chosen and not graph.has_edge(name, target):
                graph.add_edge(name, target, via=via, condition="service_started", required=True, restart=False)
        for key in service.networks or {}:
            if key in self.project.networks:
                graph.add_node(network_node(key), kind="network")
                graph.add_edge(name, network_node(key), via="networks")
        for mount in service.volumes or ():
            if mount.type == "volume" and mount.source and mount.source in self.project.volumes:
                graph.add_node(volume_node(mount.source), kind="volume")
                graph.add_edge(name, volume_node(mount.source), via="volumes")

    @staticmethod
    def _other_needs(service: Service) -> list[tuple[str, str]]:
        out = [(link.split(":", 1)[0], "links") for link in service.links or ()]
        modes = (("network_mode", service.network_mode), ("ipc", service.ipc), ("pid", service.pid),
                 ("uts", service.uts))
        for via, mode in modes:
            if mode and mode.startswith("service:"):
                out.append((mode.split(":", 1)[1], via))
        for item in service.volumes_from or ():
            ref = item.rsplit(":", 1)[0] if item.endswith((":ro", ":rw")) else item
            if not ref.startswith("container:"):
                out.append((ref.removeprefix("service:"), "volumes_from"))
        return out

    def _service_graph(self, services: Iterable[str] | None) -> nx.DiGraph:
        """A plain DiGraph of services only (networkx views are slow to walk on large graphs)."""
        names = self.services if services is None else list(services)
        self._require_known(names)
        chosen = set(names)
        graph = nx.DiGraph()
        graph.add_nodes_from(names)
        graph.add_edges_from((a, b) for a, b in self.graph.edges(names) if b in chosen)
        return graph

    def _require_known(self, names: Iterable[str]) -> None:
        unknown = [n for n in names if self.graph.nodes.get(n, {}).get("kind") != "service"]
        if unknown:
            known = ", ".join(self.services) or "none"
            raise UserError.single(f"no such service: {', '.join(unknown)} (services: {known})")

    def levels(self, services: Iterable[str] | None = None) -> list[set[str]]:
        """Start order: sets of services that can start in parallel, dependencies first.

        ``services`` restricts the order to those services (their dependencies are not added; see ``subgraph``).
        """
        view = self._service_graph(services)
        cycle = self._find_cycle(view)
        if cycle:
            raise UserError.single("dependency cycle: " + " -> ".join(cycle))
        return [set(level) for level in nx.topological_generations(view.reverse(copy=False))]

    def reverse_levels(self, services: Iterable[str] | None = None) -> list[set[str]]:
        """Stop order: dependents first, then what they depend on."""
        return list(reversed(self.levels(services)))

    def subgraph(self, services: Iterable[str], with_deps: bool = True) -> "ServiceGraph":
        """The graph restricted to ``services``, plus everything they need if ``with_deps`` (``up SVC``);
        ``with_deps=False`` is ``--no-deps``."""
        names = list(services)
        self._require_known(names)
        chosen = set(names)
        if with_deps:
            services_only = self._service_graph(None)
            for name in names:
                chosen |= nx.descendants(services_only, name)
        return ServiceGraph(self.project, sorted(chosen))

    async def walk(self, visit: Callable[[str], Awaitable[None]], *, reverse: bool = False, limit: int | None = None,
                   services: Iterable[str] | None = None) -> None:
        """Call ``visit(service)`` for every service, each as soon as what it waits for is done: its dependencies
        (start order) or, with ``reverse``, its dependents (stop order). At most ``limit`` visits run at once.

        When a visit raises, no further visit starts; the ones running finish, then the first error is raised
        (with a note naming the service).
        """
        graph = self._service_graph(services)
        cycle = self._find_cycle(graph)
        if cycle:
            raise UserError.single("dependency cycle: " + " -> ".join(cycle))
        waits = {n: set(graph.predecessors(n) if reverse else graph.successors(n)) for n in graph}
        done = {n: asyncio.Event() for n in graph}
        gate = asyncio.Semaphore(limit) if limit else None
        errors: list[BaseException] = []

        async def one(name: str) -> None:
            try:
                for other in waits[name]:
                    await done[other].wait()
                if errors:
                    return
                if gate is None:
                    await visit(name)
                else:
                    async with gate:
                        if errors:
                            return
                        await visit(name)
            except Exception as err:  # noqa: BLE001 - reported below, after the running visits finish
                err.add_note(f"while visiting service {name!r}")
                errors.append(err)
            finally:
                done[name].set()

        await asyncio.gather(*(one(n) for n in sorted(graph)))
        if errors:
            raise errors[0]

    def dependencies(self, name: str) -> set[str]:
        """Services ``name`` needs directly."""
        return {t for t in self.graph.successors(name) if self.graph.nodes[t]["kind"] == "service"}

    def dependents(self, name: str) -> set[str]:
        """Services that need ``name`` directly."""
        return set(self.graph.predecessors(name))

    def cycle(self) -> list[str] | None:
        """One dependency cycle as service names, first one repeated at the end (``[a, b, a]``), or None."""
        return self._find_cycle(self._service_graph(None))

    @staticmethod
    def _find_cycle(view: nx.DiGraph) -> list[str] | None:
        if nx.is_directed_acyclic_graph(view):
            return None
        for component in sorted(nx.strongly_connected_components(view), key=min):
            if len(component) == 1 and not view.has_edge(next(iter(component)), next(iter(component))):
                continue
            start = min(component)
            edges = nx.find_cycle(view.subgraph(component), source=start)
            return [edge[0] for edge in edges] + [start]
        return None
