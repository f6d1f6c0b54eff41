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
from compose.errors import UserError
from compose.model import Project
from compose.observe import Observed, diverges
from compose.resourcehash import network_hash, volume_hash

__all__ = ["Recreation", "diverged_networks", "diverged_volumes", "recreations", "kept_volume_message"]


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
