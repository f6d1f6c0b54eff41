"""Container I/O endpoints: ``logs`` (json-file, follow), ``attach`` (hijacked stream, before or after start),
``resize`` (the tty's window size), all through the container's monitor."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.daemon.detachkeys import EscapeMatcher, to_bytes
from runtime.daemon.events import parse_time
from runtime.daemon.headread import until_read
from runtime.daemon.logs import LogQuery, log_stream
from runtime.daemon.router import Router
from runtime.daemon.server import Hijack, Reply, Request, Response, Stream
from runtime.daemon.unixconn import connect_unix
from runtime.errors import EngineError, InvalidArgument, InvalidState

if TYPE_CHECKING:
    from runtime.daemon.app import Engine

__all__ = ["register", "pipe_streams", "detach_keys"]

_RAW = "application/vnd.docker.raw-stream"
_MUX = "application/vnd.docker.multiplexed-stream"


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, half_close: bool,
                escape: EscapeMatcher | None = None) -> bool:
    """Copy until the end of ``reader``; True when ``escape`` saw the detach keys (then the copy stops there and
    ``writer`` is not half-closed: the process keeps its input open, as under Docker)."""
    detached = False
    try:
        while data := await reader.read(65536):
            if escape is not None:
                data, detached = escape.feed(data)
            if data:
                writer.write(data)
                await writer.drain()
            if detached:
                return True
    except (ConnectionError, OSError):
        pass
    finally:
        if half_close and not detached:
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()
    return False


async def pipe_streams(client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                       process: tuple[asyncio.StreamReader, asyncio.StreamWriter], stdin: bool,
                       escape: EscapeMatcher | None = None) -> bool:
    """Output of the process to the client until it ends; the client's input to the process when ``stdin``. With
    ``escape`` (a tty's attach: runtime/daemon/detachkeys.py) the client's input is watched for the detach keys;
    True when they ended the attach (the process runs on)."""
    c_reader, c_writer = client
    p_reader, p_writer = process
    out = asyncio.ensure_future(_copy(p_reader, c_writer, half_close=False))
    inp = asyncio.ensure_future(_copy(c_reader, p_writer, half_close=True, escape=escape)) if stdin else None
    detached = False
    try:
        # a client half-close (docker's CLI always closes its write side once its input ends) is not a hangup:
        # the output goes on until the process ends or a write to the client fails
        if inp is not None and escape is not None:
            await asyncio.wait((out, inp), return_when=asyncio.FIRST_COMPLETED)
            detached = inp.done() and not inp.cancelled() and inp.exception() is None and inp.result()
        if not detached:
            await out
    finally:
        for task in (out, inp):
            if task is not None and not task.done():
                task.cancel()
        await asyncio.gather(*(t for t in (out, inp) if t is not None), return_exceptions=True)
        p_writer.close()
        with contextlib.suppress(OSError):
            await c_writer.drain()
    return detached


def detach_keys(spec: str, message: str, error: type[EngineError] = InvalidArgument) -> EscapeMatcher:
    """The matcher for a ``detachKeys``/``DetachKeys`` value (empty: ctrl-p,ctrl-q); ``error(message)`` (``{}``
    in it stands for the value) is the refusal of an invalid one."""
    if not spec:
        return EscapeMatcher()
    try:
        return EscapeMatcher(to_bytes(spec))
    except ValueError:
        raise error(message.format(spec)) from None


async def _monitor_attach(state_dir: str, flags: dict[str, bool]
                          ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    try:
        reader, writer = await connect_unix(os.path.join(state_dir, "monitor.sock"))
    except OSError:
        return None
    writer.write(json.dumps({"op": "attach", **flags}).encode() + b"\n")
    await writer.drain()
    line = await reader.readline()
    try:
        ok = json.loads(line).get("ok")
    except ValueError:
        ok = False
    if not ok:
        writer.close()
        return None
    return reader, writer


def register(router: Router, engine: Engine) -> None:
    sup = engine.supervisor

    async def logs(req: Request) -> Reply:
        rec = engine.records.find(req.params["id"])
        q_stdout, q_stderr = req.flag("stdout"), req.flag("stderr")
        if not q_stdout and not q_stderr:
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        tail = req.arg("tail") or "all"
        if tail != "all" and not tail.lstrip("-").isdigit():
            raise InvalidArgument(f"invalid value for \"tail\": {tail!r}")
        tty = bool(rec["Config"].get("Tty"))
        query = LogQuery(stdout=q_stdout, stderr=q_stderr, follow=req.flag("follow"),
                         tail=None if tail == "all" or int(tail) < 0 else int(tail),
                         since_ns=parse_time(req.arg("since"), "since") or None,
                         until_ns=parse_time(req.arg("until"), "until") or None,
                         timestamps=req.flag("timestamps"), tty=tty)
        cid = rec["Id"]

        def running() -> bool:
            return sup.live(cid).status in ("running", "paused", "restarting")

        stopped = None
        if query.follow and running():
            fut = sup.waiter(cid, "next-exit")

            async def stopped_wait() -> None:
                await fut

            stopped = stopped_wait
        return Stream(log_stream(Path(rec["LogPath"]), query, running, stopped),
                      content_type=_RAW if tty else _MUX)

    async def attach(req: Request) -> Reply:
        # as Docker: the keys are checked first (a 400 even for an unknown container), then watched on a tty's input
        keys = detach_keys(req.arg("detachKeys") or "", "Invalid detach keys ({}) provided")
        rec = engine.records.find(req.params["id"])
        cid = rec["Id"]
        flags = {"stdin": req.flag("stdin"), "stdout": req.flag("stdout"), "stderr": req.flag("stderr")}
        tty = bool(rec["Config"].get("Tty"))
        replay = req.flag("logs")
        live_wanted = req.flag("stream")
        status = sup.live(cid).status
        pending = None
        if live_wanted and status not in ("running", "paused"):
            pending = sup.attach_at_start(cid, flags)

        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await until_read(writer)  # nothing behind the head before the client has read it (headread.py)
            if replay:
                q = LogQuery(stdout=flags["stdout"], stderr=flags["stderr"], tty=tty)
                async for chunk in log_stream(Path(rec["LogPath"]), q, lambda: False):
                    writer.write(chunk)
                await writer.drain()
            if not live_wanted:
                return
            proc = None
            if pending is not None:
                conn = await pending  # input sent before the start stays buffered for the process
                if conn is not None:
                    conn.setblocking(False)
                    proc = await asyncio.open_unix_connection(sock=conn, limit=1 << 20)
            if proc is None:
                state = sup.svc.inspect(cid)
                if state.status in ("running", "paused"):
                    proc = await _monitor_attach(state.state_dir, flags)
            if proc is None:
                return
            if await pipe_streams((reader, writer), proc, flags["stdin"], keys if tty else None):
                engine.publish_container(rec, "detach")

        return Hijack(run, _RAW if tty else _MUX)

    async def resize(req: Request) -> Response:
        rec = engine.records.find(req.params["id"])
        h, w = req.int_arg("h", 0) or 0, req.int_arg("w", 0) or 0
        state = sup.svc.inspect(rec["Id"])
        if state.status not in ("running", "paused"):
            raise InvalidState(f"Container {rec['Id']} is not running")
        await monitor_resize(state.state_dir, h, w)
        return Response(200, content_type="text/plain")

    router.add("GET", "/containers/{id}/logs", logs)
    router.add("POST", "/containers/{id}/attach", attach)
    router.add("POST", "/containers/{id}/resize", resize)


async def monitor_resize(state_dir: str, height: int, width: int, sock_name: str = "monitor.sock") -> None:
    try:
        reader, writer = await connect_unix(os.path.join(state_dir, sock_name))
    except OSError:
        return
    try:
        writer.write(json.dumps({"op": "resize", "height": height, "width": width}).encode() + b"\n")
        await writer.drain()
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
