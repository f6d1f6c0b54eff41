"""``pycompose build [SERVICE...] [--no-cache] [--pull] [--build-arg K=V] [-q] [--push]``: build the services'
images on the engine, one after another, printing the engine's progress; ``--push`` sends each to its registry."""
from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

__all__ = ["register", "parse_build_args"]


def register(app: typer.Typer) -> None:
    app.command("build", help="Build or rebuild services.")(build)


def parse_build_args(values: list[str], environ: dict[str, str]) -> dict[str, str]:
    """``K=V`` sets a build arg; a bare ``K`` takes it from the environment (left out when unset)."""
    from compose.errors import UserError

    out: dict[str, str] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not key:
            raise UserError.single(f"--build-arg {item!r}: want KEY=VALUE")
        if eq:
            out[key] = value
        elif key in environ:
            out[key] = environ[key]
    return out


def build(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(help="Only these services.", metavar="SERVICE",
                                                            show_default=False)] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use cache when building the image.")] = False,
    pull: Annotated[bool, typer.Option("--pull", help="Always attempt to pull a newer version of the image.")]
    = False,
    build_arg: Annotated[Optional[list[str]], typer.Option(
        "--build-arg", help="Set build-time variables for services (KEY=VALUE).", metavar="KEY=VALUE")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Don't print anything to stdout.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Push service images after building them.")] = False,
) -> int:
    import os

    from compose.build import BuildOverrides, build_requests, ignored_warnings
    from compose.cli.context import load_for_command
    from compose.cli.output import print_warnings
    from compose.engine.build import build_image
    from compose.engine.client import connect
    from compose.errors import Problem, UserError

    loaded = load_for_command(ctx, list(services or []))
    environ = dict(os.environ)
    overrides = BuildOverrides(no_cache=no_cache, pull=pull, build_args=parse_build_args(build_arg or [], environ))
    try:
        requests = build_requests(loaded.project, list(services or []), environ, overrides)
    except UserError as err:  # point at the file and line of the key at fault
        raise UserError([Problem(p.message, p.path, p.location or loaded.load.sources.locate(p.path))
                         for p in err.problems]) from None
    print_warnings(Problem(w.message, w.path, loaded.load.sources.locate(w.path)) for w in ignored_warnings(requests))
    if not requests:
        print("No services to build", file=sys.stderr)
        return 0
    client = connect()

    def show(text: str) -> None:
        if not quiet:
            sys.stdout.write(text)
            sys.stdout.flush()

    for request in requests:
        if not quiet:
            print(f"Building {request.service}", file=sys.stderr)
        image_id = build_image(client, request, show)
        if not quiet:
            print(f"Service {request.service}: built {request.image} ({image_id[7:19]})", file=sys.stderr)
        if push:
            from compose.engine.images import push as push_image

            for name in (request.image, *request.tags):
                push_image(client, name)
                if not quiet:
                    print(f"Service {request.service}: pushed {name}", file=sys.stderr)
    return 0
