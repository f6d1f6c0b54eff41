"""``POST /build`` (and ``POST /build/prune``): the classic builder's endpoint. The body is the context as a tar
(plain or compressed); the reply streams JSON lines as Docker's classic builder does:
``{"stream": "Step 1/5 : FROM ..."}``, then ``{"aux": {"ID": "sha256:..."}}``, and on failure
``{"errorDetail": {...}, "error": ...}`` (the status is 200 by then). Query: ``dockerfile``, ``t`` (repeated),
``buildargs``, ``labels`` (JSON), ``target``, ``nocache``, ``q``, ``pull``, ``networkmode``, ``shmsize``,
``extrahosts``."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runtime.daemon.progress import progress_stream
from runtime.daemon.router import Router
from runtime.daemon.server import Reply, Request, json_response
from runtime.errors import InvalidArgument, Unsupported

if TYPE_CHECKING:
    from runtime.daemon.app import Engine

__all__ = ["register", "build_options"]

_NETWORKS = {"": "default", "default": "default", "bridge": "default", "host": "host", "none": "none"}


def build_options(req: Request) -> Any:
    """The query of a ``/build`` request as ``BuildOptions``; ``InvalidArgument`` for bad values."""
    from runtime.build.builder import BuildOptions

    if req.arg("remote"):
        raise Unsupported("building from a remote context (remote=...) is not supported: send the context as tar")
    args = req.json_arg("buildargs") or {}
    labels = req.json_arg("labels") or {}
    if not isinstance(args, dict) or not isinstance(labels, dict):
        raise InvalidArgument("buildargs and labels must be JSON objects")
    if req.arg("platform"):
        from runtime.build.builder import check_platform

        check_platform(req.arg("platform") or "")
    network = req.arg("networkmode") or ""
    if network not in _NETWORKS:
        raise InvalidArgument(f"network mode {network!r} is not supported for builds (use default, host or none)")
    return BuildOptions(dockerfile=req.arg("dockerfile") or "Dockerfile", tags=list(req.query.get("t", [])),
                        build_args={str(k): (None if v is None else str(v)) for k, v in args.items()},
                        target=req.arg("target") or None, labels={str(k): str(v) for k, v in labels.items()},
                        no_cache=req.flag("nocache"), pull=req.flag("pull"), network=_NETWORKS[network],
                        shm_size=req.int_arg("shmsize") or 0, quiet=req.flag("q"),
                        extra_hosts=_extra_hosts(req.query.get("extrahosts", [])))


def _extra_hosts(values: list[str]) -> list[tuple[str, str]]:
    """``extrahosts``: ``name:address`` items, repeated or comma-separated (an IPv6 address keeps its colons)."""
    out = []
    for value in values:
        for item in filter(None, (v.strip() for v in value.split(","))):
            name, sep, address = item.partition(":")
            if not sep or not name or not address:
                raise InvalidArgument(f"invalid extra host {item!r}: want name:address")
            out.append((name, address.strip("[]")))
    return out


def register(router: Router, engine: Engine) -> None:
    from runtime.build.builder import Builder
    from runtime.build.run import Cancellation

    def pull(ref: str) -> Any:
        from runtime.images.registry import pull as registry_pull

        return registry_pull(engine.images, ref, engine.registry_options())

    builder = Builder(engine.images, engine.containers, engine.root / "build", pull=pull)
    builder.remove_leftovers()  # a build the previous engine was running when it stopped
    scratch = engine.root / "build" / "contexts"
    scratch.mkdir(parents=True, exist_ok=True)

    async def build(req: Request) -> Reply:
        from runtime.build.context import BuildContext

        options = build_options(req)
        body = await req.spool(scratch)

        cancellation = Cancellation()

        def work(emit: Callable[[dict[str, Any]], None]) -> None:
            with body:
                context = BuildContext.from_tar(body, scratch, options.dockerfile)  # type: ignore[arg-type]
            with context:
                image = builder.build(context, options, lambda text: emit({"stream": text}),
                                      built=lambda img: emit({"aux": {"ID": img.id}}), cancellation=cancellation)
            if options.quiet:
                emit({"stream": image.id + "\n"})
            for tag in options.tags:
                engine.bus.publish("image", "tag", image.id, {"name": tag})

        return progress_stream(work, cancellation.cancel)

    async def prune(req: Request) -> Reply:
        everything = req.flag("all")
        removed, freed = await asyncio.to_thread(builder.prune, everything)
        return json_response({"CachesDeleted": removed, "SpaceReclaimed": freed})

    router.add("POST", "/build", build)
    router.add("POST", "/build/prune", prune)
