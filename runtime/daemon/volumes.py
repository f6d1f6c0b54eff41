"""``/volumes``: create, list, inspect, remove, prune (Docker Engine API shapes)."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from runtime.daemon.filters import labels_match, names_match, parse_filters
from runtime.daemon.router import Router
from runtime.daemon.server import Request, Response, json_response
from runtime.errors import InvalidArgument
from runtime.volumes import Volume

if TYPE_CHECKING:
    from runtime.daemon.app import Engine

__all__ = ["register", "volume_json"]


def volume_json(engine: Engine, vol: Volume, usage: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"CreatedAt": vol.created, "Driver": vol.driver, "Labels": vol.labels or None,
                           "Mountpoint": str(engine.volumes.data_path(vol.name)), "Name": vol.name,
                           "Options": vol.options or None, "Scope": "local"}
    if usage:
        size, refs = engine.volumes.usage(vol.name)
        out["UsageData"] = {"Size": size, "RefCount": refs}
    return out


def register(router: Router, engine: Engine) -> None:
    svc = engine.volumes

    async def create(req: Request) -> Response:
        body = await req.json_object()
        if not isinstance(body, dict):
            raise InvalidArgument("volume create: body must be a JSON object")
        for key, kind in (("Name", str), ("Driver", str), ("DriverOpts", dict), ("Labels", dict)):
            if body.get(key) is not None and not isinstance(body[key], kind):
                raise InvalidArgument(f"volume create: {key} must be a {kind.__name__}")
        vol, _new = await asyncio.to_thread(svc.create, body.get("Name") or None, body.get("Driver") or "local",
                                            body.get("DriverOpts") or {}, body.get("Labels") or {})
        return json_response(volume_json(engine, vol), 201)

    async def listing(req: Request) -> Response:
        filters = parse_filters(req, ("name", "label", "driver", "dangling"))
        vols = []
        for vol in await asyncio.to_thread(svc.list):
            if filters.get("name") and not names_match(vol.name, filters["name"]):
                continue
            if filters.get("label") and not labels_match(vol.labels, filters["label"]):
                continue
            if filters.get("driver") and vol.driver not in filters["driver"]:
                continue
            if filters.get("dangling"):
                dangling = filters["dangling"][-1].lower() in ("1", "true")
                if dangling == bool(vol.refs):
                    continue
            vols.append(volume_json(engine, vol))
        return json_response({"Volumes": vols, "Warnings": []})

    async def inspect(req: Request) -> Response:
        return json_response(volume_json(engine, svc.get(req.params["name"])))

    async def remove(req: Request) -> Response:
        await asyncio.to_thread(svc.remove, req.params["name"], req.flag("force"))
        return Response(204, content_type="text/plain")

    async def prune(req: Request) -> Response:
        filters = parse_filters(req, ("label", "label!", "all"))
        labels = filters.get("label", []) + ["!" + v for v in filters.get("label!", [])]
        all_volumes = bool(filters.get("all")) and filters["all"][-1].lower() in ("1", "true")
        if req.headers.get("x-api-version", "1.42") < "1.42":
            all_volumes = True
        removed, reclaimed = await asyncio.to_thread(svc.prune, labels, all_volumes)
        return json_response({"VolumesDeleted": removed or None, "SpaceReclaimed": reclaimed})

    router.add("POST", "/volumes/create", create)
    router.add("GET", "/volumes", listing)
    router.add("POST", "/volumes/prune", prune)
    router.add("GET", "/volumes/{name}", inspect)
    router.add("DELETE", "/volumes/{name}", remove)
