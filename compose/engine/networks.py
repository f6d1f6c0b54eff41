"""Networks over the Engine API: the project's networks by label, create from the model, remove."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compose import labels as L
from compose.engine.errors import NotFound, translated
from compose.model import Network
from compose.resourcehash import SCHEME, network_hash

if TYPE_CHECKING:
    import docker

__all__ = ["list_networks", "find_network", "create_network", "remove_network", "network_body"]


def list_networks(client: "docker.APIClient", project: str) -> list[dict[str, Any]]:
    with translated("list networks"):
        result: list[dict[str, Any]] = client.networks(filters=L.project_filter(project))
    return result


def find_network(client: "docker.APIClient", name: str) -> dict[str, Any] | None:
    try:
        with translated(f"network {name}"):
            result: dict[str, Any] = client.inspect_network(name)
        return result
    except NotFound:
        return None


def network_body(project: str, network: Network) -> dict[str, Any]:
    """The keyword arguments of ``create_network`` for ``network`` (labels as Docker Compose sets them)."""
    from docker.types import IPAMConfig, IPAMPool

    labels = dict(network.labels or {})
    labels.update({L.PROJECT: project, L.NETWORK: network.key, L.VERSION: L.COMPOSE_VERSION,
                   L.CONFIG_HASH: network_hash(network), L.HASH_SCHEME: SCHEME})  # ``up`` recreates the network when this changes
    ipam = None
    if network.ipam:
        pools = [IPAMPool(subnet=c.get("subnet"), iprange=c.get("ip_range"), gateway=c.get("gateway"),
                          aux_addresses=c.get("aux_addresses")) for c in network.ipam.get("config") or ()]
        ipam = IPAMConfig(driver=network.ipam.get("driver") or "default", pool_configs=pools,
                          options=network.ipam.get("options"))
    body: dict[str, Any] = {"driver": network.driver or "bridge", "options": network.driver_opts, "ipam": ipam,
                            "internal": bool(network.internal), "labels": labels,
                            "attachable": bool(network.attachable), "check_duplicate": True}
    if network.enable_ipv6 is not None:
        body["enable_ipv6"] = network.enable_ipv6
    if network.enable_ipv4 is not None:  # not a docker-py argument: create_network sends it itself
        body["enable_ipv4"] = network.enable_ipv4
    return body


def create_network(client: "docker.APIClient", project: str, network: Network) -> str:
    body = network_body(project, network)
    with translated(f"create network {network.name}"):
        if network.enable_ipv4 is None:
            result = client.create_network(network.name, **body)
        else:  # EnableIPv4 (API 1.48) is a field docker-py does not know: the same request with it added
            result = client._result(client._post_json(client._url("/networks/create"),
                                                      data=_create_request(network.name, body)), json=True)
    return str(result.get("Id", ""))


def _create_request(name: str, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /networks/create`` JSON from :func:`network_body` (as docker-py builds it, plus ``EnableIPv4``)."""
    return {"Name": name, "Driver": body["driver"], "Options": body["options"], "IPAM": body["ipam"],
            "CheckDuplicate": body["check_duplicate"], "Internal": body["internal"], "Labels": body["labels"],
            "Attachable": body["attachable"], "EnableIPv6": body.get("enable_ipv6"),
            "EnableIPv4": body.get("enable_ipv4")}


def remove_network(client: "docker.APIClient", name: str) -> None:
    with translated(f"remove network {name}"):
        client.remove_network(name)
