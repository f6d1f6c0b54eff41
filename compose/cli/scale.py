"""``pycompose scale SERVICE=REPLICAS...``: set the number of containers of services, as ``docker compose scale``:
the same plan as ``up -d --scale`` (the named services, with their dependencies unless ``--no-deps``); extra
containers are removed from the highest number down, new ones created and started."""
from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["register", "scale", "parse_replicas"]


def register(app: typer.Typer) -> None:
    app.command("scale", help="Scale services.")(scale)


def parse_replicas(items: list[str]) -> dict[str, int]:
    """``["web=3", "db=1"]`` -> ``{"web": 3, "db": 1}``; a clear error for anything else."""
    from compose.errors import UserError

    out: dict[str, int] = {}
    for item in items:
        name, sep, count = item.partition("=")
        if not sep or not name or not count.isdigit():
            raise UserError.single(f"invalid scale specifier {item!r}: expected SERVICE=REPLICAS (a number >= 0)")
        out[name] = int(count)
    return out


def scale(
    ctx: typer.Context,
    specs: Annotated[list[str], typer.Argument(metavar="SERVICE=REPLICAS...", show_default=False)],
    no_deps: Annotated[bool, typer.Option("--no-deps", help="Don't start linked services.")] = False,
) -> int:
    from compose.cli.session import open_session
    from compose.graph import ServiceGraph
    from compose.observe import observe
    from compose.plan import UpOptions, plan_up

    replicas = parse_replicas(specs)
    wanted = list(replicas)
    session = open_session(ctx, wanted)
    opts = UpOptions(services=wanted, no_deps=no_deps, scale=replicas, known_services=session.known_services())
    chosen = ServiceGraph(session.project).subgraph(wanted, with_deps=not no_deps).services
    observed = observe(session.client, session.project, services=chosen)
    plan = plan_up(session.project, observed, opts)
    from compose.cli._steps import builder

    session.run(plan, build=builder(session))
    return 0
