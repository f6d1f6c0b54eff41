"""Image builds over the Engine API: send a ``BuildRequest``'s context (``.dockerignore`` applied, an inline
Dockerfile added), stream the progress to a callback, tag the extra names."""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from compose.build import BuildRequest
from compose.engine.errors import translated
from compose.engine.images import split_ref
from compose.errors import UserError

if TYPE_CHECKING:
    import docker

__all__ = ["build_image"]

Output = Callable[[str], None]


def _context_tar(request: BuildRequest) -> Any:
    """The context as docker-py sends it (``.dockerignore`` applied), the inline Dockerfile added under a random
    name; (tar file object, Dockerfile name)."""
    from docker import utils

    exclude = None
    ignore = os.path.join(request.context, ".dockerignore")
    if os.path.exists(ignore):
        with open(ignore) as fh:
            exclude = [line.strip() for line in fh.read().splitlines() if line.strip() and line.strip()[0] != "#"]
    name = f".dockerfile.{secrets.token_hex(10)}"
    return utils.tar(request.context, exclude=exclude, dockerfile=(name, request.dockerfile_inline)), name


def build_image(client: "docker.APIClient", request: BuildRequest, output: Output | None = None) -> str:
    """Build ``request`` and give the image id; ``output`` gets the engine's progress text as it comes."""
    if not os.path.isdir(request.context):
        raise UserError.single(f"service {request.service!r}: build context {request.context} is not a directory",
                               path=("services", request.service, "build", "context"))
    params = request.api_params()
    image_id = ""
    with translated(f"build {request.image}"):
        if request.dockerfile_inline is not None:
            fileobj, name = _context_tar(request)
            with fileobj:
                stream = client.build(fileobj=fileobj, custom_context=True, dockerfile=name, **params)
                image_id = _follow(stream, request, output)
        else:
            if request.dockerfile and not os.path.exists(os.path.join(request.context, request.dockerfile)):
                raise UserError.single(f"service {request.service!r}: Dockerfile {request.dockerfile} not found in "
                                       f"{request.context}",
                                       path=("services", request.service, "build", "dockerfile"))
            stream = client.build(path=request.context, dockerfile=request.dockerfile, **params)
            image_id = _follow(stream, request, output)
        for extra in request.tags:
            repo, tag = split_ref(extra)
            client.tag(image_id, repo, tag)
    return image_id


def _follow(stream: Any, request: BuildRequest, output: Output | None) -> str:
    image_id = ""
    for message in stream:
        if "error" in message:
            detail = (message.get("errorDetail") or {}).get("message") or message["error"]
            raise UserError.single(f"service {request.service!r} failed to build: {detail.strip()}")
        if "aux" in message and isinstance(message["aux"], dict) and message["aux"].get("ID"):
            image_id = message["aux"]["ID"]
        text = message.get("stream")
        if text and output is not None:
            output(text)
    if not image_id:
        raise UserError.single(f"service {request.service!r}: the engine did not report the built image")
    return image_id
