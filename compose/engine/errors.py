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
    """Run an engine call; turn docker-py's errors (or ``compose.engineapi``'s, same shape) into ``EngineError``s
    prefixed with ``what``. docker-py is imported only when it is already loaded: the small client's commands
    never load it."""
    import sys

    from compose.engineapi.errors import APIError, ConnectionFailed

    prefix = f"{what}: " if what else ""
    try:
        yield
    except APIError as err:
        status = err.status_code
        cls = NotFound if status == 404 else Conflict if status == 409 else EngineError
        raise cls(prefix + _message(err), status) from None
    except ConnectionFailed as err:
        raise EngineError(f"{prefix}cannot talk to the engine: {_message(err)}", 503) from None
    except Exception:
        if "docker" not in sys.modules:
            raise
        _translate_docker(prefix)


def _translate_docker(prefix: str) -> None:
    """Within an ``except``: docker-py's error being handled, as an ``EngineError``; anything else re-raised."""
    import docker.errors
    import requests.exceptions

    try:
        raise
    except docker.errors.NotFound as err:
        raise NotFound(prefix + _message(err), 404) from None
    except docker.errors.APIError as err:
        status = err.status_code or 500
        cls = Conflict if status == 409 else EngineError
        raise cls(prefix + _message(err), status) from None
    except (requests.exceptions.ConnectionError, docker.errors.DockerException) as err:
        raise EngineError(f"{prefix}cannot talk to the engine: {_message(err)}", 503) from None
