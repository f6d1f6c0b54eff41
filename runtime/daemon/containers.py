"""``/containers``: create, list, inspect, start, stop, restart, kill, pause, unpause, rename, update, remove,
prune, wait, top, stats. I/O endpoints (logs, attach, resize) live in ``container_io``, file ones in ``archive``."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from runtime.daemon.bodycheck import UPDATE, check_body, unsupported_warnings
from runtime.daemon.container_view import LIST_FILTERS, inspect_json, matches, summary_json
from runtime.daemon.filters import parse_filters
from runtime.daemon.router import Router
from runtime.daemon.server import Reply, Request, Response, Stream, json_response
from runtime import trace
from runtime.errors import InvalidArgument, InvalidState, NotFound
from runtime.spec import parse_signal

if TYPE_CHECKING:
    from runtime.daemon.app import Engine

__all__ = ["register"]


def _no_content() -> Response:
    return Response(204, content_type="text/plain")


def _sizes(engine: Engine, rec: dict[str, Any]) -> tuple[int, int]:
    """(bytes the container wrote: its upper dir, that plus its image), as ``docker ps -s`` shows them."""
    from runtime.volumes import dir_size

    upper = engine.containers.state_dir(rec["Id"]) / "upper"
    rw = dir_size(upper) if upper.is_dir() else 0
    try:
        image = engine.images.get(rec["ImageID"]).size
    except NotFound:
        image = 0
    return rw, rw + image


def register(router: Router, engine: Engine) -> None:
    sup = engine.supervisor

    async def create(req: Request) -> Response:
        trace.mark("http.create")
        body = await req.json()
        trace.mark("create.body")
        if not isinstance(body, dict):
            raise InvalidArgument("config cannot be empty in order to create a container")
        rec = await sup.create(body, req.arg("name"), req.arg("platform"))
        reply = json_response({"Id": rec["Id"], "Warnings": unsupported_warnings(body)}, 201)
        trace.mark("create.reply", rec["Id"])
        return reply

    async def listing(req: Request) -> Response:
        filters = parse_filters(req, LIST_FILTERS)
        show_all = req.flag("all") or bool(filters.get("status") or filters.get("exited"))
        limit = req.int_arg("limit", -1) or -1
        if req.int_arg("limit", -1) == 0:
            limit = -1
        records = engine.records.all()
        order = {}
        for i, rec in enumerate(reversed(records)):
            order[rec["Id"]] = i
            order[rec["Name"].lstrip("/")] = i
        out = []
        for rec in records:
            live = sup.live(rec["Id"])
            if not show_all and live.status not in ("running", "paused", "restarting"):
                continue
            if not matches(rec, live, filters, order):
                continue
            item = summary_json(rec, live, req.flag("size"))
            if req.flag("size"):
                item["SizeRw"], item["SizeRootFs"] = await asyncio.to_thread(_sizes, engine, rec)
            out.append(item)
            if 0 < limit <= len(out):
                break
        return json_response(out)

    async def inspect(req: Request) -> Response:
        rec = engine.records.find(req.params["id"])
        out = inspect_json(rec, sup.live(rec["Id"]), str(engine.root))
        if req.flag("size"):
            out["SizeRw"], out["SizeRootFs"] = await asyncio.to_thread(_sizes, engine, rec)
        return json_response(out)

    async def start(req: Request) -> Response:
        trace.mark("http.start", req.params["id"])
        rec = engine.records.find(req.params["id"])
        if sup.live(rec["Id"]).status in ("running", "paused"):
            return Response(304, content_type="text/plain")
        await sup.start(rec["Id"], by_user=True)
        return _no_content()

    def _timeout(req: Request) -> int | None:
        return req.int_arg("t", None) if req.arg("t") is not None else req.int_arg("timeout", None)

    async def stop(req: Request) -> Response:
        rec = engine.records.find(req.params["id"])
        if sup.live(rec["Id"]).status not in ("running", "paused", "restarting"):
            return Response(304, content_type="text/plain")
        await sup.stop(rec["Id"], _timeout(req), req.arg("signal"))
        return _no_content()

    async def restart(req: Request) -> Response:
        rec = engine.records.find(req.params["id"])
        if sup.live(rec["Id"]).status in ("running", "paused", "restarting"):
            await sup.stop(rec["Id"], _timeout(req), req.arg("signal"))
        await sup.start(rec["Id"], by_user=True)
        engine.publish_container(rec, "restart")
        return _no_content()

    async def kill(req: Request) -> Response:
        rec = engine.records.find(req.params["id"])
        try:
            sig = parse_signal(req.arg("signal") or "SIGKILL")
        except ValueError as err:
            raise InvalidArgument(str(err)) from None
        await sup.kill(rec["Id"], sig)
        return _no_content()

    async def pause(req: Request) -> Response:
        await sup.pause(engine.records.find(req.params["id"])["Id"], True)
        return _no_content()

    async def unpause(req: Request) -> Response:
        await sup.pause(engine.records.find(req.params["id"])["Id"], False)
        return _no_content()

    async def rename(req: Request) -> Response:
        rec = engine.records.find(req.params["id"])
        new = req.arg("name")
        if not new:
            raise InvalidArgument("new name is required")
        old = rec["Name"]
        full = engine.records.claim_name(new, rec["Id"])
        await asyncio.to_thread(engine.containers.rename, rec["Id"], full.lstrip("/"))
        rec["Name"] = full
        engine.records.save(rec)
        engine.publish_container(rec, "rename", {"oldName": old})
        return _no_content()

    async def update(req: Request) -> Response:
        rec = engine.records.find(req.params["id"])
        body = await req.json_object()
        check_body(body, UPDATE)
        warnings = await sup.update(rec["Id"], body)
        return json_response({"Warnings": warnings})

    async def remove(req: Request) -> Response:
        rec = engine.records.find(req.params["id"])
        await sup.remove(rec["Id"], force=req.flag("force"), volumes=req.flag("v"))
        return _no_content()

    async def prune(req: Request) -> Response:
        filters = parse_filters(req, ("label", "label!", "until"))
        deleted = []
        for rec in engine.records.all():
            if sup.live(rec["Id"]).status in ("running", "paused", "restarting"):
                continue
            labels = filters.get("label", []) + ["!" + v for v in filters.get("label!", [])]
            from runtime.daemon.filters import labels_match

            if labels and not labels_match(rec["Config"].get("Labels") or {}, labels):
                continue
            try:
                await sup.remove(rec["Id"], force=False, volumes=False)
            except (InvalidState, NotFound):
                continue
            deleted.append(rec["Id"])
        return json_response({"ContainersDeleted": deleted or None, "SpaceReclaimed": 0})

    async def wait(req: Request) -> Reply:
        rec = engine.records.find(req.params["id"])
        condition = req.arg("condition") or "not-running"
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: {condition!r}")
        waiter = sup.waiter(rec["Id"], condition)

        async def body() -> AsyncIterator[bytes]:
            # headers go out first (docker run relies on it), then the result when the condition holds
            yield b""
            result = await waiter
            yield json.dumps(result).encode() + b"\n"

        return Stream(body())

    async def top(req: Request) -> Response:
        rec = engine.records.find(req.params["id"])
        return json_response(await sup.top(rec["Id"], req.arg("ps_args") or "-ef"))

    async def stats(req: Request) -> Reply:
        rec = engine.records.find(req.params["id"])
        stream = req.flag("stream", True) and not req.flag("one-shot")

        async def body() -> AsyncIterator[bytes]:
            previous: dict[str, Any] | None = None
            while True:
                sample = await sup.stats(rec["Id"], previous)
                yield json.dumps(sample).encode() + b"\n"
                if not stream or sup.live(rec["Id"]).status != "running":
                    return
                previous = sample
                await asyncio.sleep(1.0)  # Docker's sampling period, not a synchronisation

        return Stream(body())

    router.add("POST", "/containers/create", create)
    router.add("GET", "/containers/json", listing)
    router.add("POST", "/containers/prune", prune)
    router.add("GET", "/containers/{id}/json", inspect)
    router.add("POST", "/containers/{id}/start", start)
    router.add("POST", "/containers/{id}/stop", stop)
    router.add("POST", "/containers/{id}/restart", restart)
    router.add("POST", "/containers/{id}/kill", kill)
    router.add("POST", "/containers/{id}/pause", pause)
    router.add("POST", "/containers/{id}/unpause", unpause)
    router.add("POST", "/containers/{id}/rename", rename)
    router.add("POST", "/containers/{id}/update", update)
    router.add("POST", "/containers/{id}/wait", wait)
    router.add("GET", "/containers/{id}/top", top)
    router.add("GET", "/containers/{id}/stats", stats)
    router.add("DELETE", "/containers/{id}", remove)
