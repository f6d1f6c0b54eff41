"""Shared body of the per-container commands (kill, pause, unpause): one API call per matching container, in
parallel threads, each reported as an event."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compose.cli.session import Session
    from compose.engine.containers import ContainerInfo

__all__ = ["for_each_container"]


def for_each_container(session: "Session", containers: list["ContainerInfo"], words: tuple[str, str],
                       call: Callable[[str], None]) -> None:
    import os

    from compose.errors import Problem, UserError
    from compose.events import Event, Status

    working, done = words
    # --dry-run: the events only. compose.execute.dry_run() reads the same variable, but importing the executor
    # (asyncio, the model, the plan: ~50 ms) would double what kill/pause/unpause cost.
    rehearsing = os.environ.get("PYCOMPOSE_DRY_RUN") == "1"
    problems: list[Problem] = []

    def one(c: "ContainerInfo") -> None:
        kind = "DRY-RUN MODE -  Container" if rehearsing else "Container"
        session.display(Event(kind, c.name, Status.WORKING, working))
        try:
            if not rehearsing:
                call(c.id)
        except UserError as err:
            session.display(Event(kind, c.name, Status.ERROR, str(err)))
            problems.extend(err.problems)
            return
        session.display(Event(kind, c.name, Status.DONE, done))

    try:
        if len(containers) == 1:  # no pool (concurrent.futures costs a few ms to import) for one call
            one(containers[0])
        elif containers:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(32, len(containers))) as pool:
                list(pool.map(one, containers))
    finally:
        session.display.close()
    if problems:
        raise UserError(problems)
