"""``pycompose ps``: the project's containers (``-a`` with stopped ones, ``-q`` IDs, ``--services``,
``--status``, ``--filter status=X``, ``--no-trunc``, ``--format table|json|TEMPLATE``: Go-style ``{{.Field}}``
templates as ``docker compose ps`` reads them, see ``_template``)."""
from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any, Optional

from compose.cli._typer import typer

if TYPE_CHECKING:
    from compose.engine.containers import ContainerInfo

__all__ = ["register", "ps", "parse_filter", "publishers", "format_ports", "table", "HEADERS"]

# the fields a --format template may name, with their table headers (docker compose ps's)
HEADERS = {"ID": "CONTAINER ID", "Name": "NAME", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
           "Project": "PROJECT", "Service": "SERVICE", "CreatedAt": "CREATED AT", "RunningFor": "CREATED",
           "State": "STATE", "Status": "STATUS", "Health": "HEALTH", "ExitCode": "EXIT CODE", "Ports": "PORTS",
           "Labels": "LABELS"}


def register(app: typer.Typer) -> None:
    app.command("ps", help="List containers.")(ps)


def publishers(c: "ContainerInfo") -> list[dict[str, Any]]:
    return [{"URL": p.get("IP", ""), "TargetPort": p.get("PrivatePort"), "PublishedPort": p.get("PublicPort") or 0,
             "Protocol": p.get("Type", "tcp")} for p in c.ports]


def format_ports(c: "ContainerInfo") -> str:
    out = []
    for p in sorted(c.ports, key=lambda p: (p.get("PrivatePort") or 0, p.get("IP") or "")):
        target = f"{p.get('PrivatePort')}/{p.get('Type', 'tcp')}"
        if p.get("PublicPort"):
            out.append(f"{p.get('IP') or '0.0.0.0'}:{p['PublicPort']}->{target}")
        else:
            out.append(target)
    return ", ".join(dict.fromkeys(out))


def _ago(created: int) -> str:
    seconds = max(0, int(time.time()) - created)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return f"{seconds} seconds ago"


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("   ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n" for row in rows)


def _record(c: "ContainerInfo", project: str) -> dict[str, Any]:
    health = "healthy" if "(healthy)" in c.status else "unhealthy" if "(unhealthy)" in c.status else (
        "starting" if "(health: starting)" in c.status else "")
    exit_code = 0
    if c.status.startswith("Exited ("):
        try:
            exit_code = int(c.status.split("(", 1)[1].split(")", 1)[0])
        except ValueError:
            pass
    return {"ID": c.id, "Name": c.name, "Names": c.name, "Image": c.image, "Command": c.command,
            "Project": project, "Service": c.service, "Created": c.created, "State": c.state, "Status": c.status,
            "Health": health, "ExitCode": exit_code, "Publishers": publishers(c), "Ports": format_ports(c),
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(c.labels.items()))}


def _command(c: "ContainerInfo", no_trunc: bool) -> str:
    """The command as the table shows it: quoted, cut at 22 characters unless ``no_trunc``."""
    command = c.command if no_trunc or len(c.command) <= 22 else c.command[:21] + "…"
    return json.dumps(command, ensure_ascii=False)


def _template_row(c: "ContainerInfo", project: str, no_trunc: bool) -> dict[str, str]:
    """A container's fields for a ``--format`` template, as text (the docker CLI's formatter's values)."""
    record = _record(c, project)
    return {"ID": c.id if no_trunc else c.id[:12], "Name": c.name, "Names": c.name, "Image": c.image,
            "Command": _command(c, no_trunc), "Project": project, "Service": c.service,
            "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(c.created)),
            "RunningFor": _ago(c.created), "State": c.state, "Status": c.status, "Health": record["Health"],
            "ExitCode": str(record["ExitCode"]), "Ports": format_ports(c), "Labels": record["Labels"]}


def parse_filter(value: str | None) -> list[str]:
    """The statuses ``--filter status=X`` asks for: the one key ``docker compose ps`` knows."""
    from compose.errors import UserError

    if not value:
        return []
    key, sep, wanted = value.partition("=")
    if not sep:
        raise UserError.single(f"--filter {value}: arguments to --filter should be in form KEY=VAL")
    if key == "source":
        raise UserError.single(f"--filter {value}: not implemented (docker compose does not implement it either)")
    if key != "status":
        raise UserError.single(f"--filter {value}: unknown filter {key} (supported: status)")
    return [wanted]


def ps(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Show all stopped containers.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only display IDs.")] = False,
    output_format: Annotated[str, typer.Option("--format", help="table, json or a Go-style template "
                                                                    "('{{.Name}} {{.State}}').")] = "table",
    list_services: Annotated[bool, typer.Option("--services", help="Display services.")] = False,
    status: Annotated[Optional[list[str]], typer.Option("--status", help="Filter by status (created, running, "
                                                        "paused, restarting, exited, dead).")] = None,
    orphans: Annotated[bool, typer.Option("--orphans/--no-orphans", help="Include orphaned services.")] = True,
    filter_: Annotated[Optional[str], typer.Option("--filter", help="Filter services by a property (supported "
                                                   "filters: status).", metavar="KEY=VALUE")] = None,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Don't truncate output.")] = False,
) -> int:
    from compose.cli._light import open_light_session
    from compose.errors import UserError

    if output_format not in ("table", "json") and "{{" not in output_format:
        raise UserError.single(f"--format {output_format}: expected table, json or a template such as "
                               "'{{.Name}} {{.State}}'")
    status = list(status or []) + parse_filter(filter_)
    session = open_light_session(ctx, list(services or []), bare_ok=True)
    found = session.containers(list(services or []), all=all_ or bool(status))
    if status:
        found = [c for c in found if c.state in status]
    if not orphans:
        found = [c for c in found if c.service in session.service_names]
    if list_services:
        print("".join(f"{s}\n" for s in dict.fromkeys(c.service for c in found)), end="")
    elif quiet:
        print("".join(f"{c.id}\n" for c in found), end="")
    elif output_format == "json":
        print("".join(json.dumps(_record(c, session.name)) + "\n" for c in found), end="")
    elif output_format != "table":
        from compose.cli._template import render_rows

        print(render_rows(output_format, [_template_row(c, session.name, no_trunc) for c in found], HEADERS, ""),
              end="")
    else:
        rows = [["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]]
        for c in found:
            rows.append([c.name, c.image, _command(c, no_trunc), c.service, _ago(c.created), c.status,
                         format_ports(c)])
        print(table(rows), end="")
    return 0
