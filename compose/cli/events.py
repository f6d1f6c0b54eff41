"""``pycompose events``: the engine's events for the project's containers, as they happen (``--json``)."""
from __future__ import annotations

import json
from typing import Annotated, Optional

from compose.cli._typer import typer

__all__ = ["register", "events"]


def register(app: typer.Typer) -> None:
    app.command("events", help="Receive real time events from containers.")(events)


def events(
    ctx: typer.Context,
    services: Annotated[Optional[list[str]], typer.Argument(metavar="SERVICE", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Output events as a stream of json objects.")] = False,
) -> int:
    from datetime import datetime, timezone

    from compose import labels as L
    from compose.cli._light import open_light_session
    from compose.engine.errors import translated

    session = open_light_session(ctx, list(services or []))
    wanted = set(services or [])
    filters = {"type": ["container"], "label": [f"{L.PROJECT}={session.name}"]}
    try:
        with translated("events"):
            for ev in session.client.events(filters=filters, decode=True):
                attrs = (ev.get("Actor") or {}).get("Attributes") or {}
                service = attrs.get(L.SERVICE, "")
                if wanted and service not in wanted:
                    continue
                when = datetime.fromtimestamp(ev.get("timeNano", 0) / 1e9, timezone.utc)
                cid = (ev.get("Actor") or {}).get("ID") or ev.get("id", "")
                record = {"time": when.isoformat(), "type": "container", "action": ev.get("Action") or ev.get(
                    "status"), "id": cid, "service": service, "attributes": attrs}
                if as_json:
                    print(json.dumps(record), flush=True)
                else:
                    shown = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()) if not k.startswith(L.PREFIX))
                    print(f"{when.isoformat()} container {record['action']} {cid} ({shown})", flush=True)
    except KeyboardInterrupt:
        return 130
    return 0
