"""Registry failures as engine errors (the daemon maps ``status``)."""
from __future__ import annotations

from runtime.errors import EngineError, InvalidArgument, NotFound

__all__ = ["RegistryError", "RegistryUnreachable", "Unauthorized", "ManifestUnknown", "BadContent"]


class RegistryError(EngineError):
    """The registry answered with an error or could not be reached (HTTP 500 to our clients, as Docker)."""


class RegistryUnreachable(RegistryError):
    """No HTTP conversation was possible (connection refused, TLS handshake failed, timeout)."""


class Unauthorized(RegistryError):
    status = 401


class ManifestUnknown(NotFound):
    """No manifest for the reference (Docker: ``manifest for x not found: manifest unknown``)."""


class BadContent(InvalidArgument):
    """The registry sent content that does not match its digest or is malformed."""
