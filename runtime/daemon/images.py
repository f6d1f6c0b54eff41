"""``/images``: list, inspect, history, tag, remove, prune, import (``create?fromSrc``), pull
(``create?fromImage``), push, load and save (``get``)."""
from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from runtime.daemon.filters import labels_match, parse_filters
from runtime.daemon.progress import progress_stream
from runtime.daemon.router import Router
from runtime.daemon.server import Reply, Request, Response, Stream, json_response
from runtime.errors import InvalidArgument

if TYPE_CHECKING:
    from runtime.daemon.app import Engine

__all__ = ["register", "register_auth"]


def register(router: Router, engine: Engine) -> None:
    from runtime.images.inspect import image_history, image_inspect, image_summary

    store = engine.images
    tmp = str(store.root)

    async def listing(req: Request) -> Response:
        filters = parse_filters(req, ("reference", "label", "dangling", "before", "since", "until"))
        images = await asyncio.to_thread(store.list)
        usage = engine.image_users()
        out = []
        for image in images:
            tags = image.repo_tags
            if filters.get("dangling"):
                dangling = filters["dangling"][-1].lower() in ("1", "true")
                if dangling == bool(tags):
                    continue
            if filters.get("label") and not labels_match(image.config.get("Labels") or {}, filters["label"]):
                continue
            if filters.get("reference"):
                import fnmatch

                pats = filters["reference"]
                if not any(fnmatch.fnmatch(t, p) or fnmatch.fnmatch(t.rsplit(":", 1)[0], p)
                           for t in tags for p in pats):
                    continue
            out.append(image_summary(image, usage.get(image.id, 0)))
        return json_response(out)

    async def inspect(req: Request) -> Response:
        image = await asyncio.to_thread(store.resolve, req.params["name"])
        return json_response(image_inspect(image))

    async def history(req: Request) -> Response:
        image = await asyncio.to_thread(store.resolve, req.params["name"])
        return json_response(image_history(image))

    async def tag(req: Request) -> Response:
        repo = req.arg("repo")
        if not repo:
            raise InvalidArgument("repository name must have at least one component")
        path = repo.split("/", 1)[1] if "/" in repo and any(c in repo.split("/")[0] for c in ".:") else repo
        if path != path.lower():
            raise InvalidArgument(f"invalid reference format: repository name ({repo}) must be lowercase")
        ref = f"{repo}:{req.arg('tag')}" if req.arg("tag") else repo
        image = await asyncio.to_thread(store.tag, req.params["name"], ref)
        engine.bus.publish("image", "tag", image.id, {"name": ref})
        return Response(201, content_type="text/plain")

    async def remove(req: Request) -> Response:
        result = await asyncio.to_thread(store.remove, req.params["name"], force=req.flag("force"))
        for item in result:
            for action, value in item.items():
                engine.bus.publish("image", "untag" if action == "Untagged" else "delete", value, {"name": value})
        return json_response(result)

    async def prune(req: Request) -> Response:
        filters = parse_filters(req, ("dangling", "label", "until"))
        dangling = not filters.get("dangling") or filters["dangling"][-1].lower() in ("1", "true")
        report = await asyncio.to_thread(store.prune, dangling_only=dangling)
        return json_response(report)

    async def create(req: Request) -> Reply:
        src, image_name = req.arg("fromSrc"), req.arg("fromImage")
        tag = req.arg("tag") or ""
        if src is not None:
            if src != "-":
                raise InvalidArgument("importing from a URL is not supported; send the tarball as the body")
            repo = req.arg("repo") or ""
            reference = (f"{repo}:{tag}" if tag else repo) or None
            changes = req.query.get("changes", [])
            body = await req.spool(tmp)

            def work(emit: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
                with body:
                    image = store.import_rootfs(body, reference, changes or None, message=req.arg("message") or "")
                engine.bus.publish("image", "import", image.id, {"name": reference or image.id})
                return [{"status": image.id}]

            return progress_stream(work)
        if not image_name:
            raise InvalidArgument("fromImage or fromSrc is required")
        ref = image_name if not tag or "@" in image_name else f"{image_name}:{tag}"
        pull = _registry_call("pull")
        creds = _credentials(req)
        platform = req.arg("platform") or None

        def pull_work(emit: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
            pull(store, ref, engine.registry_options(), emit, platform=platform, credentials=creds)
            engine.bus.publish("image", "pull", ref, {"name": ref})
            return []

        return progress_stream(pull_work)

    async def push(req: Request) -> Reply:
        name = req.params["name"]
        ref = f"{name}:{req.arg('tag')}" if req.arg("tag") else name
        push_fn = _registry_call("push")
        await asyncio.to_thread(store.resolve, ref)  # 404 before the stream starts
        creds = _credentials(req)

        def work(emit: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
            push_fn(store, ref, engine.registry_options(), emit, credentials=creds)
            engine.bus.publish("image", "push", ref, {"name": ref})
            return []

        return progress_stream(work)

    async def load(req: Request) -> Reply:
        from runtime.images.archive import load_images

        body = await req.spool(tmp)

        def work(emit: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
            with body:
                messages = load_images(store, body)
            for msg in messages:
                engine.bus.publish("image", "load", msg.split(": ", 1)[-1], {})
            return [{"stream": m + "\n"} for m in messages]

        return progress_stream(work)

    async def save(req: Request) -> Reply:
        from runtime.images.archive import save_images

        names = req.query.get("names") or ([req.params["name"]] if "name" in req.params else [])
        if not names:
            raise InvalidArgument("no images named to save")
        for name in names:  # fail before the 200 when an image is unknown
            await asyncio.to_thread(store.resolve, name)
        fd, path = tempfile.mkstemp(dir=tmp)
        out = os.fdopen(fd, "w+b")
        os.unlink(path)
        await asyncio.to_thread(save_images, store, names, out)
        out.seek(0)

        async def body() -> AsyncIterator[bytes]:
            with out:
                while chunk := await asyncio.to_thread(out.read, 1 << 20):
                    yield chunk

        return Stream(body(), content_type="application/x-tar")

    router.add("GET", "/images/json", listing)
    router.add("POST", "/images/create", create)
    router.add("POST", "/images/load", load)
    router.add("GET", "/images/get", save)
    router.add("POST", "/images/prune", prune)
    router.add("GET", "/images/{name:path}/json", inspect)
    router.add("GET", "/images/{name:path}/history", history)
    router.add("GET", "/images/{name:path}/get", save)
    router.add("POST", "/images/{name:path}/tag", tag)
    router.add("POST", "/images/{name:path}/push", push)
    router.add("DELETE", "/images/{name:path}", remove)


def _credentials(req: Request) -> Any:
    """Credentials of the ``X-Registry-Auth`` header (base64url JSON), as docker login stored them."""
    header = req.headers.get("x-registry-auth")
    if not header:
        return None
    from runtime.images.registry.auth import credentials_from_header

    try:
        return credentials_from_header(header)
    except ValueError:
        raise InvalidArgument("invalid X-Registry-Auth header") from None


def register_auth(router: Router, engine: Engine) -> None:
    """``POST /auth`` (docker login): check the credentials against the registry; the client stores them."""

    async def auth(req: Request) -> Response:
        body = await req.json_object()
        login = _registry_call("login")
        server = body.get("serveraddress") or "docker.io"
        status = await asyncio.to_thread(login, server, body.get("username") or "", body.get("password") or "",
                                         config=engine.registry_options(), store=False)
        return json_response({"Status": status, "IdentityToken": ""})

    router.add("POST", "/auth", auth)


def _registry_call(name: str) -> Callable[..., Any]:
    """``pull``, ``push`` or ``login`` of the registry client (imported on first use: the daemon starts without)."""
    from runtime.images import registry

    fn: Callable[..., Any] = getattr(registry, name)
    return fn
