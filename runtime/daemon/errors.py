"""ONE table from the engine's typed errors to an HTTP status and Docker's JSON body ``{"message": ...}``."""
from __future__ import annotations

import json
import logging

from runtime.daemon.server import Response
from runtime.errors import Conflict, EngineError, InvalidArgument, InvalidState, NotFound, Unsupported

__all__ = ["STATUS", "error_response", "status_of"]

_log = logging.getLogger(__name__)

STATUS: dict[type[BaseException], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidState: 409,
    InvalidArgument: 400,
    Unsupported: 501,
    EngineError: 500,
}


def status_of(err: BaseException) -> int:
    for kind in type(err).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def error_response(err: BaseException) -> Response:
    status = status_of(err)
    if isinstance(err, EngineError):
        message = str(err) or type(err).__name__
    else:
        _log.error("internal error", exc_info=err)
        message = f"internal error: {type(err).__name__}: {err}"
    return Response(status, json.dumps({"message": message}).encode() + b"\n")
