"""Images over the Engine API: presence, pull (with progress callbacks), push, remove, list."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from compose.engine.errors import EngineError, NotFound, translated

if TYPE_CHECKING:
    import docker

__all__ = ["image_stamp", "image_id", "pull", "push", "remove_image", "list_images", "split_ref"]


def split_ref(ref: str) -> tuple[str, str]:
    """``repo[:tag][@digest]`` -> ``(repo, tag-or-digest)``; no tag means ``latest``."""
    if "@" in ref:
        repo, digest = ref.split("@", 1)
        return repo, digest
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, "latest"


def image_id(client: "docker.APIClient", ref: str) -> str | None:
    """The local image ID of ``ref``, or None when the engine does not have it."""
    found = image_stamp(client, ref)
    return found[0] if found else None


def image_stamp(client: "docker.APIClient", ref: str) -> tuple[str, float | None] | None:
    """``(ID, when it was last tagged or else created, in Unix seconds)`` for ``ref``, None when absent; what
    ``pull_policy: daily|weekly|every_<d>`` compares with, as Docker Compose does."""
    try:
        with translated(f"image {ref}"):
            attrs = client.inspect_image(ref)
    except NotFound:
        return None
    stamp = _unix_time((attrs.get("Metadata") or {}).get("LastTagTime")) or _unix_time(attrs.get("Created"))
    return str(attrs["Id"]), stamp


def _unix_time(text: object) -> float | None:
    """An Engine API RFC 3339 time (nanoseconds allowed) in Unix seconds; None for absent or the zero time."""
    import datetime
    import re

    if not isinstance(text, str) or not text or text.startswith("0001-01-01"):
        return None
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text.strip())
    if not match:
        return None
    zone = match.group(3) or "Z"
    when = datetime.datetime.fromisoformat(match.group(1) + ("+00:00" if zone == "Z" else zone))
    return when.timestamp() + float(match.group(2) or 0)


def pull(client: "docker.APIClient", ref: str, platform: str | None = None,
         progress: Callable[[dict[str, Any]], None] | None = None) -> None:
    repo, tag = split_ref(ref)
    with translated(f"pull {ref}"):
        for message in client.pull(repo, tag=tag, stream=True, decode=True, platform=platform):
            if message.get("error"):
                raise EngineError(f"pull {ref}: {message['error']}")
            if progress is not None:
                progress(message)


def push(client: "docker.APIClient", ref: str) -> None:
    repo, tag = split_ref(ref)
    with translated(f"push {ref}"):
        for message in client.push(repo, tag=tag, stream=True, decode=True):
            if message.get("error"):
                raise EngineError(f"push {ref}: {message['error']}")


def remove_image(client: "docker.APIClient", ref: str, force: bool = False) -> None:
    with translated(f"remove image {ref}"):
        client.remove_image(ref, force=force)


def list_images(client: "docker.APIClient") -> list[dict[str, Any]]:
    with translated("list images"):
        result: list[dict[str, Any]] = client.images()
    return result
