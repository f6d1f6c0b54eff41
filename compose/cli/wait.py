"""``pycompose wait SERVICE...``: block until the services' containers stop; print their exit codes."""
from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["register", "wait"]


def register(app: typer.Typer) -> None:
    app.command("wait", help="Block until containers of all (or specified) services stop.")(wait)


def wait(
    ctx: typer.Context,
    services: Annotated[list[str], typer.Argument(metavar="SERVICE")],
    down_project: Annotated[bool, typer.Option("--down-project", help="Drop the project when the first "
                                               "container stops.")] = False,
) -> int:
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait as wait_any

    from compose.cli.session import open_session
    from compose.engine.containers import wait as wait_container

    session = open_session(ctx, services)
    found = session.containers(services)
    if not found:
        return 0
    code = 0
    with ThreadPoolExecutor(max_workers=len(found)) as pool:
        futures = {pool.submit(wait_container, session.client, c.id): c for c in found}
        pending = set(futures)
        while pending:
            done, pending = wait_any(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                code = fut.result()
                print(code)
            if down_project:
                from compose.observe import observe
                from compose.plan import DownOptions, plan_down

                observed = observe(session.client, session.project, images=False, oneoff=None)
                session.run(plan_down(session.project, observed, DownOptions(timeout=0)))
                return code
    return code
