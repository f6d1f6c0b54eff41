"""A stable per-service config hash; ``up`` recreates a container when it changes."""
from __future__ import annotations

from compose.model import Project

__all__ = ["service_hash"]


def service_hash(project: Project, name: str) -> str:
    """Hex sha256 of the service's canonical config minus fields that need no recreation (scale, replicas)."""
    raise NotImplementedError
