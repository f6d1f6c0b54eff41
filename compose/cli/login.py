"""``pycompose login`` / ``logout``: check credentials with the engine (``POST /auth``, which asks the registry)
and keep them in the Docker client configuration, where pulls and pushes find them."""
from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("login", help="Log in to a registry.")(login)
    app.command("logout", help="Log out from a registry.")(logout)


def login(
    server: Annotated[Optional[str], typer.Argument(metavar="SERVER", show_default=False)] = None,
    username: Annotated[Optional[str], typer.Option("--username", "-u", help="Username.")] = None,
    password: Annotated[Optional[str], typer.Option("--password", "-p", help="Password.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> int:
    import docker.errors

    from compose.dockerconfig import registry_key, store_credentials
    from compose.engine.client import connect
    from compose.errors import UserError

    if password_stdin:
        if password:
            raise UserError.single("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.read().rstrip("\r\n")
    if not username:
        if not sys.stdin.isatty():
            raise UserError.single("no username given: use --username (and --password-stdin)")
        username = input("Username: ").strip()
    if not password:
        if not sys.stdin.isatty():
            raise UserError.single("no password given: use --password-stdin")
        import getpass

        password = getpass.getpass("Password: ")
    client = connect()
    try:
        reply = client.login(username=username, password=password, registry=registry_key(server), reauth=True)
    except docker.errors.APIError as err:
        raise UserError.single(f"login to {registry_key(server)} failed: {err.explanation or err}") from None
    path = store_credentials(server, username, password)
    print(reply.get("Status") or "Login Succeeded")
    print(f"credentials stored in {path}", file=sys.stderr)
    return 0


def logout(server: Annotated[Optional[str], typer.Argument(metavar="SERVER", show_default=False)] = None) -> int:
    from compose.dockerconfig import registry_key, remove_credentials

    key = registry_key(server)
    if remove_credentials(server):
        print(f"Removing login credentials for {key}")
    else:
        print(f"Not logged in to {key}")
    return 0
