"""``pycompose rm``: remove stopped service containers (``-s`` stops them first, ``-v`` anonymous volumes)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

__all__ = ["register", "rm"]


def register(app: typer.Typer) -> None:
    app.command("rm", help="Removes stopped service containers.")(rm)


def rm(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Don't ask to confirm removal.")] = False,
    stop: Annotated[bool, typer.Option("--stop", "-s", help="Stop the containers, if required, before "
                                       "removing.")] = False,
    volumes: Annotated[bool, typer.Option("--volumes", "-v", help="Remove any anonymous volumes attached to "
                                          "containers.")] = False,
) -> int:
    import sys

    from compose.cli.session import open_session
    from compose.observe import Observed
    from compose.plan import Op, Plan, plan_stop

    session = open_session(ctx, list(services or []), bare_ok=True)
    found = session.containers(list(services or []), oneoff=None)
    plan = plan_stop(session.project, Observed(containers=found), list(services or []) or None) if stop else Plan()
    stops = set(plan.steps)
    targets = [c for c in found if stop or not c.running]
    if not targets:
        print("No stopped containers", file=sys.stderr)
        return 0
    if not force:
        print(f"Going to remove {', '.join(c.name for c in targets)}", file=sys.stderr)
        if not sys.stdin.isatty() or input("Are you sure? [yN] ").strip().lower() not in ("y", "yes"):
            return 0
    for c in targets:
        plan.add(Op.REMOVE_CONTAINER, c.name, "rm", set(stops), service=c.service, number=c.number,
                 container_id=c.id, args={"volumes": volumes})
    session.run(plan)
    return 0
