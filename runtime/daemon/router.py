"""Route ``METHOD /path`` to a handler; the Docker API version prefix ``/v1.xx`` is accepted and stripped.

Patterns use ``{name}`` for one path segment and ``{name:path}`` for the rest of the path including slashes
(image references such as ``registry:5000/library/busybox:latest``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from runtime.daemon.server import Handler, Reply, Request
from runtime.errors import InvalidArgument, NotFound

__all__ = ["Router", "MIN_API_VERSION", "API_VERSION"]

API_VERSION = "1.47"
MIN_API_VERSION = "1.24"
_VERSION = re.compile(r"^/v(\d+\.\d+)(/.*)$")


@dataclass(frozen=True)
class _Route:
    method: str
    regex: re.Pattern[str]
    handler: Handler


def _compile(pattern: str) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\{[a-z_]+(?::path)?\})", pattern):
        if part.startswith("{"):
            name, _, kind = part[1:-1].partition(":")
            out += f"(?P<{name}>.+)" if kind == "path" else f"(?P<{name}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(f"^{out}/?$")


def _version_tuple(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


class Router:
    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append(_Route(method.upper(), _compile(pattern), handler))

    async def dispatch(self, req: Request) -> Reply:
        path = req.path
        match = _VERSION.match(path)
        if match:
            version, path = match.group(1), match.group(2)
            if _version_tuple(version) > _version_tuple(API_VERSION):
                raise InvalidArgument(f"client version {version} is too new. Maximum supported API version is "
                                      f"{API_VERSION}")
            if _version_tuple(version) < _version_tuple(MIN_API_VERSION):
                raise InvalidArgument(f"client version {version} is too old. Minimum supported API version is "
                                      f"{MIN_API_VERSION}, please upgrade your client to a newer version")
            req.headers.setdefault("x-api-version", version)
        req.path = path
        wanted = [req.method] + (["GET"] if req.method == "HEAD" else [])
        for method in wanted:
            for route in self._routes:
                found = route.regex.match(path) if route.method == method else None
                if found:
                    req.params = found.groupdict()
                    return await route.handler(req)
        raise NotFound(f"page not found: {req.method} {path}")
