"""A plan's parts: the operations (each named for the API call it makes), the steps (each with its ``cause``
and the steps it comes after) and the plan itself with its stable text form. ``compose.plan`` builds plans from
desired and observed state; ``compose.execute`` runs them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from compose.engine.containers import ContainerInfo

__all__ = ["Op", "Step", "Plan", "remove_container_steps"]


class Op(Enum):
    CREATE_NETWORK = "create network"
    CREATE_VOLUME = "create volume"
    PULL_IMAGE = "pull image"
    BUILD_IMAGE = "build image"
    STOP_CONTAINER = "stop container"
    REMOVE_CONTAINER = "remove container"
    CREATE_CONTAINER = "create container"
    RENAME_CONTAINER = "rename container"
    START_CONTAINER = "start container"
    WAIT_HEALTHY = "wait healthy"
    WAIT_COMPLETED = "wait completed"
    RESTART_CONTAINER = "restart container"
    REMOVE_NETWORK = "remove network"
    REMOVE_VOLUME = "remove volume"
    REMOVE_IMAGE = "remove image"


_RANK = {op: i for i, op in enumerate(Op)}


@dataclass
class Step:
    key: str  # unique within the plan: "<OP> <target>"
    op: Op
    target: str  # the engine name acted on (container, network, volume, image)
    cause: str
    after: set[str] = field(default_factory=set)  # keys of steps that must succeed first
    optional: set[str] = field(default_factory=set)  # of ``after``: a failure there only warns (required: false)
    service: str | None = None
    number: int | None = None
    container_id: str | None = None
    args: dict[str, Any] = field(default_factory=dict)  # timeout, volumes, force, key...


@dataclass
class Plan:
    steps: dict[str, Step] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add(self, op: Op, target: str, cause: str, after: set[str] | None = None, **fields: Any) -> str:
        key = f"{op.name} {target}"
        if key in self.steps:
            self.steps[key].after |= after or set()
            return key
        self.steps[key] = Step(key, op, target, cause, set(after or ()), **fields)
        return key

    def order(self) -> list[Step]:
        """Every step after what it waits for; among ready steps by operation, then target (stable)."""
        waiting = {k: {a for a in s.after if a in self.steps} for k, s in self.steps.items()}
        done: set[str] = set()
        out: list[Step] = []
        while waiting:
            ready = sorted((k for k, deps in waiting.items() if deps <= done),
                           key=lambda k: (_RANK[self.steps[k].op], self.steps[k].target))
            if not ready:
                raise RuntimeError(f"plan has a cycle among {sorted(waiting)}")
            step = self.steps[ready[0]]
            out.append(step)
            done.add(step.key)
            del waiting[step.key]
        return out

    def __str__(self) -> str:
        lines = []
        for step in self.order():
            line = f"{step.key}: {step.cause}"
            after = sorted(a for a in step.after if a in self.steps)
            if after:
                line += " <- " + ", ".join(a + ("?" if a in step.optional else "") for a in after)
            lines.append(line)
        return "\n".join(lines) + ("\n" if lines else "")

    def __bool__(self) -> bool:
        return bool(self.steps)


def remove_container_steps(plan: Plan, c: ContainerInfo, cause: str, timeout: int | None,
                           after: set[str] | None = None, volumes: bool = False) -> str:
    """Stop ``c`` (when it runs) then remove it, after ``after``; the REMOVE step's key."""
    stop = plan.add(Op.STOP_CONTAINER, c.name, cause, set(after or ()), service=c.service, number=c.number,
                    container_id=c.id, args={"timeout": timeout}) if c.running else None
    return plan.add(Op.REMOVE_CONTAINER, c.name, cause, {stop} if stop else set(after or ()), service=c.service,
                    number=c.number, container_id=c.id, args={"volumes": volumes})
