"""Docker's JSON progress stream (pull, push, load, import, build): blocking work runs in a thread and emits
messages; the reply streams each as one JSON line. An error ends the stream the way Docker reports it,
``{"errorDetail": {"message": ...}, "error": ...}`` (a failed build step adds its exit ``code``): the status is
200 by then."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from runtime.daemon.server import Stream
from runtime.errors import EngineError

__all__ = ["Emit", "json_line", "progress_stream"]

Emit = Callable[[dict[str, Any]], None]


def json_line(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode() + b"\r\n"


def _error_message(err: Exception) -> dict[str, Any]:
    from runtime.build.run import RunFailed

    if isinstance(err, RunFailed):
        return {"errorDetail": {"code": err.code, "message": str(err)}, "error": str(err)}
    text = str(err) if isinstance(err, EngineError) else f"{type(err).__name__}: {err}"
    return {"errorDetail": {"message": text}, "error": str(err)}


def progress_stream(work: Callable[[Emit], Iterable[dict[str, Any]] | None],
                    cancel: Callable[[], None] | None = None) -> Stream:
    """Run blocking ``work(emit)`` in a thread; stream what it emits, then the messages it returns (if any). When
    the client goes away before the end, ``cancel()`` (e.g. kill a build's RUN container); the work is awaited."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def emit(msg: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, msg)

    def run() -> None:
        try:
            for msg in work(emit) or ():
                emit(msg)
        except Exception as err:  # noqa: BLE001 - reported to the client in the stream
            emit(_error_message(err))
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    async def body() -> AsyncIterator[bytes]:
        task = asyncio.ensure_future(asyncio.to_thread(run))
        finished = False
        try:
            while (msg := await queue.get()) is not None:
                yield json_line(msg)
            finished = True
        finally:
            if not finished and cancel is not None:
                cancel()
            await asyncio.shield(task)

    return Stream(body())
