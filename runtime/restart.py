"""Restart policies ``no``, ``always``, ``on-failure[:N]``, ``unless-stopped`` with Docker's back-off: the delay
starts at 100 ms and doubles after each restart up to one minute, and falls back to 100 ms once a run lasted at
least 10 s. An explicit stop disables restarts until the next start."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.errors import InvalidArgument

__all__ = ["RestartPolicy", "RestartTracker", "FIRST_DELAY", "MAX_DELAY", "RESET_AFTER"]

FIRST_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0
_NAMES = ("no", "always", "on-failure", "unless-stopped")


@dataclass(frozen=True)
class RestartPolicy:
    name: str = "no"
    max_retries: int = 0  # on-failure only; 0 = no limit

    @classmethod
    def parse(cls, value: str | Mapping[str, Any] | None) -> RestartPolicy:
        """``"on-failure:3"`` or the Engine API's ``{"Name": ..., "MaximumRetryCount": ...}``."""
        if value is None:
            return cls()
        if isinstance(value, str):
            name, _, count = value.partition(":")
            if count and not count.isdigit():
                raise InvalidArgument(f"invalid restart policy {value!r}: maximum retry count must be an integer")
            retries = int(count or 0)
        else:
            name, retries = value.get("Name") or "no", int(value.get("MaximumRetryCount") or 0)
        name = name or "no"
        if name not in _NAMES:
            raise InvalidArgument(f"invalid restart policy '{name}'")
        if retries and name != "on-failure":
            raise InvalidArgument("invalid restart policy: maximum retry count can only be used with 'on-failure'")
        if retries < 0:
            raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
        return cls(name, retries)

    def to_api(self) -> dict[str, Any]:
        return {"Name": self.name, "MaximumRetryCount": self.max_retries}


@dataclass
class RestartTracker:
    """Per-container restart state (persist ``restart_count`` and ``manually_stopped`` with the container)."""

    policy: RestartPolicy
    restart_count: int = 0
    manually_stopped: bool = False
    delay: float = 0.0

    def stopped_by_user(self) -> None:
        self.manually_stopped = True

    def started_by_user(self) -> None:
        """An explicit start: restarts allowed again, back-off and count from scratch (as ``docker start``)."""
        self.manually_stopped = False
        self.delay = 0.0
        self.restart_count = 0

    def decide(self, exit_code: int, run_seconds: float) -> float | None:
        """Seconds to wait before restarting a container that exited, or None for no restart."""
        if self.manually_stopped:
            return None
        if run_seconds >= RESET_AFTER:
            self.delay = 0.0
        self.delay = FIRST_DELAY if self.delay == 0.0 else min(self.delay * 2, MAX_DELAY)
        name = self.policy.name
        if name in ("always", "unless-stopped"):
            restart = True
        elif name == "on-failure":
            limit = self.policy.max_retries
            restart = exit_code != 0 and (limit == 0 or self.restart_count < limit)
        else:
            restart = False
        if not restart:
            return None
        self.restart_count += 1
        return self.delay

    def on_engine_start(self) -> bool:
        """Whether a stopped container is started when the engine starts (Docker: always, and unless-stopped
        when it was not stopped by the user)."""
        return self.policy.name == "always" or (self.policy.name == "unless-stopped" and not self.manually_stopped)
