"""``pycompose export SERVICE``: a service container's filesystem as a tar archive, as ``docker compose export``
(``-o FILE`` or stdout, never a terminal; ``--index``)."""
from __future__ import annotations

from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "export"]


def register(app: typer.Typer) -> None:
    app.command("export", help="Export a service container's filesystem as a tar archive.")(export)


def export(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write to a file, instead of "
                                                  "STDOUT.", metavar="FILE")] = None,
    index: Annotated[Optional[int], typer.Option("--index", help="Index of the container if service has "
                                                 "multiple replicas.")] = None,
) -> int:
    import os
    import sys

    from compose.cli._pick import pick_container
    from compose.cli._light import open_light_session
    from compose.engine.archive import export as export_container
    from compose.errors import UserError

    if output is None and sys.stdout.isatty():
        raise UserError.single("output option is required when exporting to terminal (use -o FILE or redirect "
                               "stdout)")
    session = open_light_session(ctx, [service], bare_ok=True)
    c = pick_container(session, service, index)
    chunks = export_container(session.client, c.id)
    if output is None:
        out = sys.stdout.buffer
        for chunk in chunks:
            out.write(chunk)
        out.flush()
        return 0
    partial = f"{output}.{os.getpid()}.part"  # the file appears whole or not at all
    try:
        with open(partial, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        os.replace(partial, output)
    except OSError as err:
        raise UserError.single(f"cannot write {output}: {err.strerror}") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return 0
