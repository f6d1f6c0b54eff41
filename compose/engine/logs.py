"""Container logs over the Engine API, as whole lines (the stream's chunks are re-split at newlines)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from compose.engine.errors import translated

if TYPE_CHECKING:
    import docker

__all__ = ["log_lines"]


def log_lines(client: "docker.APIClient", container: str, *, follow: bool = False, tail: str | int = "all",
              timestamps: bool = False, since: float | None = None,
              until: float | None = None) -> Iterator[str]:
    """The container's output lines (stdout and stderr interleaved as the engine recorded them)."""
    with translated(f"logs of {container}"):
        chunks = client.logs(container, stream=True, follow=follow, stdout=True, stderr=True, tail=tail,
                             timestamps=timestamps, since=since, until=until)
    rest = b""
    with translated(f"logs of {container}"):
        for chunk in chunks:
            rest += chunk
            *lines, rest = rest.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace")
    if rest:
        yield rest.decode("utf-8", "replace")
