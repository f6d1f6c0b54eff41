"""Containers over the Engine API: listing by compose labels, create/connect/start/stop/kill/remove/... and
the state the planner needs (``ContainerInfo``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from compose import labels as L
from compose.engine.errors import translated

if TYPE_CHECKING:
    import docker

__all__ = ["ContainerInfo", "list_containers", "info_from_listing", "create", "connect", "start", "stop", "kill",
           "remove", "restart", "pause", "unpause", "inspect", "wait", "rename", "top", "health"]


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    service: str
    number: int
    oneoff: bool = False
    config_hash: str = ""
    state: str = "running"  # created, running, paused, restarting, exited, dead
    status: str = ""
    image: str = ""
    command: str = ""
    created: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    ports: tuple[dict[str, Any], ...] = ()
    image_id: str = ""  # the listing's ``ImageID`` (empty from an engine that leaves it out)

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "paused")


def info_from_listing(entry: dict[str, Any]) -> ContainerInfo:
    labels = entry.get("Labels") or {}
    names = entry.get("Names") or [""]
    try:
        number = int(labels.get(L.CONTAINER_NUMBER, "0"))
    except ValueError:
        number = 0
    return ContainerInfo(
        id=entry["Id"], name=names[0].lstrip("/"), service=labels.get(L.SERVICE, ""), number=number,
        oneoff=labels.get(L.ONEOFF, "False") == "True", config_hash=labels.get(L.CONFIG_HASH, ""),
        state=entry.get("State") or "", status=entry.get("Status") or "", image=entry.get("Image") or "",
        command=entry.get("Command") or "", created=int(entry.get("Created") or 0), labels=dict(labels),
        ports=tuple(entry.get("Ports") or ()), image_id=entry.get("ImageID") or "")


def list_containers(client: "docker.APIClient", project: str, *, all: bool = True, services: list[str] | None = None,
                    oneoff: bool | None = False) -> list[ContainerInfo]:
    """The project's containers (``oneoff=None`` for both kinds), sorted by service then number."""
    extra = [] if oneoff is None else [f"{L.ONEOFF}={'True' if oneoff else 'False'}"]
    with translated("list containers"):
        entries = client.containers(all=all, filters=L.project_filter(project, *extra))
    found = [info_from_listing(e) for e in entries]
    if services:
        found = [c for c in found if c.service in services]
    return sorted(found, key=lambda c: (c.service, c.oneoff, c.number, c.name))


def create(client: "docker.APIClient", name: str, body: dict[str, Any], platform: str | None = None) -> str:
    with translated(f"create container {name}"):
        result = client.create_container_from_config(body, name=name, platform=platform)
    return str(result["Id"])


def connect(client: "docker.APIClient", container: str, network: str, endpoint: dict[str, Any]) -> None:
    ipam = endpoint.get("IPAMConfig") or {}
    with translated(f"connect {container} to {network}"):
        client.connect_container_to_network(
            container, network, aliases=endpoint.get("Aliases"), links=endpoint.get("Links"),
            ipv4_address=ipam.get("IPv4Address"), ipv6_address=ipam.get("IPv6Address"),
            link_local_ips=ipam.get("LinkLocalIPs"), driver_opt=endpoint.get("DriverOpts"),
            mac_address=endpoint.get("MacAddress"))


def start(client: "docker.APIClient", container: str) -> None:
    with translated(f"start {container}"):
        client.start(container)


def stop(client: "docker.APIClient", container: str, timeout: int | None = None) -> None:
    with translated(f"stop {container}"):
        if timeout is None:
            client.stop(container)
        else:
            client.stop(container, timeout=timeout)


def kill(client: "docker.APIClient", container: str, signal: str | None = None) -> None:
    with translated(f"kill {container}"):
        client.kill(container, signal=signal)


def remove(client: "docker.APIClient", container: str, *, force: bool = False, volumes: bool = False) -> None:
    with translated(f"remove {container}"):
        client.remove_container(container, v=volumes, force=force)


def restart(client: "docker.APIClient", container: str, timeout: int | None = None) -> None:
    with translated(f"restart {container}"):
        client.restart(container, timeout=10 if timeout is None else timeout)


def pause(client: "docker.APIClient", container: str) -> None:
    with translated(f"pause {container}"):
        client.pause(container)


def unpause(client: "docker.APIClient", container: str) -> None:
    with translated(f"unpause {container}"):
        client.unpause(container)


def inspect(client: "docker.APIClient", container: str) -> dict[str, Any]:
    with translated(f"inspect {container}"):
        result: dict[str, Any] = client.inspect_container(container)
    return result


def health(client: "docker.APIClient", container: str) -> tuple[str, str | None, int]:
    """``(state status, health status or None, exit code)`` from one inspect."""
    state = inspect(client, container).get("State") or {}
    hc = state.get("Health") or None
    return state.get("Status") or "", (hc or {}).get("Status"), int(state.get("ExitCode") or 0)


def wait(client: "docker.APIClient", container: str, timeout: float | None = None) -> int:
    with translated(f"wait {container}"):
        result = client.wait(container, timeout=timeout)
    return int(result.get("StatusCode", 0))


def rename(client: "docker.APIClient", container: str, name: str) -> None:
    with translated(f"rename {container}"):
        client.rename(container, name)


def top(client: "docker.APIClient", container: str, ps_args: str | None = None) -> dict[str, Any]:
    with translated(f"top {container}"):
        result: dict[str, Any] = client.top(container, ps_args=ps_args)
    return result
