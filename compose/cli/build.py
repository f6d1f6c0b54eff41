"""``pycompose build [SERVICE...] [--no-cache] [--pull] [--build-arg K=V] [-q] [--push]``: build the services'
images on the engine, several at once, printing the engine's progress line by line behind the service's name;
``--push`` sends each to its registry.

Builds run as Docker Compose runs them: independent services at the same time (at most ``COMPOSE_PARALLEL_LIMIT``,
default 4, at once), a service after the services it ``depends_on`` (its Dockerfile may start ``FROM`` their
image). The first failure starts no further build; the running ones finish, then the error is reported.
"""
from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    import docker

    from compose.build import BuildRequest
    from compose.model import Project

__all__ = ["register", "parse_build_args", "build_limit", "LinePrefixer", "build_all"]

_DEFAULT_LIMIT = 4  # builds are CPU- and disk-heavy on the engine: a few at a time, as Docker Compose does


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


def build_limit(environ: dict[str, str]) -> int:
    """How many builds run at once: ``COMPOSE_PARALLEL_LIMIT`` when set (1 builds one after another), else 4."""
    try:
        return max(1, int(environ.get("COMPOSE_PARALLEL_LIMIT", _DEFAULT_LIMIT)))
    except ValueError:
        return _DEFAULT_LIMIT


class LinePrefixer:
    """Writes whole lines, each behind ``<service> | `` (names padded to one width), to ``write`` under one lock,
    so the output of concurrent builds interleaves by line, never inside one."""

    def __init__(self, names: list[str], write: Callable[[str], None]) -> None:
        self._width = max((len(n) for n in names), default=0)
        self._write = write
        self._lock = threading.Lock()
        self._partial: dict[str, str] = {}

    def feed(self, name: str, text: str) -> None:
        lines = (self._partial.pop(name, "") + text).split("\n")
        if lines[-1]:
            self._partial[name] = lines[-1]
        self._emit(name, lines[:-1])

    def flush(self, name: str) -> None:
        rest = self._partial.pop(name, "")
        if rest:
            self._emit(name, [rest])

    def _emit(self, name: str, lines: list[str]) -> None:
        if lines:
            text = "".join(f"{name:<{self._width}} | {line}\n" for line in lines)
            with self._lock:
                self._write(text)


def build_all(client: "docker.APIClient", project: "Project", requests: list["BuildRequest"], *, limit: int,
              push: bool = False, quiet: bool = False) -> None:
    """Build ``requests`` on the engine, ``limit`` at a time, each after the requests of the services it
    depends on; ``push`` sends each image (and its extra tags) once built."""
    import asyncio

    from compose.engine.build import build_image
    from compose.graph import ServiceGraph

    by_service = {r.service: r for r in requests}

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def note(text: str) -> None:
        if not quiet:
            print(text, file=sys.stderr, flush=True)

    lines = LinePrefixer(sorted(by_service), write)

    from compose.execute import dry_run

    rehearsing = dry_run()

    def one(request: "BuildRequest") -> None:
        if rehearsing:  # --dry-run: what would be built (and pushed), nothing sent to the engine
            print(f"DRY-RUN MODE -  build service {request.service}: {request.image}", file=sys.stderr, flush=True)
            for name in (request.image, *request.tags) if push else ():
                print(f"DRY-RUN MODE -  push {name}", file=sys.stderr, flush=True)
            return
        note(f"Building {request.service}")
        try:
            image_id = build_image(client, request, None if quiet else lambda t: lines.feed(request.service, t))
        finally:
            lines.flush(request.service)
        note(f"Service {request.service}: built {request.image} ({image_id[7:19]})")
        if push:
            from compose.engine.images import push as push_image

            for name in (request.image, *request.tags):
                push_image(client, name)
                note(f"Service {request.service}: pushed {name}")

    async def visit(service: str) -> None:
        if service in by_service:  # the others only carry the order (a -> b -> c, b built from an image)
            await asyncio.to_thread(one, by_service[service])

    asyncio.run(ServiceGraph(project).walk(visit, limit=limit))


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
    from compose.build import BuildOverrides, build_requests, ignored_warnings
    from compose.cli.context import load_for_command
    from compose.cli.output import print_warnings
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
    build_all(connect(), loaded.project, requests, limit=build_limit(environ), push=push, quiet=quiet)
    return 0
