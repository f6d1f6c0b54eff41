"""An OCI artifact reference: ``[oci://]host[:port]/path/name[:tag][@sha256:hex]``.

As Docker does, a first component with a ``.`` or ``:`` (or ``localhost``) names the registry, else it is
Docker Hub (``registry-1.docker.io``, single names under ``library/``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from compose.errors import UserError

__all__ = ["OCI_PREFIX", "DOCKER_HUB_HOST", "Reference", "is_oci", "parse_reference"]

OCI_PREFIX = "oci://"
DOCKER_HUB_HOST = "registry-1.docker.io"
_HUB_NAMES = ("docker.io", "index.docker.io", DOCKER_HUB_HOST)
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


def is_oci(name: str) -> bool:
    """Whether a file name given to ``-f`` or ``include`` is an ``oci://`` reference."""
    return name.startswith(OCI_PREFIX)


@dataclass(frozen=True)
class Reference:
    host: str  # "127.0.0.1:5000", "registry-1.docker.io"
    repository: str  # "team/app"
    tag: str | None = None
    digest: str | None = None

    @property
    def target(self) -> str:
        """What ``/v2/<repo>/manifests/<target>`` takes: the digest if pinned, else the tag (default latest)."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        host = "docker.io" if self.host == DOCKER_HUB_HOST else self.host
        out = f"{host}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(text: str) -> Reference:
    """Parse ``text`` (with or without ``oci://``); a malformed one is a ``UserError`` naming it."""
    raw = text[len(OCI_PREFIX):] if is_oci(text) else text
    if not raw:
        raise UserError.single(f"{text!r} is not a valid OCI reference: expected [oci://]HOST/REPOSITORY[:TAG]")
    name, _, digest = raw.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise UserError.single(f"{text!r}: invalid digest {digest!r}: expected sha256:<64 hex digits>")
    tag = None
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise UserError.single(f"{text!r}: invalid tag {tag!r}")
    parts = name.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost"):
        host, path = first, parts[1:]
    else:
        host, path = DOCKER_HUB_HOST, parts
    if host in _HUB_NAMES:
        host = DOCKER_HUB_HOST
        if len(path) == 1:
            path = ["library", *path]
    if not path or not all(_COMPONENT.fullmatch(p) for p in path):
        raise UserError.single(
            f"{text!r} is not a valid OCI reference: the repository must be lowercase path components "
            "(letters, digits, '.', '_', '-') separated by '/'")
    return Reference(host, "/".join(path), tag, digest or None)
