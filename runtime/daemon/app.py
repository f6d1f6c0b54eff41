"""The engine object the handlers share: configuration, events bus and the services, plus the route table."""
from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path
from typing import Any

from runtime.daemon import images, system, volumes
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
        self.containers: Any = None
        self.networks: Any = None
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
        if self.containers is not None:
            for state in self.containers.states():
                key = state if state in ("running", "paused") else "stopped"
                counts[key] += 1
        return counts

    def image_count(self) -> int:
        return len(self.images.list())

    def image_users(self) -> dict[str, int]:
        """Image id -> number of containers made from it."""
        counts: dict[str, int] = {}
        if self.containers is not None:
            for image_id in self.containers.image_ids():
                counts[image_id] = counts.get(image_id, 0) + 1
        return counts

    def _image_user(self, image_id: str) -> str | None:
        if self.containers is None:
            return None
        return self.containers.user_of_image(image_id)

    def registry_options(self) -> dict[str, Any]:
        return {"mirrors": list(self.config.registry_mirrors),
                "insecure": list(self.config.insecure_registries)}

    async def disk_usage(self) -> dict[str, Any]:
        from runtime.daemon.volumes import volume_json

        vols = [volume_json(self, v, usage=True) for v in await asyncio.to_thread(self.volumes.list)]
        return {"LayersSize": 0, "Images": [], "Containers": [], "Volumes": vols, "BuildCache": []}

    async def start(self) -> None:
        self.bus.bind(asyncio.get_running_loop())

    async def close(self) -> None:
        for closer in reversed(self._closers):
            try:
                result = closer()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001 - shutting down: log and go on
                _log.exception("shutdown step failed")


def build_router(engine: Engine) -> Router:
    router = Router()
    system.register(router, engine)
    volumes.register(router, engine)
    images.register(router, engine)
    return router


async def serve(config: EngineConfig, socket_path: str, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Run the engine until ``stop`` is set (or forever)."""
    engine = Engine(config)
    await engine.start()
    router = build_router(engine)
    server = HttpServer(router.dispatch, error_response, {"Server": "pycompose-engine/0.1.0",
                                                          "Api-Version": API_VERSION})
    await server.listen_unix(socket_path)
    _log.info("engine listening on unix://%s (data root %s)", socket_path, config.data_root)
    if ready is not None:
        ready.set()
    try:
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        await server.close()
        await engine.close()

