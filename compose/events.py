"""Progress events: the executor and the commands send them to a sink; renderers in ``compose.display`` draw
them. Nothing in the logic prints."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compose.plansteps import Step

__all__ = ["Status", "Event", "Sink", "null_sink", "WORDS", "step_event"]


class Status(Enum):
    WORKING = "working"
    DONE = "done"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Event:
    kind: str  # Container, Network, Volume, Image
    name: str
    status: Status
    text: str  # "Creating", "Created", "Healthy", the error message...
    at: float = field(default_factory=time.monotonic)


Sink = Callable[[Event], None]


def null_sink(event: Event) -> None:
    """Drops every event (``--progress quiet``)."""


# operation name -> (resource kind, text while working, text when done)
WORDS: dict[str, tuple[str, str, str]] = {
    "CREATE_NETWORK": ("Network", "Creating", "Created"),
    "CREATE_VOLUME": ("Volume", "Creating", "Created"),
    "PULL_IMAGE": ("Image", "Pulling", "Pulled"),
    "BUILD_IMAGE": ("Image", "Building", "Built"),
    "CREATE_CONTAINER": ("Container", "Creating", "Created"),
    "RENAME_CONTAINER": ("Container", "Recreating", "Recreated"),
    "START_CONTAINER": ("Container", "Starting", "Started"),
    "WAIT_HEALTHY": ("Container", "Waiting", "Healthy"),
    "WAIT_COMPLETED": ("Container", "Waiting", "Exited"),
    "RESTART_CONTAINER": ("Container", "Restarting", "Started"),
    "STOP_CONTAINER": ("Container", "Stopping", "Stopped"),
    "REMOVE_CONTAINER": ("Container", "Removing", "Removed"),
    "REMOVE_NETWORK": ("Network", "Removing", "Removed"),
    "REMOVE_VOLUME": ("Volume", "Removing", "Removed"),
    "REMOVE_IMAGE": ("Image", "Removing", "Removed"),
    "KILL_CONTAINER": ("Container", "Killing", "Killed"),
    "PAUSE_CONTAINER": ("Container", "Pausing", "Paused"),
    "UNPAUSE_CONTAINER": ("Container", "Unpausing", "Unpaused"),
}


def step_event(step: "Step", status: Status, text: str | None = None) -> Event:
    """The event of a plan step (``text`` instead of the step's word, e.g. an error)."""
    kind, working, done = WORDS[step.op.name]
    if step.args.get("recreate") and step.op.name in ("CREATE_NETWORK", "CREATE_VOLUME"):  # a diverged one, removed
        working, done = "Recreate", "Recreated"  # as Docker Compose reports it
    return Event(kind, step.target, status, text or (working if status is Status.WORKING else done))
