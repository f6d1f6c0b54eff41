"""Health checks as Docker runs them: ``CMD``, ``CMD-SHELL`` or ``NONE``; interval, timeout, retries,
start_period, start_interval; status ``starting`` -> ``healthy``/``unhealthy`` with the last five probes.

:class:`HealthMonitor` runs the probes through a ``probe(argv, timeout)`` coroutine the caller supplies (an exec
in the container) and reports each status change.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.timestamps import rfc3339nano

__all__ = ["HealthConfig", "HealthState", "HealthMonitor", "STARTING", "HEALTHY", "UNHEALTHY", "NONE",
           "MAX_LOG_ENTRIES", "MAX_OUTPUT"]

STARTING, HEALTHY, UNHEALTHY, NONE = "starting", "healthy", "unhealthy", "none"
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096
_NS = 1_000_000_000
Probe = Callable[[list[str], float], Awaitable[tuple[int, str]]]


def _rfc3339(ts: float) -> str:
    return rfc3339nano(int(ts * _NS))


@dataclass(frozen=True)
class HealthConfig:
    argv: tuple[str, ...]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0
    start_interval: float = 5.0

    @classmethod
    def from_api(cls, hc: Mapping[str, Any] | None) -> HealthConfig | None:
        """From the Engine API's ``Healthcheck`` (durations in ns; 0 = default); None for NONE or no test."""
        if not hc or not hc.get("Test") or hc["Test"][0] == "NONE":
            return None
        test = list(hc["Test"])
        if test[0] == "CMD-SHELL":
            argv = ("/bin/sh", "-c", " ".join(test[1:]))
        elif test[0] == "CMD":
            argv = tuple(test[1:])
        else:
            argv = ("/bin/sh", "-c", " ".join(test))
        if not argv:
            return None

        def secs(key: str, default: float) -> float:
            value = hc.get(key) or 0
            return value / _NS if value > 0 else default

        return cls(argv, secs("Interval", 30.0), secs("Timeout", 30.0), int(hc.get("Retries") or 0) or 3,
                   secs("StartPeriod", 0.0), secs("StartInterval", 5.0))


@dataclass
class HealthState:
    status: str = STARTING
    failing_streak: int = 0
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_LOG_ENTRIES))

    def to_api(self) -> dict[str, Any]:
        return {"Status": self.status, "FailingStreak": self.failing_streak, "Log": list(self.log)}

    @classmethod
    def from_api(cls, raw: Mapping[str, Any] | None) -> HealthState:
        if not raw:
            return cls()
        return cls(raw.get("Status", STARTING), int(raw.get("FailingStreak", 0)),
                   deque(raw.get("Log") or [], maxlen=MAX_LOG_ENTRIES))


class HealthMonitor:
    def __init__(self, config: HealthConfig, probe: Probe, on_change: Callable[[HealthState], None],
                 started_at: float | None = None, state: HealthState | None = None,
                 on_probe: Callable[[HealthState], None] | None = None) -> None:
        self.config = config
        self.state = state or HealthState()
        self._probe = probe
        self._on_change = on_change
        self._on_probe = on_probe or (lambda _s: None)
        self._started = started_at if started_at is not None else time.time()

    def _in_start_period(self, now: float) -> bool:
        return now - self._started < self.config.start_period

    def _next_interval(self) -> float:
        if self.state.status == STARTING and self._in_start_period(time.time()):
            return min(self.config.start_interval, self.config.interval)
        return self.config.interval

    async def probe_once(self) -> None:
        cfg = self.config
        start = time.time()
        try:
            exit_code, output = await asyncio.wait_for(self._probe(list(cfg.argv), cfg.timeout), cfg.timeout)
        except asyncio.TimeoutError:
            exit_code, output = -1, f"Health check exceeded timeout ({cfg.timeout:g}s)"
        except Exception as err:  # noqa: BLE001 - a probe that cannot run is a failed probe, as in Docker
            exit_code, output = -1, f"health check failed to run: {err}"
        end = time.time()
        st = self.state
        before = st.status
        st.log.append({"Start": _rfc3339(start), "End": _rfc3339(end), "ExitCode": exit_code,
                       "Output": output[:MAX_OUTPUT]})
        if exit_code == 0:
            st.failing_streak = 0
            st.status = HEALTHY
        elif not (st.status == STARTING and self._in_start_period(start)):
            st.failing_streak += 1
            if st.failing_streak >= cfg.retries:
                st.status = UNHEALTHY
        self._on_probe(st)
        if st.status != before:
            self._on_change(st)

    async def run(self) -> None:
        """Probe until cancelled (the container stopped)."""
        while True:
            await asyncio.sleep(self._next_interval())  # the probe schedule itself, not a wait for an event
            await self.probe_once()
