"""Running a plan made only of container starts, stops and restarts (the light ``stop``/``start``/``restart``)
without ``compose.execute``, whose imports (asyncio, the model, the create body...: ~85 ms) cost more than such
a command's work. The semantics are ``compose.execute.run_plan``'s: a step runs once every step it comes after
has finished, in the plan's order among ready ones, at most ``parallel_limit()`` at a time; after a failed step
it depends on it is skipped (or, for a dependency that is not required, goes on with a warning); after any
failure no new step begins; the failures are raised together as one ``UserError``. The events are the same.
Hooks, waits and ``--dry-run`` stay with ``compose.execute`` (the light commands take the full path for them).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from compose.engine import containers as C
from compose.errors import UserError
from compose.events import Sink, Status, step_event
from compose.plansteps import Op, Plan, Step

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["CONTAINER_OPS", "parallel_limit", "run_container_steps"]

CONTAINER_OPS = frozenset({Op.START_CONTAINER, Op.STOP_CONTAINER, Op.RESTART_CONTAINER})


def parallel_limit() -> int:
    try:
        return max(1, int(os.environ.get("COMPOSE_PARALLEL_LIMIT", "32")))
    except ValueError:
        return 32


def _call(client: Any, step: Step) -> None:
    ref = step.container_id or step.target
    if step.op is Op.START_CONTAINER:
        C.start(client, step.target)  # by name, as compose.execute: errors then name the container
    elif step.op is Op.STOP_CONTAINER:
        C.stop(client, ref, step.args.get("timeout"))
    elif step.op is Op.RESTART_CONTAINER:
        C.restart(client, ref, step.args.get("timeout"))
    else:  # pragma: no cover - run_container_steps refuses other plans
        raise AssertionError(f"not a container step: {step.op}")


def run_container_steps(plan: Plan, client: Any, sink: Sink, limit: int | None = None) -> None:
    """Run ``plan`` (only ``CONTAINER_OPS`` steps) to the end; see the module docstring."""
    steps = plan.order()
    if any(s.op not in CONTAINER_OPS for s in steps):
        raise ValueError("run_container_steps runs container starts, stops and restarts only")
    errors: list[UserError] = []

    def one(step: Step) -> bool:
        if errors:
            return False
        sink(step_event(step, Status.WORKING))
        try:
            _call(client, step)
        except UserError as err:
            sink(step_event(step, Status.ERROR, str(err)))
            errors.append(err)
            return False
        sink(step_event(step, Status.DONE))
        return True

    if len(steps) == 1:  # no pool (concurrent.futures costs a few ms to import) for one call
        one(steps[0])
    elif steps:
        _schedule(plan, steps, one, limit or parallel_limit(), errors, sink)
    if errors:
        raise UserError.together(errors)


def _ready(plan: Plan, step: Step, ok: dict[str, bool], sink: Sink) -> bool | None:
    """None while a step ``step`` comes after is unfinished; else whether it may run (warning for each failed
    dependency that is not required, until one that is)."""
    deps = sorted(d for d in step.after if d in plan.steps)
    if any(d not in ok for d in deps):
        return None
    for dep in deps:
        if not ok[dep]:
            if dep not in step.optional:
                return False
            sink(step_event(step, Status.WARNING, f"{plan.steps[dep].target} failed, not required"))
    return True


def _schedule(plan: Plan, steps: list[Step], one: Any, limit: int, errors: list[UserError], sink: Sink) -> None:
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    ok: dict[str, bool] = {}
    pending = list(steps)
    running: dict["Future[bool]", Step] = {}
    with ThreadPoolExecutor(max_workers=min(limit, len(steps)), thread_name_prefix="engine") as pool:
        while pending or running:
            moved = True
            while moved:  # skipping a step may make others ready (or skipped) in turn
                moved = False
                for step in list(pending):
                    go = _ready(plan, step, ok, sink)
                    if go is None:
                        continue
                    pending.remove(step)
                    moved = True
                    if go and not errors:
                        running[pool.submit(one, step)] = step
                    else:
                        ok[step.key] = False
            if not running:
                if pending:  # pragma: no cover - plan.order() refused a cycle already
                    raise RuntimeError(f"steps never ready: {[s.key for s in pending]}")
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                ok[running.pop(future).key] = future.result()
