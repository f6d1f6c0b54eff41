"""``pycompose port SERVICE PRIVATE_PORT``: the host address a container port is published on."""
from __future__ import annotations

from typing import Annotated

from compose.cli._typer import typer

__all__ = ["register", "port"]


def register(app: typer.Typer) -> None:
    app.command("port", help="Print the public port for a port binding.")(port)


def port(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    private_port: Annotated[int, typer.Argument(metavar="PRIVATE_PORT")],
    protocol: Annotated[str, typer.Option("--protocol", help="tcp or udp.")] = "tcp",
    index: Annotated[int, typer.Option("--index", help="Index of the container.")] = 1,
) -> int:
    from compose.cli._light import open_light_session
    from compose.engine.containers import inspect
    from compose.errors import UserError

    session = open_light_session(ctx, [service])
    found = [c for c in session.containers([service]) if c.number == index]
    if not found:
        raise UserError.single(f"service {service!r} has no container #{index}")
    ports = (inspect(session.client, found[0].id).get("NetworkSettings") or {}).get("Ports") or {}
    bindings = ports.get(f"{private_port}/{protocol}") or []
    if not bindings:
        raise UserError.single(f"no port {private_port}/{protocol} published for {found[0].name}")
    first = bindings[0]
    print(f"{first.get('HostIp') or '0.0.0.0'}:{first.get('HostPort')}")
    return 0
