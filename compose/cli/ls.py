"""``pycompose ls``: the projects the engine has containers of (no Compose file needed)."""
from __future__ import annotations

import json
from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "ls"]


def register(app: typer.Typer) -> None:
    app.command("ls", help="List running compose projects.")(ls)


def ls(
    all_: Annotated[bool, typer.Option("--all", "-a", help="Show all stopped projects.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only display project names.")] = False,
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    filter_: Annotated[Optional[list[str]], typer.Option("--filter", help="name=NAME", metavar="FILTER")] = None,
) -> int:
    from collections import Counter, defaultdict

    from compose import labels as L
    from compose.cli.ps import table
    from compose.engineapi import connect  # the small client: no docker-py to import
    from compose.engine.errors import translated

    client = connect()
    with translated("list containers"):
        entries = client.containers(all=True, filters={"label": [L.PROJECT]})
    states: dict[str, Counter[str]] = defaultdict(Counter)
    files: dict[str, str] = {}
    for e in entries:
        labels = e.get("Labels") or {}
        project = labels[L.PROJECT]
        states[project][e.get("State") or "unknown"] += 1
        files.setdefault(project, labels.get(L.CONFIG_FILES, ""))
    wanted = {f.split("=", 1)[1] for f in filter_ or () if f.startswith("name=")}
    rows = []
    for project in sorted(states):
        if wanted and not any(w in project for w in wanted):
            continue
        if not all_ and not states[project].get("running"):
            continue
        status = ", ".join(f"{s}({n})" for s, n in sorted(states[project].items()))
        rows.append({"Name": project, "Status": status, "ConfigFiles": files[project]})
    if quiet:
        print("".join(r["Name"] + "\n" for r in rows), end="")
    elif output_format == "json":
        print(json.dumps(rows))
    else:
        print(table([["NAME", "STATUS", "CONFIG FILES"]] + [[r["Name"], r["Status"], r["ConfigFiles"]]
                                                            for r in rows]), end="")
    return 0
