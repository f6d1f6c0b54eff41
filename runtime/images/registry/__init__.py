"""Registry client over the OCI distribution API: ``pull``, ``push``, ``login`` (``requests`` underneath)."""
from __future__ import annotations

from runtime.images.registry.auth import Credentials, credentials_from_header, load_credentials, store_credentials
from runtime.images.registry.config import RegistryConfig
from runtime.images.registry.errors import BadContent, ManifestUnknown, RegistryError, Unauthorized
from runtime.images.registry.pull import parse_platform, pull
from runtime.images.registry.push import login, push

__all__ = ["pull", "push", "login", "RegistryConfig", "Credentials", "load_credentials", "store_credentials",
           "RegistryError", "Unauthorized", "ManifestUnknown", "BadContent", "parse_platform", "credentials_from_header"]
