"""Runs each running container's health check: probes are execs in the container (killed when they time out);
every result is saved in the container's record (``State.Health``), every status change is a
``health_status: ...`` event."""
from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING, Any

from runtime.health import HealthConfig, HealthMonitor, HealthState
from runtime.spec import ExecSpec

if TYPE_CHECKING:
    from runtime.daemon.app import Engine

__all__ = ["HealthRunner"]


class HealthRunner:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, rec: dict[str, Any], started_at: float, resume: bool = False) -> None:
        """Probe the container's health check; ``resume`` keeps the recorded state (daemon restart)."""
        cfg = HealthConfig.from_api(rec.get("Healthcheck"))
        cid = rec["Id"]
        if cfg is None:
            return
        self.stop(cid)
        state = HealthState.from_api(rec.get("Health"))
        if not resume:
            state.status, state.failing_streak = "starting", 0
        svc, records = self.engine.containers, self.engine.records

        async def probe(argv: list[str], timeout: float) -> tuple[int, str]:
            proc = await asyncio.to_thread(svc.exec, cid, ExecSpec(args=tuple(argv)))
            try:
                code, out, err = await asyncio.shield(asyncio.to_thread(proc.communicate))
            except asyncio.CancelledError:  # timed out: the probe process must not linger
                with contextlib.suppress(OSError):
                    os.kill(proc.pid, 9)
                raise
            return code, (out + err).decode("utf-8", "replace")

        def current() -> dict[str, Any] | None:
            try:
                return records.find(cid)
            except Exception:  # noqa: BLE001 - removed meanwhile
                return None

        def on_probe(s: HealthState) -> None:
            rec_now = current()
            if rec_now is not None:
                rec_now["Health"] = s.to_api()
                records.save(rec_now)

        def on_change(s: HealthState) -> None:
            rec_now = current()
            if rec_now is not None:
                self.engine.publish_container(rec_now, f"health_status: {s.status}")

        mon = HealthMonitor(cfg, probe, on_change, started_at, state, on_probe)
        self._tasks[cid] = asyncio.ensure_future(mon.run())

    def stop(self, cid: str) -> None:
        task = self._tasks.pop(cid, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
