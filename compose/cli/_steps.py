"""What ``up`` shares with ``run``, ``scale`` and ``watch``: the build step's callable and the stop of everything
an attached command brought up (a second Ctrl-C kills)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compose.cli.session import Session


def builder(session: "Session"):  # type: ignore[no-untyped-def]
    """The BUILD_IMAGE step's callable: F's ``compose.build`` request, built through ``compose.engine.build``."""
    import os

    from compose.build import build_request
    from compose.engine.build import build_image

    def run(service: str, _ref: str) -> None:
        request = build_request(session.name, session.project.services[service], dict(os.environ))
        build_image(session.client, request, None)

    return run


def stop_all(session: "Session", services: list[str], timeout: int | None) -> None:
    from compose.observe import observe
    from compose.plan import plan_stop

    observed = observe(session.client, session.project, images=False)
    try:
        session.run(plan_stop(session.project, observed, services, timeout))
    except KeyboardInterrupt:  # the second Ctrl-C: kill what still runs
        from compose.cli._each import for_each_container
        from compose.engine import containers as C

        running = session.containers(services, all=False)
        for_each_container(session, running, ("Killing", "Killed"), lambda cid: C.kill(session.client, cid))
