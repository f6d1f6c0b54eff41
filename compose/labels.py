"""The ``com.docker.compose.*`` label keys, exactly as Docker Compose sets them, so either tool finds the other's
containers, networks and volumes. Every label key the compose side reads or writes is defined here."""
from __future__ import annotations

__all__ = ["PREFIX", "PROJECT", "SERVICE", "CONTAINER_NUMBER", "ONEOFF", "SLUG", "CONFIG_HASH", "IMAGE",
           "WORKING_DIR", "CONFIG_FILES", "ENVIRONMENT_FILE", "VERSION", "DEPENDS_ON", "NETWORK", "VOLUME",
           "REPLACE", "HASH_SCHEME", "COMPOSE_VERSION", "depends_on_value", "parse_depends_on", "project_filter"]

PREFIX = "com.docker.compose."
PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
CONTAINER_NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"  # "True" for ``run`` containers, else "False"
SLUG = "com.docker.compose.slug"  # the random part of a ``run`` container's name
CONFIG_HASH = "com.docker.compose.config-hash"
IMAGE = "com.docker.compose.image"  # the image ID the container was created from
WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"  # comma-separated absolute paths
ENVIRONMENT_FILE = "com.docker.compose.project.environment_file"
VERSION = "com.docker.compose.version"
DEPENDS_ON = "com.docker.compose.depends_on"  # "svc:condition:restart,..."
NETWORK = "com.docker.compose.network"  # the network's key in the Compose file
VOLUME = "com.docker.compose.volume"  # the volume's key in the Compose file
REPLACE = "com.docker.compose.replace"  # the container a recreated one replaces
# On networks and volumes beside CONFIG_HASH: which hash it is (``compose.resourcehash.SCHEME``). Docker Compose
# hashes its own Go structs, so only a hash of our scheme can be compared with the file.
HASH_SCHEME = "io.pycompose.config-hash.scheme"

COMPOSE_VERSION = "2.30.0"  # the Docker Compose version whose behaviour we follow, written to VERSION


def depends_on_value(deps: dict[str, tuple[str, bool]]) -> str:
    """``{"db": ("service_healthy", False)}`` -> ``"db:service_healthy:false"`` (sorted by service)."""
    return ",".join(f"{name}:{cond}:{str(restart).lower()}" for name, (cond, restart) in sorted(deps.items()))


def parse_depends_on(value: str) -> dict[str, tuple[str, bool]]:
    out: dict[str, tuple[str, bool]] = {}
    for item in filter(None, (value or "").split(",")):
        name, _, rest = item.partition(":")
        cond, _, restart = rest.partition(":")
        out[name] = (cond or "service_started", restart == "true")
    return out


def project_filter(project: str, *more: str) -> dict[str, list[str]]:
    """An Engine API ``filters`` value selecting objects of ``project`` (plus ``key=value`` label filters)."""
    return {"label": [f"{PROJECT}={project}", *more]}
