"""A small Engine API client, standard library only, for the commands that must start fast.

``connect(host=None) -> Client | docker.APIClient``: this package's ``Client`` for an engine on a unix socket
(the host resolved as ``compose.engine.client.resolve_host`` does), docker-py's client for any other host or
when the default engine has to be started first. ``Client`` has the docker-py ``APIClient`` method names the
light commands use and hands every other attribute to docker-py.
"""
from __future__ import annotations

from typing import Any

from compose.engineapi.client import API_VERSION, Client
from compose.engineapi.errors import APIError, ConnectionFailed, NotFound

__all__ = ["API_VERSION", "APIError", "Client", "ConnectionFailed", "NotFound", "connect"]


def connect(host: str | None = None) -> Any:
    """A client for the engine at ``host`` (see the package docstring); a ``UserError`` when it cannot be
    reached, with docker-py's wording."""
    from compose.engine.client import DEFAULT_HOST, resolve_host
    from compose.engine.client import connect as connect_full
    from compose.errors import UserError

    url = resolve_host(host)
    if not url.startswith("unix://"):
        return connect_full(url)
    client = Client(url[len("unix://"):], url)
    try:
        client.ping()
    except (ConnectionFailed, APIError) as err:
        if url == DEFAULT_HOST:  # not started yet: docker-py's path starts it (and waits for it)
            connect_full(url)
            return client
        raise UserError.single(f"cannot reach the engine at {url}: {err}; is it running? "
                               "(set PYCOMPOSE_HOST or DOCKER_HOST to its socket)") from None
    return client
