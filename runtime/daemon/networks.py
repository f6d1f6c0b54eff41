"""``/networks``: create, list, inspect, remove, prune, connect, disconnect (bridge driver)."""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from runtime.daemon.bodycheck import CONNECT, NETWORK, check_body
from runtime.daemon.filters import parse_filters
from runtime.daemon.router import Router
from runtime.daemon.server import Request, Response, json_response
from runtime.errors import InvalidArgument
from runtime.network.endpointcfg import check_endpoints

if TYPE_CHECKING:
    from runtime.daemon.app import Engine

__all__ = ["register"]


def register(router: Router, engine: Engine) -> None:
    nets = engine.networks
    if nets is None:
        return
    svc = nets.svc

    async def create(req: Request) -> Response:
        body = await req.json_object()
        check_body(body, NETWORK)
        if not body.get("Name"):
            raise InvalidArgument("network create: Name is required")
        for key, kind in (("Options", dict), ("Labels", dict), ("IPAM", dict)):
            if body.get(key) is not None and not isinstance(body[key], kind):
                raise InvalidArgument(f"network create: {key} must be an object")
        if body.get("Scope") not in (None, "", "local"):
            raise InvalidArgument(f"network create: scope {body['Scope']!r} is not supported")
        options = body.get("Options") or {}
        enable_ipv4 = body.get("EnableIPv4")  # API 1.48; Docker's driver option says the same
        if enable_ipv4 is None:
            enable_ipv4 = str(options.get("com.docker.network.enable_ipv4", "true")).lower() not in ("false", "0")
        net = await asyncio.to_thread(svc.create, body["Name"], body.get("Driver") or "bridge", body.get("IPAM"),
                                      bool(body.get("Internal")), bool(body.get("EnableIPv6")),
                                      options, body.get("Labels") or {},
                                      bool(body.get("Attachable")), enable_ipv4=bool(enable_ipv4))
        return json_response({"Id": net.id, "Warning": ""}, 201)

    async def listing(req: Request) -> Response:
        filters = parse_filters(req, ("name", "id", "label", "driver", "type", "scope", "dangling"))
        dangling = filters.pop("dangling", None)
        scope = filters.pop("scope", None)
        if scope and "local" not in scope:
            return json_response([])
        await asyncio.to_thread(svc.default_bridge)
        out = []
        for net in await asyncio.to_thread(svc.list, filters):
            if dangling and (dangling[-1].lower() in ("1", "true")) == bool(net.endpoints):
                continue
            out.append(net.inspect())
        return json_response(out)

    async def inspect(req: Request) -> Response:
        ref = req.params["id"]
        if ref == "bridge":
            await asyncio.to_thread(svc.default_bridge)
        return json_response(await asyncio.to_thread(svc.inspect, ref))

    async def remove(req: Request) -> Response:
        await asyncio.to_thread(svc.remove, req.params["id"])
        return Response(204, content_type="text/plain")

    async def prune(req: Request) -> Response:
        filters = parse_filters(req, ("label", "label!", "until"))
        removed = await asyncio.to_thread(svc.prune, filters)
        return json_response({"NetworksDeleted": removed or None})

    async def connect(req: Request) -> Response:
        body = await req.json_object()
        check_body(body, CONNECT)
        if not body.get("Container"):
            raise InvalidArgument("network connect: Container is required")
        rec = engine.records.find(body["Container"])
        check_endpoints({req.params["id"]: body.get("EndpointConfig") or {}})
        await nets.connect(rec, req.params["id"], body.get("EndpointConfig") or {})
        return Response(200, content_type="text/plain")

    async def disconnect(req: Request) -> Response:
        body = await req.json_object()
        check_body(body, CONNECT)
        if not body.get("Container"):
            raise InvalidArgument("network disconnect: Container is required")
        rec = engine.records.find(body["Container"])
        await nets.disconnect(rec, req.params["id"], bool(body.get("Force")))
        return Response(200, content_type="text/plain")

    router.add("POST", "/networks/create", create)
    router.add("GET", "/networks", listing)
    router.add("POST", "/networks/prune", prune)
    router.add("GET", "/networks/{id}", inspect)
    router.add("DELETE", "/networks/{id}", remove)
    router.add("POST", "/networks/{id}/connect", connect)
    router.add("POST", "/networks/{id}/disconnect", disconnect)
