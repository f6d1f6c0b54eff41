"""``pycompose volumes [SERVICE...]``: the project's volumes (those its running containers of SERVICE mount,
when named), as ``docker compose volumes``: ``table`` (DRIVER, VOLUME NAME), ``json``, a template, ``-q``."""
from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

__all__ = ["register", "volumes", "volume_row", "HEADERS"]

HEADERS = {"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
           "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Availability": "AVAILABILITY", "Group": "GROUP",
           "Status": "STATUS"}
_DEFAULT = "table {{.Driver}}\t{{.Name}}"


def register(app: typer.Typer) -> None:
    app.command("volumes", help="List volumes.")(volumes)


def volume_row(volume: dict[str, Any]) -> dict[str, str]:
    """The fields ``docker volume ls --format`` knows, for one volume of the Engine API's list."""
    labels = volume.get("Labels") or {}
    return {"Availability": "N/A", "Driver": str(volume.get("Driver") or ""), "Group": "N/A",
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())), "Links": "N/A",
            "Mountpoint": str(volume.get("Mountpoint") or ""), "Name": str(volume.get("Name") or ""),
            "Scope": str(volume.get("Scope") or "local"), "Size": "N/A", "Status": "N/A"}


def volumes(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only display volume names.")] = False,
    output_format: Annotated[str, typer.Option("--format", help="Format output using a custom template: "
                                               "'table', 'json' or a Go-style template such as "
                                               "'{{.Name}}'.")] = "table",
) -> int:
    from compose import labels as L
    from compose.cli._template import render_rows
    from compose.cli.session import open_session
    from compose.engine.errors import translated
    from compose.engine.volumes import list_volumes

    wanted = list(services or [])
    session = open_session(ctx, wanted, bare_ok=True)
    found = sorted(list_volumes(session.client, session.name), key=lambda v: str(v.get("Name")))
    if wanted:  # as Docker Compose: the volumes the services' running containers mount
        with translated("list containers"):
            entries = session.client.containers(filters=L.project_filter(session.name))
        mounted = {m.get("Name") for e in entries if (e.get("Labels") or {}).get(L.SERVICE) in wanted
                   for m in e.get("Mounts") or ()}
        found = [v for v in found if v.get("Name") in mounted]
    if quiet:
        print("".join(f"{v['Name']}\n" for v in found), end="")
        return 0
    print(render_rows(output_format, [volume_row(v) for v in found], HEADERS, _DEFAULT), end="")
    return 0
