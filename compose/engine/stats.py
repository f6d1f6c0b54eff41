"""A container's resource samples over the Engine API (``GET /containers/{id}/stats``), as a stream the caller
can close from another thread (docker-py's ``stats`` generator cannot be)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from compose.engine.errors import translated

if TYPE_CHECKING:
    import docker

__all__ = ["StatsStream", "open_stats"]


class StatsStream:
    """The samples of one container, one JSON document per line; ``close()`` ends the iteration."""

    def __init__(self, response: Any, what: str) -> None:
        self._res = response
        self._what = what

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import requests.exceptions

        try:
            with translated(self._what):
                for line in self._res.iter_lines():
                    if line.strip():
                        yield json.loads(line)
        except (requests.exceptions.RequestException, AttributeError, ValueError, OSError):
            return  # closed under us, or the engine went away: the stream simply ends
        finally:
            self._res.close()

    def close(self) -> None:
        self._res.close()


def open_stats(client: "docker.APIClient", container: str, *, stream: bool = True) -> StatsStream:
    what = f"stats of {container}"
    with translated(what):
        res = client._get(client._url("/containers/{0}/stats", container),
                          params={"stream": "1" if stream else "0"}, stream=True)
        client._raise_for_status(res)
    return StatsStream(res, what)
