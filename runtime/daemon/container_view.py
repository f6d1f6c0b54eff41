"""Docker-shaped views of a container: ``ContainerInspect`` and ``ContainerSummary`` (list), the human status
("Up 3 seconds (healthy)"), and the list filters (id, name, label, status, ancestor, exited, health, network,
volume, before/since)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from runtime.daemon.filters import labels_match, names_match
from runtime.daemon.logs import parse_log_time

__all__ = ["Live", "state_json", "inspect_json", "summary_json", "human_status", "matches", "ZERO_TIME",
           "LIST_FILTERS"]

ZERO_TIME = "0001-01-01T00:00:00Z"
LIST_FILTERS = ("id", "name", "label", "status", "ancestor", "exited", "health", "network", "volume", "before",
                "since", "is-task", "publish", "expose")


@dataclass
class Live:
    """The process side of a container, from the container service, in Docker's words."""

    status: str = "created"  # created running paused restarting removing exited dead
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    ports: list[dict[str, Any]] = field(default_factory=list)


def _ago(stamp: str) -> str:
    try:
        secs = max(0.0, time.time() - parse_log_time(stamp) / 1e9)
    except ValueError:
        return "a while"
    if secs < 1:
        return "Less than a second"
    if secs < 60:
        return f"{int(secs)} second{'s' if int(secs) != 1 else ''}"
    if secs < 3600:
        m = int(secs // 60)
        return "About a minute" if m == 1 else f"{m} minutes"
    if secs < 48 * 3600:
        h = round(secs / 3600)
        return "About an hour" if h == 1 else f"{h} hours"
    return f"{int(secs // 86400)} days"


def human_status(rec: dict[str, Any], live: Live) -> str:
    health = (rec.get("Health") or {}).get("Status")
    if live.status == "running":
        suffix = f" ({'health: starting' if health == 'starting' else health})" if health else ""
        return f"Up {_ago(live.started_at)}{suffix}"
    if live.status == "paused":
        return f"Up {_ago(live.started_at)} (Paused)"
    if live.status == "restarting":
        return f"Restarting ({live.exit_code}) {_ago(live.finished_at)} ago"
    if live.status == "exited":
        return f"Exited ({live.exit_code}) {_ago(live.finished_at)} ago"
    if live.status == "removing":
        return "Removal In Progress"
    if live.status == "dead":
        return "Dead"
    return "Created"


def state_json(rec: dict[str, Any], live: Live) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Status": live.status, "Running": live.status in ("running", "paused", "restarting"),
        "Paused": live.status == "paused", "Restarting": live.status == "restarting",
        "OOMKilled": live.oom_killed, "Dead": live.status == "dead", "Pid": live.pid if live.status in
        ("running", "paused") else 0, "ExitCode": live.exit_code, "Error": live.error,
        "StartedAt": live.started_at, "FinishedAt": live.finished_at,
    }
    if rec.get("Health"):
        out["Health"] = rec["Health"]
    return out


def _ports_map(live: Live, exposed: list[str]) -> dict[str, Any]:
    ports: dict[str, Any] = {p: None for p in exposed}
    for p in live.ports:
        key = f"{p['PrivatePort']}/{p['Type']}"
        if p.get("PublicPort"):
            ports.setdefault(key, None)
            ports[key] = (ports[key] or []) + [{"HostIp": p.get("IP", "0.0.0.0"), "HostPort": str(p["PublicPort"])}]
    return ports


def inspect_json(rec: dict[str, Any], live: Live, root: str) -> dict[str, Any]:
    cid = rec["Id"]
    return {
        "Id": cid, "Created": rec["Created"], "Path": rec["Path"], "Args": rec["Args"],
        "State": state_json(rec, live), "Image": rec["ImageID"], "ResolvConfPath": rec.get("ResolvConfPath", ""),
        "HostnamePath": rec.get("HostnamePath", ""), "HostsPath": rec.get("HostsPath", ""),
        "LogPath": rec.get("LogPath", ""), "Name": rec["Name"], "RestartCount": rec.get("RestartCount", 0),
        "Driver": "overlay", "Platform": "linux", "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": rec.get("ExecIDs") or None, "HostConfig": rec["HostConfig"],
        "GraphDriver": {"Name": "overlay", "Data": None}, "Mounts": rec.get("Mounts", []),
        "Config": rec["Config"],
        "NetworkSettings": {
            "Bridge": "", "SandboxID": "", "SandboxKey": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
            "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
            **(rec.get("NetworkSettings") or {}),
            "Ports": _ports_map(live, rec.get("Exposed", [])), "Networks": rec.get("Networks", {}),
        },
    }


