"""``config --resolve-image-digests``: each service's ``image`` pinned to a digest, written as Docker Compose
writes it (``docker.io/library/busybox:latest@sha256:...``).

Docker Compose asks the registry (the engine's distribution endpoint) for the tag's digest now; pycompose's
engine has no such endpoint, so the digest is the one the engine recorded when it pulled (or pushed) the image
(``RepoDigests``). An image the engine has not got, or only built or imported, is a one-line error saying so."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker

__all__ = ["pin_digests", "normalize_reference"]


def normalize_reference(ref: str) -> tuple[str, str | None]:
    """``busybox`` -> (``docker.io/library/busybox``, ``latest``); a digest reference has no tag default."""
    name, _, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name}" if sep else f"docker.io/library/{name}"
    elif first in ("index.docker.io", "registry-1.docker.io"):
        name = f"docker.io/{rest}"
    if name.startswith("docker.io/") and name.count("/") == 1:
        name = name.replace("docker.io/", "docker.io/library/", 1)
    return name, (tag or (None if digest else "latest"))


def pin_digests(client: "docker.APIClient", document: dict[str, Any]) -> None:
    """Rewrite ``document['services'][*]['image']`` in place; images already pinned are left as written."""
    from compose.engine.errors import NotFound, translated
    from compose.errors import UserError

    for name, service in (document.get("services") or {}).items():
        image = (service or {}).get("image")
        if not isinstance(image, str) or "@" in image:
            continue
        repo, tag = normalize_reference(image)
        try:
            with translated(f"image {image}"):
                info = client.inspect_image(image)
        except NotFound:
            raise UserError.single(f"image {image} is not on the engine: pull it first (the digest pinned is "
                                   "the one the engine pulled)", ("services", name, "image")) from None
        digests = [d.partition("@")[2] for d in info.get("RepoDigests") or ()
                   if normalize_reference(d.partition("@")[0])[0] == repo]
        if not digests:
            raise UserError.single(f"image {image} has no registry digest (built or imported here): push or pull "
                                   "it first", ("services", name, "image"))
        service["image"] = f"{repo}:{tag}@{digests[0]}"
