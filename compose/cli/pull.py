"""``pycompose pull``: pull the services' images (services that only build are skipped) and the images their
``type: image`` volumes mount (unless a service of the project builds that image)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

__all__ = ["register", "pull"]


def register(app: typer.Typer) -> None:
    app.command("pull", help="Pull service images.")(pull)


def pull(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    ignore_pull_failures: Annotated[bool, typer.Option("--ignore-pull-failures")] = False,
    ignore_buildable: Annotated[bool, typer.Option("--ignore-buildable")] = False,
    include_deps: Annotated[bool, typer.Option("--include-deps")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    policy: Annotated[Optional[str], typer.Option("--policy", help="missing or always.")] = None,
) -> int:
    from compose.cli._targets import target_services
    from compose.cli.session import open_session
    from compose.engine.createbody import service_image
    from compose.engine.images import image_id
    from compose.errors import UserError
    from compose.plan import Op, Plan, volume_images

    session = open_session(ctx, list(services or []))
    project = session.project
    names = target_services(project, services, include_deps)
    plan = Plan()
    for name in names:
        svc = project.services[name]
        if not svc.image or (svc.build is not None and ignore_buildable) or svc.pull_policy == "build":
            continue
        if policy == "missing" and image_id(session.client, svc.image) is not None:
            continue
        plan.add(Op.PULL_IMAGE, service_image(project, svc), "pull", service=name)
    built = {service_image(project, s) for s in project.services.values() if s.build is not None}
    for name in names:  # type: image volumes: pulled too, unless a service of the project builds that image
        for _i, ref in volume_images(project.services[name]):
            if ref in built or (policy == "missing" and image_id(session.client, ref) is not None):
                continue
            plan.add(Op.PULL_IMAGE, ref, "pull (image volume)", service=name)
    try:
        session.run(plan)
    except UserError:
        if not ignore_pull_failures:
            raise
    return 0
