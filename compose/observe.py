"""What the engine has for a project: its containers, networks and volumes (found by ``com.docker.compose.*``
labels, plus named/external ones looked up by name) and which service images are present. For a network or
volume whose ``config-hash`` label no longer matches the Compose file (``diverges``), also every container that
uses it, of any project: the plan removes the project's ones before recreating it and refuses when others use it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from compose import labels as L
from compose import trace
from compose.engine.containers import ContainerInfo, info_from_listing, list_containers
from compose.engine.createbody import service_image
from compose.engine.errors import translated
from compose.engine.images import image_stamp
from compose.engine.networks import find_network, list_networks
from compose.engine.volumes import find_volume, list_volumes
from compose.model import Project
from compose.resourcehash import SCHEME, network_hash, volume_hash

if TYPE_CHECKING:
    import docker

__all__ = ["Observed", "observe", "diverges"]


@dataclass
class Observed:
    """The engine's side of a project, as plain values (tests build it by hand)."""

    containers: list[ContainerInfo] = field(default_factory=list)
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)  # engine name -> listing entry
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, str | None] = field(default_factory=dict)  # image ref -> local ID (None: absent)
    image_times: dict[str, float] = field(default_factory=dict)  # image ref -> last tagged (or created), Unix s
    network_users: dict[str, list[ContainerInfo]] = field(default_factory=dict)  # diverged network -> containers
    volume_users: dict[str, list[ContainerInfo]] = field(default_factory=dict)  # diverged volume -> containers

    def service_containers(self, service: str, oneoff: bool = False) -> list[ContainerInfo]:
        return sorted((c for c in self.containers if c.service == service and c.oneoff == oneoff),
                      key=lambda c: (c.number, c.name))


def observe(client: "docker.APIClient", project: Project, *, services: list[str] | None = None,
            images: bool = True, oneoff: bool | None = False) -> Observed:
    """Read the engine's state for ``project`` (images only for ``services``, default all)."""
    trace.mark("observe")
    out = Observed(containers=list_containers(client, project.name, oneoff=oneoff))
    out.networks = {n["Name"]: n for n in list_networks(client, project.name)}
    for network in project.networks.values():
        if network.name not in out.networks:
            found = find_network(client, network.name)
            if found is not None:
                out.networks[network.name] = found
    out.volumes = {v["Name"]: v for v in list_volumes(client, project.name)}
    for volume in project.volumes.values():
        if volume.name not in out.volumes:
            found = find_volume(client, volume.name)
            if found is not None:
                out.volumes[volume.name] = found
    for network in project.networks.values():
        if not network.external and diverges(out.networks.get(network.name), project.name, network_hash(network)):
            out.network_users[network.name] = _users(client, "network", network.name)
    for volume in project.volumes.values():
        if not volume.external and diverges(out.volumes.get(volume.name), project.name, volume_hash(volume)):
            out.volume_users[volume.name] = _users(client, "volume", volume.name)
    if images:
        for name in services if services is not None else list(project.services):
            service = project.services[name]
            mounted = [m.source for m in service.volumes or () if m.type == "image" and m.source]
            for ref in [service_image(project, service), *mounted]:  # type: image volumes are planned too
                if ref not in out.images:
                    stamp = image_stamp(client, ref)
                    out.images[ref] = stamp[0] if stamp else None
                    if stamp and stamp[1] is not None:
                        out.image_times[ref] = stamp[1]
    return out


def diverges(entry: dict[str, Any] | None, project: str, digest: str) -> bool:
    """The engine's network or volume ``entry`` was made by Compose for ``project`` from another configuration
    than the one hashed to ``digest``; one without a ``config-hash`` label of our scheme (made by hand, by an older
    tool, or by Docker Compose, whose hash differs) or of another project never diverges."""
    labels = (entry or {}).get("Labels") or {}
    found = labels.get(L.CONFIG_HASH)
    return (bool(found) and labels.get(L.HASH_SCHEME) == SCHEME and labels.get(L.PROJECT) == project
            and found != digest)


def _users(client: "docker.APIClient", kind: str, name: str) -> list[ContainerInfo]:
    """Every container (running or not, of any project) attached to network or using volume ``name``."""
    with translated(f"list containers using {kind} {name}"):
        entries = client.containers(all=True, filters={kind: [name]})
    return sorted((info_from_listing(e) for e in entries), key=lambda c: c.name)
