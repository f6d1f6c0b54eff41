"""``pycompose images``: the images the project's containers use."""
from __future__ import annotations

import json
from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "images"]


def register(app: typer.Typer) -> None:
    app.command("images", help="List images used by the created containers.")(images)


def images(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only display IDs.")] = False,
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> int:
    from compose.cli.ps import table
    from compose.cli._light import open_light_session
    from compose.engine.containers import inspect
    from compose.engine.images import list_images, split_ref

    session = open_light_session(ctx, list(services or []), bare_ok=True)
    by_id = {i["Id"]: i for i in list_images(session.client)}
    rows = []
    for c in session.containers(list(services or [])):
        image_id = c.image_id or inspect(session.client, c.id).get("Image", "")  # the listing has it: no round trip
        repo, tag = split_ref(c.image)
        size = (by_id.get(image_id) or {}).get("Size", 0)
        rows.append({"ContainerName": c.name, "Repository": repo, "Tag": tag, "ID": image_id, "Size": size})
    if quiet:
        print("".join(dict.fromkeys(r["ID"] + "\n" for r in rows)), end="")
    elif output_format == "json":
        print(json.dumps(rows))
    else:
        body = [[r["ContainerName"], r["Repository"], r["Tag"], r["ID"].removeprefix("sha256:")[:12],
                 f"{r['Size'] / 1e6:.3g}MB"] for r in rows]
        print(table([["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"]] + body), end="")
    return 0
