"""Where and how to reach a registry: API host, scheme (plain HTTP only for localhost or configured insecure
registries), mirrors, and the Docker client config file holding credentials."""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from runtime.images.reference import DEFAULT_DOMAIN

__all__ = ["RegistryConfig", "Endpoint", "docker_config_path", "auth_key"]

_DOCKER_HUB_API = "registry-1.docker.io"
_DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"


def docker_config_path() -> Path:
    """``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``."""
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def auth_key(domain: str) -> str:
    """The key Docker uses in ``config.json`` ``auths`` for a registry domain."""
    return _DOCKER_HUB_AUTH_KEY if domain == DEFAULT_DOMAIN else domain


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # "https://registry-1.docker.io", "http://127.0.0.1:5000"
    domain: str  # the registry domain credentials are looked up for
    mirror: bool = False


@dataclass(frozen=True)
class RegistryConfig:
    """Engine-level registry settings (``insecure-registries``, ``registry-mirrors`` of Docker's daemon.json)."""

    insecure: tuple[str, ...] = ()  # "host:port" or CIDR ("10.0.0.0/8") reached over plain HTTP
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # domain -> mirror base URLs
    auth_file: Path | None = None  # defaults to docker_config_path()
    timeout: float = 60.0
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5

    @classmethod
    def coerce(cls, value: RegistryConfig | Mapping[str, Any] | None) -> RegistryConfig:
        """A config from daemon options as ``daemon.json`` spells them: ``{"mirrors": [url, ...] (Docker Hub's,
        like ``registry-mirrors``) or {domain: [url, ...]}, "insecure": ["host:port" | CIDR, ...]}``."""
        if value is None:
            return cls()
        if isinstance(value, RegistryConfig):
            return value
        mirrors = value.get("mirrors") or value.get("registry-mirrors") or {}
        if not isinstance(mirrors, Mapping):
            mirrors = {DEFAULT_DOMAIN: tuple(mirrors)}
        insecure = value.get("insecure") or value.get("insecure-registries") or ()
        extra = {k: value[k] for k in ("auth_file", "timeout", "max_concurrent_downloads", "max_concurrent_uploads")
                 if k in value}
        return cls(insecure=tuple(insecure), mirrors={k: tuple(v) for k, v in mirrors.items()}, **extra)

    @property
    def credentials_path(self) -> Path:
        return self.auth_file or docker_config_path()

    def is_insecure(self, domain: str) -> bool:
        host = _host_of(domain)
        if host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost"):
            return True
        if domain in self.insecure or host in self.insecure:
            return True
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        for entry in self.insecure:
            try:
                if addr in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return addr.is_loopback

    def endpoints(self, domain: str) -> list[Endpoint]:
        """Mirrors first (pull only), then the registry itself."""
        out = [Endpoint(url.rstrip("/"), domain, mirror=True) for url in self.mirrors.get(domain, ())]
        api_host = _DOCKER_HUB_API if domain == DEFAULT_DOMAIN else domain
        scheme = "http" if self.is_insecure(domain) else "https"
        out.append(Endpoint(f"{scheme}://{api_host}", domain))
        return out


def _host_of(domain: str) -> str:
    if domain.startswith("["):
        return domain[1:domain.index("]")]
    return domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain
