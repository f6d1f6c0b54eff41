"""A service's canonical ``build:`` section to the parameters of one Engine API build (pure: no I/O).

The image is named as Docker Compose names it: the service's ``image:`` when set, else ``<project>-<service>``;
``build.tags`` are extra names for the same image, which carries the project and service labels Docker Compose
puts on the images it builds. Build args without a value come from the environment (and are
left out when it does not have them), as Docker Compose does.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compose import labels as keys
from compose.errors import Problem, UserError
from compose.model import Project, Service

__all__ = ["BuildRequest", "BuildOverrides", "image_name", "build_request", "build_requests", "ignored_warnings"]

_NETWORKS = {"default": "default", "bridge": "default", "host": "host", "none": "none"}
_HANDLED = frozenset({"no_cache", "pull", "network", "shm_size", "extra_hosts"})
_REMOTE_PREFIXES = ("http://", "https://", "git://", "git@", "github.com/", "ssh://")


@dataclass(frozen=True)
class BuildOverrides:
    """What ``pycompose build`` flags change: ``--no-cache``, ``--pull``, ``--build-arg K=V`` (repeatable)."""

    no_cache: bool = False
    pull: bool = False
    build_args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildRequest:
    service: str
    image: str  # the name the image is built as
    context: str  # absolute directory
    dockerfile: str | None = None  # relative to the context, or absolute
    dockerfile_inline: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()  # extra names besides ``image``
    no_cache: bool = False
    pull: bool = False
    network_mode: str | None = None
    shm_size: int | None = None
    extra_hosts: tuple[str, ...] = ()  # "name:address", as the API takes them
    ignored: tuple[str, ...] = ()  # build keys the engine's builder does not do (ssh, secrets, cache_from...)

    def api_params(self) -> dict[str, Any]:
        """Keyword arguments for docker-py's ``APIClient.build`` (the context is sent separately)."""
        params: dict[str, Any] = {"tag": self.image, "buildargs": dict(self.build_args), "nocache": self.no_cache,
                                  "pull": self.pull, "rm": True, "forcerm": True, "decode": True}
        if self.target:
            params["target"] = self.target
        if self.labels:
            params["labels"] = dict(self.labels)
        if self.network_mode:
            params["network_mode"] = self.network_mode
        if self.shm_size:
            params["shmsize"] = self.shm_size
        if self.extra_hosts:
            params["extra_hosts"] = list(self.extra_hosts)
        return params


def image_name(project: str, service: Service) -> str:
    return service.image or f"{project}-{service.name}".lower()


def build_request(project: str, service: Service, environ: Mapping[str, str],
                  overrides: BuildOverrides | None = None) -> BuildRequest:
    """The build of ``service``; ``UserError`` if it has none or asks for something the engine cannot do."""
    build = service.build
    if build is None:
        raise UserError.single(f"service {service.name!r} has no build section", path=("services", service.name))
    overrides = overrides or BuildOverrides()
    where = ("services", service.name, "build")
    if build.context.startswith(_REMOTE_PREFIXES):
        raise UserError.single(f"remote build contexts ({build.context}) are not supported; clone it and point "
                               "build.context at the directory", path=(*where, "context"))
    extras = build.extras or {}
    args: dict[str, str] = {}
    for key, value in (build.args or {}).items():
        if value is None:
            if key in environ:
                args[key] = environ[key]
        else:
            args[key] = str(value)
    args.update(overrides.build_args)
    network = extras.get("network")
    if network is not None and network not in _NETWORKS:
        raise UserError.single(f"build network {network!r} is not supported (use default, host or none)",
                               path=(*where, "network"))
    shm = extras.get("shm_size")
    return BuildRequest(
        service=service.name,
        image=image_name(project, service),
        context=build.context,
        dockerfile=build.dockerfile if build.dockerfile_inline is None else None,
        dockerfile_inline=build.dockerfile_inline,
        build_args=args,
        target=build.target,
        labels={**(build.labels or {}), keys.VERSION: keys.COMPOSE_VERSION, keys.PROJECT: project,
                keys.SERVICE: service.name},  # as Docker Compose labels the images it builds
        tags=tuple(t for t in (build.tags or ()) if t != image_name(project, service)),
        no_cache=bool(extras.get("no_cache")) or overrides.no_cache,
        pull=bool(extras.get("pull")) or overrides.pull,
        network_mode=_NETWORKS[network] if network else None,
        shm_size=int(shm) if shm is not None else None,
        extra_hosts=tuple(_host_entry(h) for h in extras.get("extra_hosts") or ()),
        ignored=tuple(sorted(k for k in extras if k not in _HANDLED and not k.startswith("x-"))),
    )


def _host_entry(entry: str) -> str:
    """Canonical ``name=address`` (or the older ``name:address``) to the API's ``name:address``."""
    name, sep, address = entry.partition("=")
    return f"{name}:{address}" if sep else entry


def build_requests(project: Project, services: list[str] | None, environ: Mapping[str, str],
                   overrides: BuildOverrides | None = None) -> list[BuildRequest]:
    """The builds of the named services (all when none are named) that have a ``build:`` section, in name order;
    services that build the same image name build it once."""
    names = services or sorted(project.services)
    out: list[BuildRequest] = []
    for name in names:
        service = project.services.get(name)
        if service is None:
            raise UserError.single(f"no such service: {name}")
        if service.build is not None:
            request = build_request(project.name, service, environ, overrides)
            if all(r.image != request.image for r in out):
                out.append(request)
    return out


def ignored_warnings(requests: list[BuildRequest]) -> list[Problem]:
    """One warning per build key a request carries that the builder does not do, naming it."""
    return [Problem(f"build.{key} is not supported by the pycompose builder; ignored",
                    ("services", r.service, "build", key))
            for r in requests for key in r.ignored]
