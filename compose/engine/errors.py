"""docker-py's exceptions mapped back to compose errors: what the user can fix is a ``UserError`` subclass
(the engine's message, one line); a failure to reach the engine is a ``UserError`` too. Anything else stays
a bug."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from compose.errors import Problem, UserError

__all__ = ["EngineError", "NotFound", "Conflict", "translated"]


class EngineError(UserError):
    """The engine refused a request; ``status`` is the HTTP status."""

    status: int = 500

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__([Problem(message)])
        self.status = status


class NotFound(EngineError):
    pass


class Conflict(EngineError):
    pass


def _message(err: BaseException) -> str:
    explanation = getattr(err, "explanation", None)
    if isinstance(explanation, bytes):
        explanation = explanation.decode("utf-8", "replace")
    return str(explanation or err).strip()


@contextmanager
def translated(what: str = "") -> Iterator[None]:
    """Run an engine call; turn docker-py's errors into ``EngineError``s prefixed with ``what``."""
    import docker.errors
    import requests.exceptions

    prefix = f"{what}: " if what else ""
    try:
        yield
    except docker.errors.NotFound as err:
        raise NotFound(prefix + _message(err), 404) from None
    except docker.errors.APIError as err:
        status = err.status_code or 500
        cls = Conflict if status == 409 else EngineError
        raise cls(prefix + _message(err), status) from None
    except (requests.exceptions.ConnectionError, docker.errors.DockerException) as err:
        raise EngineError(f"{prefix}cannot talk to the engine: {_message(err)}", 503) from None
