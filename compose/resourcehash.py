"""Config hashes of networks and volumes, written as ``com.docker.compose.config-hash`` when they are created.

As Docker Compose (2.31+) does, ``up`` compares the label of an existing network or volume with the hash of its
configuration in the Compose file: a network whose hash differs is recreated, a volume whose hash differs is
recreated only when the user confirms (``-y``). Resources without the label (made by hand or an older tool) and
``external`` ones are never compared.

What counts: for a network its name, driver (``bridge`` when unset), ``driver_opts``, ``ipam``, ``internal``,
``attachable``, ``enable_ipv4``, ``enable_ipv6`` and ``labels``; for a volume its name, driver (``local`` when
unset), ``driver_opts`` and ``labels``. The digest is SHA-256 over JSON with sorted keys, unset fields left out,
so key order in the file and an explicit default never matter. Docker Compose's hash of the same network differs
(it hashes its Go structs), so the label ``io.pycompose.config-hash.scheme`` marks ours; a resource made by Docker
Compose is not compared (as one without the label).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from compose.model import Network, Volume

__all__ = ["network_hash", "volume_hash", "SCHEME"]

SCHEME = "1"  # written as ``io.pycompose.config-hash.scheme``: a hash of another scheme is never compared


def network_hash(network: Network) -> str:
    """Hex SHA-256 of what makes ``network`` the network it is (see the module doc)."""
    return _digest({"name": network.name, "driver": network.driver or "bridge",
                    "driver_opts": network.driver_opts or None, "ipam": network.ipam or None,
                    "internal": bool(network.internal), "attachable": bool(network.attachable),
                    "enable_ipv4": network.enable_ipv4, "enable_ipv6": network.enable_ipv6,
                    "labels": network.labels or None})


def volume_hash(volume: Volume) -> str:
    """Hex SHA-256 of what makes ``volume`` the volume it is (see the module doc)."""
    return _digest({"name": volume.name, "driver": volume.driver or "local",
                    "driver_opts": volume.driver_opts or None, "labels": volume.labels or None})


def _digest(config: dict[str, Any]) -> str:
    kept = {k: v for k, v in config.items() if v is not None}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
