"""Typed errors of the engine. ``runtime.daemon`` maps each to an HTTP status and Docker's JSON body."""
from __future__ import annotations

__all__ = ["EngineError", "NotFound", "Conflict", "InvalidState", "InvalidArgument", "Unsupported"]


class EngineError(Exception):
    """Base of every error the engine reports to a client (HTTP 500 unless a subclass says otherwise)."""

    status = 500


class NotFound(EngineError):
    status = 404


class Conflict(EngineError):
    status = 409


class InvalidState(EngineError):
    """The object exists but is in the wrong state for the operation (e.g. start of a running container)."""

    status = 409


class InvalidArgument(EngineError):
    status = 400


class Unsupported(EngineError):
    status = 501
