"""Image references as Docker reads them: ``nginx`` is ``docker.io/library/nginx:latest``.

Grammar (distribution/reference): ``[domain/]path[:tag][@digest]``. The first component is a domain when it holds
a ``.`` or a ``:`` or is ``localhost``; otherwise the domain is ``docker.io`` and a one-component path gets
``library/``. Names are lowercase; tags are ``[\\w][\\w.-]{0,127}``; digests are ``algorithm:hex``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.errors import InvalidArgument

__all__ = [
    "DEFAULT_DOMAIN", "DEFAULT_TAG", "Reference", "parse_reference", "familiar", "is_image_id", "normalize_id",
]

DEFAULT_DOMAIN = "docker.io"
DEFAULT_TAG = "latest"
_LEGACY_DOMAIN = "index.docker.io"
_OFFICIAL_PREFIX = "library/"

_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN = re.compile(
    r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}")
_SHA256_HEX = re.compile(r"[a-f0-9]{64}")
_NAME_MAX = 255


@dataclass(frozen=True)
class Reference:
    """A normalized reference. ``str()`` gives the full form (``docker.io/library/nginx:latest``)."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """Repository name with domain: ``docker.io/library/nginx``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """Repository name as Docker shows it: ``nginx``, ``user/app``, ``localhost:5000/app``."""
        if self.domain == DEFAULT_DOMAIN:
            return self.path[len(_OFFICIAL_PREFIX):] if self.path.startswith(_OFFICIAL_PREFIX) else self.path
        return self.name

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.domain, self.path, None, digest)

    def __str__(self) -> str:
        return self.name + _suffix(self.tag, self.digest)

    def familiar(self) -> str:
        """Short form for display: ``nginx:latest``, ``localhost:5000/app@sha256:...``."""
        return self.familiar_name + _suffix(self.tag, self.digest)


def _suffix(tag: str | None, digest: str | None) -> str:
    return (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def parse_reference(text: str, *, default_tag: bool = True) -> Reference:
    """Parse and normalize ``text``; adds ``:latest`` when neither tag nor digest is given (unless told not to).

    Raises ``InvalidArgument`` with Docker's wording (``invalid reference format``) on bad input.
    """
    if not isinstance(text, str) or not text:
        raise InvalidArgument("invalid reference format")
    rest, digest = text, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise InvalidArgument(f"invalid reference format: invalid digest {digest!r}")
        if digest.startswith("sha256:") and not _SHA256_HEX.fullmatch(digest[7:]):
            raise InvalidArgument(f"invalid reference format: invalid checksum digest {digest!r}")
    tag = None
    colon, slash = rest.rfind(":"), rest.rfind("/")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise InvalidArgument(f"invalid reference format: invalid tag {tag!r}")
    domain, path = _split_domain(rest)
    if not path:
        raise InvalidArgument("invalid reference format")
    for component in path.split("/"):
        if not _COMPONENT.fullmatch(component):
            if _COMPONENT.fullmatch(component.lower()):
                raise InvalidArgument(
                    f"invalid reference format: repository name ({path}) must be lowercase")
            raise InvalidArgument(f"invalid reference format: {text!r}")
    if len(f"{domain}/{path}") > _NAME_MAX:
        raise InvalidArgument(f"invalid reference format: repository name must not be more than {_NAME_MAX} characters")
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, remainder = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        if not _DOMAIN.fullmatch(first):
            raise InvalidArgument(f"invalid reference format: invalid domain {first!r}")
        domain, path = first, remainder
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == _LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = _OFFICIAL_PREFIX + path
    return domain, path


def familiar(text: str) -> str:
    """``docker.io/library/nginx:latest`` -> ``nginx:latest``; non-references come back unchanged."""
    try:
        return parse_reference(text, default_tag=False).familiar()
    except InvalidArgument:
        return text


def is_image_id(text: str) -> bool:
    """True for ``sha256:<64 hex>`` or a bare 64-hex id."""
    return bool(_SHA256_HEX.fullmatch(text.removeprefix("sha256:")))


def normalize_id(text: str) -> str:
    """``<64 hex>`` or ``sha256:<64 hex>`` -> ``sha256:<64 hex>``."""
    return "sha256:" + text.removeprefix("sha256:")
