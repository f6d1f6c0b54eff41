"""The service dependency graph (networkx): start order as parallel levels, stop order, sub-graphs."""
from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from compose.model import Project

__all__ = ["ServiceGraph"]


class ServiceGraph:
    """Services, networks and volumes as nodes; an edge ``a -> b`` means ``a`` needs ``b`` started first."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.graph: nx.DiGraph = nx.DiGraph()

    def levels(self, services: Iterable[str] | None = None) -> list[set[str]]:
        """Start order: sets of services that can start in parallel, dependencies first."""
        raise NotImplementedError

    def reverse_levels(self, services: Iterable[str] | None = None) -> list[set[str]]:
        """Stop order: dependents first."""
        raise NotImplementedError

    def subgraph(self, services: Iterable[str], with_deps: bool = True) -> "ServiceGraph":
        """The graph restricted to ``services`` (plus everything they depend on if ``with_deps``)."""
        raise NotImplementedError

    def cycle(self) -> list[str] | None:
        """One dependency cycle as a list of service names, or None."""
        raise NotImplementedError
