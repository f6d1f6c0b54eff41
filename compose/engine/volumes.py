"""Volumes over the Engine API: the project's volumes by label, create from the model, remove."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compose import labels as L
from compose.engine.errors import NotFound, translated
from compose.model import Volume
from compose.resourcehash import SCHEME, volume_hash

if TYPE_CHECKING:
    import docker

__all__ = ["list_volumes", "find_volume", "create_volume", "remove_volume"]


def list_volumes(client: "docker.APIClient", project: str) -> list[dict[str, Any]]:
    with translated("list volumes"):
        result = client.volumes(filters=L.project_filter(project))
    return list((result or {}).get("Volumes") or [])


def find_volume(client: "docker.APIClient", name: str) -> dict[str, Any] | None:
    try:
        with translated(f"volume {name}"):
            result: dict[str, Any] = client.inspect_volume(name)
        return result
    except NotFound:
        return None


def create_volume(client: "docker.APIClient", project: str, volume: Volume) -> None:
    labels = dict(volume.labels or {})
    labels.update({L.PROJECT: project, L.VOLUME: volume.key, L.VERSION: L.COMPOSE_VERSION,
                   L.CONFIG_HASH: volume_hash(volume), L.HASH_SCHEME: SCHEME})  # ``up`` asks to recreate the volume when this changes
    with translated(f"create volume {volume.name}"):
        client.create_volume(volume.name, driver=volume.driver or "local", driver_opts=volume.driver_opts,
                             labels=labels)


def remove_volume(client: "docker.APIClient", name: str) -> None:
    with translated(f"remove volume {name}"):
        client.remove_volume(name)
