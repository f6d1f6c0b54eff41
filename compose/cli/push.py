"""``pycompose push``: push the images of services that have both ``build`` and ``image``."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

__all__ = ["register", "push"]


def register(app: typer.Typer) -> None:
    app.command("push", help="Push service images.")(push)


def push(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    ignore_push_failures: Annotated[bool, typer.Option("--ignore-push-failures")] = False,
    include_deps: Annotated[bool, typer.Option("--include-deps")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> int:
    from compose.cli._targets import target_services
    from compose.cli.session import open_session
    from compose.engine.images import push as push_image
    from compose.errors import Problem, UserError
    from compose.events import Event, Status

    session = open_session(ctx, list(services or []))
    project = session.project
    names = target_services(project, services, include_deps)
    problems: list[Problem] = []
    for name in names:
        svc = project.services[name]
        if not svc.image or svc.build is None:
            continue
        session.display(Event("Image", svc.image, Status.WORKING, "Pushing"))
        try:
            push_image(session.client, svc.image)
        except UserError as err:
            session.display(Event("Image", svc.image, Status.ERROR, str(err)))
            problems.extend(err.problems)
            continue
        session.display(Event("Image", svc.image, Status.DONE, "Pushed"))
    session.display.close()
    if problems and not ignore_push_failures:
        raise UserError(problems)
    return 0
