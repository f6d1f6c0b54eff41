"""Which services an image command (``pull``, ``push``) acts on: the ones named, with their dependencies on
``--include-deps``, or every service of the project, in a stable order."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compose.model import Project

__all__ = ["target_services"]


def target_services(project: "Project", services: list[str] | None, include_deps: bool) -> list[str]:
    from compose.graph import ServiceGraph

    names = list(services or []) or sorted(project.services)
    if include_deps and services:
        names = ServiceGraph(project).subgraph(names).services
    return names
