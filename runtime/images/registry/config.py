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
    verify: bool | str = True  # requests' ``verify``: True, False (insecure registry) or a CA bundle path
    cert: tuple[str, str] | None = None  # client certificate and key (certs.d ``client.cert``/``client.key``)
    fallback: bool = False  # when unreachable (no TLS there, refused), try the next endpoint


@dataclass(frozen=True)
class RegistryConfig:
    """Engine-level registry settings (``insecure-registries``, ``registry-mirrors`` of Docker's daemon.json)."""

    insecure: tuple[str, ...] = ()  # "host:port" or CIDR ("10.0.0.0/8") reached over plain HTTP
    mirrors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # domain -> mirror base URLs
    auth_file: Path | None = None  # defaults to docker_config_path()
    timeout: float = 60.0
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    download_attempts: int = 3  # a layer download cut off mid-way is retried, from the start
    retry_delay: float = 1.0  # seconds before retry n is n * retry_delay
    certs_dir: Path | None = Path("/etc/docker/certs.d")  # <dir>/<host:port>/{ca.crt,client.cert,client.key}
    loopback_insecure: bool = True  # 127.0.0.0/8 and localhost count as insecure, as in Docker

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
        extra = {k: value[k] for k in ("auth_file", "timeout", "max_concurrent_downloads", "max_concurrent_uploads",
                                       "certs_dir", "loopback_insecure") if k in value}
        return cls(insecure=tuple(insecure), mirrors={k: tuple(v) for k, v in mirrors.items()}, **extra)

    @property
    def credentials_path(self) -> Path:
        return self.auth_file or docker_config_path()

    def is_insecure(self, domain: str) -> bool:
        host = _host_of(domain)
        if domain in self.insecure or host in self.insecure:
            return True
        if self.loopback_insecure and (host == "localhost" or host.endswith(".localhost")):
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
        return self.loopback_insecure and addr.is_loopback

    def endpoints(self, domain: str) -> list[Endpoint]:
        """Mirrors first (pull only), then the registry itself. An insecure registry is tried over HTTPS without
        certificate checks first and over plain HTTP when HTTPS is not there, as Docker does."""
        out = [Endpoint(url.rstrip("/"), domain, mirror=True, fallback=True) for url in self.mirrors.get(domain, ())]
        api_host = _DOCKER_HUB_API if domain == DEFAULT_DOMAIN else domain
        if self.is_insecure(domain):
            out.append(Endpoint(f"https://{api_host}", domain, verify=False, fallback=True))
            out.append(Endpoint(f"http://{api_host}", domain))
        else:
            verify, cert = self._tls_files(domain)
            out.append(Endpoint(f"https://{api_host}", domain, verify=verify, cert=cert))
        return out

    def _tls_files(self, domain: str) -> tuple[bool | str, tuple[str, str] | None]:
        """certs.d: ``ca.crt`` (extra CA, used instead of the system bundle) and ``client.cert``/``client.key``."""
        if self.certs_dir is None:
            return True, None
        base = self.certs_dir / domain
        ca = base / "ca.crt"
        cert, key = base / "client.cert", base / "client.key"
        return (str(ca) if ca.is_file() else True), ((str(cert), str(key)) if cert.is_file() and key.is_file() else None)


def _host_of(domain: str) -> str:
    if domain.startswith("["):
        return domain[1:domain.index("]")]
    return domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain
