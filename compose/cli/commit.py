"""``pycompose commit SERVICE [REPOSITORY[:TAG]]``: a new image from a service container's changes, as
``docker compose commit`` (``-a`` author, ``-c`` Dockerfile instructions, ``-m`` message, ``-p`` pause,
``--index``)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

__all__ = ["register", "commit", "split_reference"]


def register(app: typer.Typer) -> None:
    app.command("commit", help="Create a new image from a service container's changes.")(commit)


def split_reference(reference: str | None) -> tuple[str | None, str | None]:
    """``repo[:tag]`` -> (repo, tag); a ``:`` before the last ``/`` is a registry port, not a tag."""
    if not reference:
        return None, None
    repo, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, None
    return repo, tag


def commit(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    reference: Annotated[Optional[str], typer.Argument(metavar="[REPOSITORY[:TAG]]", show_default=False)] = None,
    author: Annotated[Optional[str], typer.Option("--author", "-a", help='Author (e.g., "John Hannibal Smith '
                                                  '<hannibal@a-team.com>").')] = None,
    change: Annotated[Optional[list[str]], typer.Option("--change", "-c", help="Apply Dockerfile instruction to "
                                                        "the created image.")] = None,
    index: Annotated[Optional[int], typer.Option("--index", help="Index of the container if service has "
                                                 "multiple replicas.")] = None,
    message: Annotated[Optional[str], typer.Option("--message", "-m", help="Commit message.")] = None,
    pause: Annotated[str, typer.Option("--pause", "-p", help="Pause container during commit (true or false).",
                                       metavar="BOOL")] = "true",
) -> int:
    from compose.cli._pick import pick_container
    from compose.cli.attach import parse_bool
    from compose.cli._light import open_light_session
    from compose.engine.archive import commit as commit_container
    from compose.events import Event, Status

    repository, tag = split_reference(reference)
    session = open_light_session(ctx, [service], bare_ok=True)
    c = pick_container(session, service, index)
    try:
        session.display(Event("Container", c.name, Status.WORKING, "Committing"))
        image = commit_container(session.client, c.id, repository=repository, tag=tag, message=message,
                                 author=author, pause=parse_bool("--pause", pause), changes=list(change or []))
        session.display(Event("Container", c.name, Status.DONE, "Committed"))
    finally:
        session.display.close()
    print(image)
    return 0
