"""The service dependency graph: start order as parallel levels, stop order, sub-graphs.

Nodes: each service by its name (``kind="service"``), each network as ``network:<key>`` and each named volume as
``volume:<key>`` (``kind="network"``/``"volume"``). An edge ``a -> b`` means ``a`` needs ``b`` first; service edges
carry ``via`` (``depends_on``, ``links``, ``network_mode``, ``ipc``, ``pid``, ``volumes_from``) and, for
depends_on, ``condition``, ``required`` and ``restart``.

The graph is kept as plain adjacency dicts, and levels, sub-graphs and walks run on them: every ``up``/``down``
needs those, and importing networkx costs more than the rest of a small project's planning (~0.1 s). networkx
is imported only when asked for: ``graph`` (a ``networkx.DiGraph`` view of the same nodes and edges) and the
report of a dependency cycle.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from compose.errors import UserError
from compose.model import Project, Service
from compose.servicedeps import generations

if TYPE_CHECKING:
    import networkx as nx

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
        self._kind: dict[str, str] = {}  # node -> kind, in insertion order
        self._out: dict[str, dict[str, dict[str, Any]]] = {}  # a -> {b: edge attributes}
        self._in: dict[str, set[str]] = {}  # b -> {a}
        self._nx: "nx.DiGraph | None" = None
        for name in chosen:
            self._add_node(name, "service")
        for name in chosen:
            self._add_edges(name, project.services[name], set(chosen))

    def _add_node(self, node: str, kind: str) -> None:
        if node not in self._kind:
            self._kind[node] = kind
            self._out[node] = {}
            self._in[node] = set()

    def _add_edge(self, a: str, b: str, **attrs: Any) -> None:
        self._out[a].setdefault(b, {}).update(attrs)
        self._in[b].add(a)

    @property
    def graph(self) -> "nx.DiGraph":
        """The same nodes (``kind``) and edges (their attributes) as a networkx ``DiGraph`` (built on first use)."""
        if self._nx is None:
            import networkx as nx

            graph = nx.DiGraph()
            graph.add_nodes_from((n, {"kind": kind}) for n, kind in self._kind.items())
            graph.add_edges_from((a, b, dict(attrs)) for a, out in self._out.items() for b, attrs in out.items())
            self._nx = graph
        return self._nx

    def edge(self, a: str, b: str) -> dict[str, Any]:
        """The attributes of the edge ``a -> b`` (``KeyError`` when there is none)."""
        return self._out[a][b]

    @property
    def services(self) -> list[str]:
        """The services in this graph, sorted."""
        return sorted(n for n, kind in self._kind.items() if kind == "service")

    def _add_edges(self, name: str, service: Service, chosen: set[str]) -> None:
        other = dict(reversed(self._other_needs(service)))  # target -> first way it is needed
        for target, dep in (service.depends_on or {}).items():
            if target in chosen:
                self._add_edge(name, target, via=other.get(target, "depends_on"), condition=dep.condition,
                               required=dep.required, restart=bool(dep.restart))
        for target, via in other.items():
            if target in chosen and target not in self._out[name]:
                self._add_edge(name, target, via=via, condition="service_started", required=True, restart=False)
        for key in service.networks or {}:
            if key in self.project.networks:
                self._add_node(network_node(key), "network")
                self._add_edge(name, network_node(key), via="networks")
        for mount in service.volumes or ():
            if mount.type == "volume" and mount.source and mount.source in self.project.volumes:
                self._add_node(volume_node(mount.source), "volume")
                self._add_edge(name, volume_node(mount.source), via="volumes")

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

    def _service_graph(self, services: Iterable[str] | None) -> dict[str, set[str]]:
        """Services only (``services``, default all): each one -> the services of those it needs."""
        names = self.services if services is None else list(services)
        self._require_known(names)
        chosen = set(names)
        return {n: {b for b in self._out[n] if b in chosen} for n in names}

    def _require_known(self, names: Iterable[str]) -> None:
        unknown = [n for n in names if self._kind.get(n) != "service"]
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
        return generations(view)

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
            todo = list(names)
            while todo:  # everything the named services need, directly or not
                for dep in services_only[todo.pop()]:
                    if dep not in chosen:
                        chosen.add(dep)
                        todo.append(dep)
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
        needed_by: dict[str, set[str]] = {n: set() for n in graph}
        for a, needs in graph.items():
            for b in needs:
                needed_by[b].add(a)
        waits = needed_by if reverse else graph
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
        return {t for t in self._out[name] if self._kind[t] == "service"}

    def service_edges(self) -> dict[str, dict[str, tuple[str, bool]]]:
        """Every service -> {service it needs: (condition, required)} (``compose.servicedeps.Edges``)."""
        return {n: {t: (str(self._out[n][t]["condition"]), bool(self._out[n][t]["required"]))
                    for t in sorted(self.dependencies(n))} for n in self._kind if self._kind[n] == "service"}

    def dependents(self, name: str) -> set[str]:
        """Services that need ``name`` directly."""
        return set(self._in[name])

    def cycle(self) -> list[str] | None:
        """One dependency cycle as service names, first one repeated at the end (``[a, b, a]``), or None."""
        return self._find_cycle(self._service_graph(None))

    @staticmethod
    def _find_cycle(view: dict[str, set[str]]) -> list[str] | None:
        if sum(len(level) for level in generations(view)) == len(view):
            return None
        import networkx as nx  # only to name the cycle for the error

        digraph = nx.DiGraph((a, b) for a, needs in view.items() for b in needs)
        for component in sorted(nx.strongly_connected_components(digraph), key=min):
            if len(component) == 1 and not digraph.has_edge(next(iter(component)), next(iter(component))):
                continue
            start = min(component)
            edges = nx.find_cycle(digraph.subgraph(component), source=start)
            return [edge[0] for edge in edges] + [start]
        return None

