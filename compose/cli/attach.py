"""``pycompose attach SERVICE``: attach the terminal's input and output to a running service container, as
``docker compose attach`` (``--index``, ``--no-stdin``, ``--sig-proxy``, ``--detach-keys``). Exits with the
container's exit code when it ends, 0 when the user detaches."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

__all__ = ["register", "attach", "parse_bool"]


def register(app: typer.Typer) -> None:
    app.command("attach", help="Attach local standard input, output, and error streams to a service's running "
                               "container.")(attach)


def parse_bool(option: str, value: str) -> bool:
    """Docker's ``--flag=false`` form."""
    from compose.errors import UserError

    lowered = value.strip().lower()
    if lowered in ("1", "t", "true", "yes", "on"):
        return True
    if lowered in ("0", "f", "false", "no", "off"):
        return False
    raise UserError.single(f"{option} {value}: expected true or false")


def attach(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    detach_keys: Annotated[Optional[str], typer.Option("--detach-keys", help="Override the key sequence for "
                                                       "detaching from a container.", metavar="KEYS")] = None,
    index: Annotated[Optional[int], typer.Option("--index", help="Index of the container if service has "
                                                 "multiple replicas.")] = None,
    no_stdin: Annotated[bool, typer.Option("--no-stdin", help="Do not attach STDIN.")] = False,
    sig_proxy: Annotated[str, typer.Option("--sig-proxy", help="Proxy all received signals to the process "
                                           "(true or false).", metavar="BOOL")] = "true",
) -> int:
    from compose.cli._pick import pick_container
    from compose.cli._light import open_light_session
    from compose.engine.attach import DEFAULT_DETACH_KEYS, attach_session, parse_detach_keys
    from compose.engine.containers import inspect, wait
    from compose.errors import UserError

    proxy = parse_bool("--sig-proxy", sig_proxy)
    keys = parse_detach_keys(detach_keys or DEFAULT_DETACH_KEYS)
    session = open_light_session(ctx, [service], bare_ok=True)
    c = pick_container(session, service, index, running=True)
    info = inspect(session.client, c.id)
    config = info.get("Config") or {}
    if (info.get("State") or {}).get("Paused"):
        raise UserError.single(f"container {c.name} is paused, unpause it first")
    stdin = not no_stdin and bool(config.get("OpenStdin"))
    ended = attach_session(session.client, c.id, stdin=stdin, tty=bool(config.get("Tty")), detach_keys=keys,
                           sig_proxy=proxy)
    if not ended:
        return 0
    return wait(session.client, c.id)
