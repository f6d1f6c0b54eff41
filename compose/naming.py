"""Engine names of the project's objects, as Docker Compose names them.

Containers ``<project>-<service>-<n>`` (or ``container_name``), one-off containers
``<project>-<service>-run-<slug12>``, networks and volumes ``<project>_<key>`` unless ``name:`` or ``external``
says otherwise (the model resolves those: ``Network.name``, ``Volume.name``). With ``COMPOSE_COMPATIBILITY``
true (``--compatibility``) the container names take ``_`` instead of ``-``, as Compose v1 named them.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # names only: ``logs`` and ``ps``-like commands use ``separator`` without loading the model
    from compose.model import Project, Service

__all__ = ["container_name", "oneoff_name", "separator", "new_slug", "network_name", "volume_name",
           "default_network",
           "DEFAULT_NETWORK"]

DEFAULT_NETWORK = "default"


def container_name(project: str, service: Service | str, number: int) -> str:
    """``<project>-<service>-<number>``; a service's ``container_name`` wins (it allows one replica only)."""
    if not isinstance(service, str):  # a model ``Service``
        if service.container_name:
            return service.container_name
        service = service.name
    sep = separator()
    return f"{project}{sep}{service}{sep}{number}"


def separator() -> str:
    """``-``, or ``_`` in compatibility mode (``COMPOSE_COMPATIBILITY``, as Docker Compose reads it)."""
    return "_" if os.environ.get("COMPOSE_COMPATIBILITY", "").lower() in ("1", "true") else "-"


def new_slug() -> str:
    import secrets

    return secrets.token_hex(32)


def oneoff_name(project: str, service: str, slug: str) -> str:
    sep = separator()
    return f"{project}{sep}{service}{sep}run{sep}{slug[:12]}"


def network_name(project: Project, key: str) -> str:
    """The engine name of network ``key``: its ``name:``/external name, else ``<project>_<key>``."""
    network = project.networks.get(key)
    return network.name if network is not None else f"{project.name}_{key}"


def volume_name(project: Project, key: str) -> str:
    volume = project.volumes.get(key)
    return volume.name if volume is not None else f"{project.name}_{key}"


def default_network(project: str) -> str:
    return f"{project}_{DEFAULT_NETWORK}"
