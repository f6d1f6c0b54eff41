"""The small Engine API client's exceptions, shaped as docker-py's (``status_code``, ``explanation``) so that
``compose.engine.errors.translated`` maps both alike: the engine's refusal (4xx/5xx, its ``message``) and a
failure to reach it."""
from __future__ import annotations

__all__ = ["APIError", "NotFound", "ConnectionFailed"]


class APIError(Exception):
    """The engine answered ``status_code`` >= 400; ``explanation`` is its JSON ``message`` (or the body)."""

    def __init__(self, status_code: int, explanation: str, what: str = "") -> None:
        super().__init__(f"{status_code} {what}: {explanation}" if what else f"{status_code}: {explanation}")
        self.status_code = status_code
        self.explanation = explanation


class NotFound(APIError):
    pass


class ConnectionFailed(Exception):
    """The socket could not be reached, or the connection broke mid-answer."""
