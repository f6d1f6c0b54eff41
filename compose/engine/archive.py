"""A container's files over the Engine API: path stat (``HEAD /containers/{id}/archive``), tar out (``GET``), tar
in (``PUT``, with ``copyUIDGID``), the whole filesystem (``/export``) and ``POST /commit``.

docker-py has no call for the stat alone nor for ``copyUIDGID``: those two go through its session, at this edge;
``compose.engineapi``'s small client (the light commands') has calls of its own for the three archive requests.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from compose.engine.errors import NotFound, translated
from compose.engineapi import Client as _SmallClient
from compose.engineapi import NotFound as _SmallNotFound

if TYPE_CHECKING:
    import docker

__all__ = ["ArchiveBody", "PathStat", "stat_path", "get_archive", "put_archive", "export", "commit"]

_STAT_HEADER = "X-Docker-Container-Path-Stat"
_GO_DIR, _GO_SYMLINK = 1 << 31, 1 << 27
_CHUNK = 1 << 20


@dataclass(frozen=True)
class PathStat:
    """What the engine says of a path in a container (Docker's ``ContainerPathStat``)."""

    name: str
    size: int
    mode: int  # a Go os.FileMode
    link_target: str = ""

    @property
    def is_dir(self) -> bool:
        return bool(self.mode & _GO_DIR)

    @property
    def is_symlink(self) -> bool:
        return bool(self.mode & _GO_SYMLINK)


def _decode_stat(header: str | None) -> PathStat | None:
    if not header:
        return None
    data = json.loads(base64.b64decode(header))
    return PathStat(name=str(data.get("name") or ""), size=int(data.get("size") or 0), mode=int(data.get("mode") or 0),
                    link_target=str(data.get("linkTarget") or ""))


def stat_path(client: "docker.APIClient", container: str, path: str) -> PathStat | None:
    """The path's stat, or None when it does not exist in the container."""
    with translated(f"stat {path} in {container}"):
        if isinstance(client, _SmallClient):
            status, header = client.archive_head(container, path)
            return None if status == 404 else _decode_stat(header)
        res = client.head(client._url("/containers/{0}/archive", container), params={"path": path})
        if res.status_code == 404:
            return None
        client._raise_for_status(res)
    return _decode_stat(res.headers.get(_STAT_HEADER))


def get_archive(client: "docker.APIClient", container: str, path: str
                ) -> tuple[ArchiveBody, PathStat | None]:
    """A tar stream of ``path`` (its last element as the root entry; ``dir/.`` gives the directory's contents)."""
    with translated(f"copy {path} from {container}"):
        if isinstance(client, _SmallClient):
            stream, header = client.archive_get(container, path)
            return ArchiveBody(stream, f"copy {path} from {container}"), _decode_stat(header)
        res = client._get(client._url("/containers/{0}/archive", container), params={"path": path}, stream=True)
        client._raise_for_status(res)
    return ArchiveBody(res, f"copy {path} from {container}"), _decode_stat(res.headers.get(_STAT_HEADER))


class ArchiveBody:
    """The chunks of a streamed archive; ``close()`` releases the connection (also when never iterated)."""

    def __init__(self, response: Any, what: str) -> None:
        self._res = response
        self._what = what

    def __iter__(self) -> Iterator[bytes]:
        with translated(self._what):
            try:
                yield from self._res.iter_content(_CHUNK)
            finally:
                self._res.close()

    def close(self) -> None:
        self._res.close()


def put_archive(client: "docker.APIClient", container: str, path: str, data: IO[bytes] | bytes, *,
                copy_uid_gid: bool = False) -> None:
    """Extract the tar ``data`` into the directory ``path`` of the container."""
    params: dict[str, Any] = {"path": path}
    if copy_uid_gid:
        params["copyUIDGID"] = "1"
    with translated(f"copy to {container}:{path}"):
        if isinstance(client, _SmallClient):
            try:
                client.archive_put(container, path, data, copy_uid_gid=copy_uid_gid)
            except _SmallNotFound:
                raise NotFound(f"copy to {container}:{path}: could not find the directory {path} in the container",
                               404) from None
            return
        res = client._put(client._url("/containers/{0}/archive", container), params=params, data=data,
                          headers={"Content-Type": "application/x-tar"})
        if res.status_code == 404:
            raise NotFound(f"copy to {container}:{path}: could not find the directory {path} in the container", 404)
        client._raise_for_status(res)


def export(client: "docker.APIClient", container: str) -> Iterator[bytes]:
    """The container's whole filesystem as a tar stream."""
    with translated(f"export {container}"):
        stream = client.export(container, chunk_size=_CHUNK)
    return _guarded(stream, f"export {container}")


def _guarded(stream: Any, what: str) -> Iterator[bytes]:
    with translated(what):
        yield from stream


def commit(client: "docker.APIClient", container: str, *, repository: str | None = None, tag: str | None = None,
           message: str | None = None, author: str | None = None, pause: bool = True,
           changes: list[str] | None = None) -> str:
    """A new image from the container's changes; its ID."""
    with translated(f"commit {container}"):
        result = client.commit(container, repository=repository, tag=tag, message=message, author=author,
                               pause=pause, changes=changes or None)
    return str(result.get("Id") or "")