def summary_json(rec: dict[str, Any], live: Live, size: bool = False) -> dict[str, Any]:
    command = " ".join([rec["Path"], *rec["Args"]]).strip()
    out = {
        "Id": rec["Id"], "Names": [rec["Name"]], "Image": rec["Config"].get("Image", ""), "ImageID": rec["ImageID"],
        "Command": command, "Created": int(parse_log_time(rec["Created"]) // 1_000_000_000),
        "Ports": [dict(p) for p in live.ports], "Labels": rec["Config"].get("Labels") or {},
        "State": live.status, "Status": human_status(rec, live),
        "HostConfig": {"NetworkMode": rec["HostConfig"].get("NetworkMode", "default")},
        "NetworkSettings": {"Networks": rec.get("Networks", {})}, "Mounts": rec.get("Mounts", []),
    }
    if size:
        out["SizeRw"] = 0
        out["SizeRootFs"] = 0
    return out


def matches(rec: dict[str, Any], live: Live, filters: dict[str, list[str]], order: dict[str, int]) -> bool:
    if filters.get("id") and not any(rec["Id"].startswith(v) for v in filters["id"]):
        return False
    if filters.get("name") and not names_match(rec["Name"], filters["name"]):
        return False
    if filters.get("label") and not labels_match(rec["Config"].get("Labels") or {}, filters["label"]):
        return False
    if filters.get("status") and live.status not in filters["status"]:
        return False
    if filters.get("exited"):
        if live.status != "exited" or str(live.exit_code) not in filters["exited"]:
            return False
    if filters.get("health"):
        health = (rec.get("Health") or {}).get("Status", "none")
        if health not in filters["health"]:
            return False
    if filters.get("ancestor"):
        image = rec["Config"].get("Image", "")
        if not any(a in (image, rec["ImageID"]) or rec["ImageID"].startswith("sha256:" + a) or
                   image.split(":")[0] == a for a in filters["ancestor"]):
            return False
    if filters.get("network"):
        nets = rec.get("Networks", {})
        ids = {n.get("NetworkID", "") for n in nets.values()}
        if not any(v in nets or v in ids for v in filters["network"]):
            return False
    if filters.get("volume"):
        used = {m.get("Name") for m in rec.get("Mounts", [])} | {m.get("Destination") for m in rec.get("Mounts", [])}
        if not any(v in used for v in filters["volume"]):
            return False
    if filters.get("publish"):
        published = {f"{p['PublicPort']}/{p['Type']}" for p in live.ports if p.get("PublicPort")}
        if not any(_port_match(v, published) for v in filters["publish"]):
            return False
    if filters.get("expose"):
        if not any(_port_match(v, set(rec.get("Exposed", []))) for v in filters["expose"]):
            return False
    for key, newer in (("before", False), ("since", True)):
        if filters.get(key):
            ref = order.get(filters[key][-1])
            if ref is None:
                return False
            mine = order[rec["Id"]]
            if (mine <= ref) if newer else (mine >= ref):
                return False
    return True


def _port_match(wanted: str, ports: set[str]) -> bool:
    """``80``, ``80/udp`` or a range ``8000-8080/tcp`` against ``{"80/tcp", ...}``."""
    spec, _, proto = wanted.partition("/")
    proto = proto or "tcp"
    low, _, high = spec.partition("-")
    try:
        lo, hi = int(low), int(high or low)
    except ValueError:
        return False
    return any(p.split("/")[1] == proto and lo <= int(p.split("/")[0]) <= hi for p in ports)
