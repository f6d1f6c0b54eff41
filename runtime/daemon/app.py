"""The engine object the handlers share: configuration, events bus and the services, plus the route table."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from runtime.daemon import archive, container_io, containers, images, networks, system, volumes
from runtime.daemon import build as build_handlers
from runtime.daemon import exec as exec_handlers
from runtime.daemon.errors import error_response
from runtime.daemon.events import EventBus
from runtime.daemon.router import API_VERSION, Router
from runtime.daemon.server import HttpServer
from runtime.engine_config import EngineConfig
from runtime.volumes import VolumeService

__all__ = ["Engine", "build_router", "serve"]

_log = logging.getLogger(__name__)


class Engine:
    """Everything a handler needs; services the tree does not have yet are ``None`` and their routes absent."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.root: Path = config.data_root
        self.root.mkdir(parents=True, exist_ok=True)
        self.bus = EventBus()
        self.volumes = VolumeService(self.root, self._volume_event)
        self.engine_id = self._engine_id()
        from runtime.images import ImageStore

        self.images = ImageStore(self.root / "images", in_use=self._image_user)
        from runtime.containers import ContainerService
        from runtime.daemon.records import Records
        from runtime.daemon.supervisor import Supervisor

        self.containers = ContainerService(self.root, images=self.images, cgroup_parent=config.cgroup_parent)
        self.records = Records(self.root)
        from runtime.daemon.networking import Networking

        self.networks: Networking | None = Networking(self, config.bridge)
        self.execs: dict[str, Any] = {}
        self.supervisor = Supervisor(self)
        self._closers: list[Any] = []

    def _engine_id(self) -> str:
        path = self.root / "engine-id"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            value = secrets.token_hex(16)
            path.write_text(value + "\n")
            return value

    def _volume_event(self, action: str, name: str, attrs: dict[str, str]) -> None:
        self.bus.publish("volume", action, name, attrs)

    def container_counts(self) -> dict[str, int]:
        counts = {"running": 0, "paused": 0, "stopped": 0}
        for state in self.supervisor.states():
            key = state if state in ("running", "paused") else "stopped"
            counts[key] += 1
        return counts

    def image_count(self) -> int:
        return len(self.images.list())

    def image_users(self) -> dict[str, int]:
        """Image id -> number of containers made from it."""
        counts: dict[str, int] = {}
        for rec in self.records.all():
            counts[rec["ImageID"]] = counts.get(rec["ImageID"], 0) + 1
        return counts

    def _image_user(self, image_id: str) -> str | None:
        """The id of a container made from ``image_id`` (the image store refuses to delete it)."""
        if not hasattr(self, "records"):
            return None
        from runtime.daemon.container_volumes import image_mount_ids

        for rec in self.records.all():
            if rec["ImageID"] == image_id or image_id in image_mount_ids(rec):  # made from it, or mounting it
                return rec["Id"]
        return None

    def publish_container(self, rec: dict[str, Any], action: str, extra: dict[str, str] | None = None) -> None:
        attrs = {**(rec["Config"].get("Labels") or {}), "image": rec["Config"].get("Image", ""),
                 "name": rec["Name"].lstrip("/"), **(extra or {})}
        self.bus.publish("container", action, rec["Id"], attrs)

    def registry_options(self) -> dict[str, Any]:
        return {"mirrors": list(self.config.registry_mirrors),
                "insecure": list(self.config.insecure_registries)}

    async def disk_usage(self) -> dict[str, Any]:
        from runtime.daemon.volumes import volume_json

        from runtime.daemon.container_view import summary_json
        from runtime.images.inspect import image_summary, layer_sharing

        vols = [volume_json(self, v, usage=True) for v in await asyncio.to_thread(self.volumes.list)]
        users = self.image_users()
        listed = await asyncio.to_thread(self.images.list)
        layers, shared = layer_sharing(listed)  # each layer counted once, as Docker's (the same sizes as images')
        images = [image_summary(i, users.get(i.id, 0), shared[i.id]) for i in listed]
        containers = [summary_json(r, self.supervisor.live(r["Id"]), size=True) for r in self.records.all()]
        return {"LayersSize": layers, "Images": images, "Containers": containers,
                "Volumes": vols, "BuildCache": []}

    async def start(self) -> None:
        self.bus.bind(asyncio.get_running_loop())
        if self.networks is not None:
            await self.networks.start()
        await self.supervisor.adopt()

    async def close(self) -> None:
        await self.supervisor.close()
        if self.networks is not None:
            await self.networks.close()
        self.containers.close()
        for closer in reversed(self._closers):
            try:
                result = closer()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001 - shutting down: log and go on
                _log.exception("shutdown step failed")


def build_router(engine: Engine) -> Router:
    router = Router()
    build_handlers.register(router, engine)
    system.register(router, engine)
    volumes.register(router, engine)
    images.register(router, engine)
    images.register_auth(router, engine)
    containers.register(router, engine)
    container_io.register(router, engine)
    exec_handlers.register(router, engine)
    networks.register(router, engine)
    archive.register(router, engine)
    return router


def _warm_caches() -> None:
    """Compile the default seccomp filter once (about 50 ms, then cached), off the request path."""
    from runtime.security import build_plan

    try:
        build_plan(seccomp_profile="default", namespaces=("pid", "mount", "uts", "ipc", "net", "cgroup"))
    except Exception:  # noqa: BLE001 - a cache warm-up: the first container start reports any real problem
        _log.debug("seccomp warm-up failed", exc_info=True)


async def serve(config: EngineConfig, socket_path: str, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Run the engine until ``stop`` is set (or forever)."""
    engine = Engine(config)
    await engine.start()
    router = build_router(engine)
    server = HttpServer(router.dispatch, error_response, {"Server": "pycompose-engine/0.1.0",
                                                          "Api-Version": API_VERSION})
    try:
        await server.listen_unix(socket_path)
    except BaseException:
        await engine.close()
        raise
    _log.info("engine listening on unix://%s (data root %s)", socket_path, config.data_root)
    if ready is not None:
        ready.set()
    warm = asyncio.create_task(asyncio.to_thread(_warm_caches))  # the first start need not compile seccomp
    try:
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        with contextlib.suppress(Exception):
            await warm
        await server.close()
        await engine.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)

