"""A small HTTP/1.1 server on asyncio streams over a unix socket, with Docker's connection hijack.

Handlers take a :class:`Request` and return a :class:`Response`, a :class:`Stream` (chunked body from an async
iterator) or a :class:`Hijack` (101 Switching Protocols, then the handler owns the raw connection, as Docker's
attach and exec do). The version prefix ``/v1.xx`` is stripped by the router, not here.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

from runtime import trace

__all__ = ["Request", "Response", "Stream", "Hijack", "Reply", "Handler", "HttpServer", "json_response"]

_log = logging.getLogger(__name__)
_MAX_HEAD = 64 * 1024


class _BadRequest(Exception):
    pass


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    params: dict[str, str] = field(default_factory=dict)
    _length: int | None = None
    _chunked: bool = False
    _consumed: bool = False
    _body: bytes | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.arg(name)
        if value is None:
            return default
        return value.lower() not in ("0", "false", "no", "")

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        from runtime.errors import InvalidArgument

        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise InvalidArgument(f"invalid value for {name!r}: {value!r} is not an integer") from None

    def json_arg(self, name: str) -> Any:
        from runtime.errors import InvalidArgument

        value = self.arg(name)
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise InvalidArgument(f"invalid JSON in query parameter {name!r}") from None

    @property
    def upgrade(self) -> bool:
        return "upgrade" in self.headers.get("connection", "").lower()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The request body piece by piece (Content-Length or chunked); read at most once."""
        if self._body is not None:
            yield self._body
            return
        if self._consumed:
            return
        self._consumed = True
        if self._chunked:
            while True:
                line = await self.reader.readline()
                try:
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    raise _BadRequest("bad chunk size") from None
                if size == 0:
                    while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                yield await self.reader.readexactly(size)
                await self.reader.readexactly(2)
        else:
            left = self._length or 0
            while left > 0:
                data = await self.reader.read(min(left, 1 << 20))
                if not data:
                    raise _BadRequest("body shorter than Content-Length")
                left -= len(data)
                yield data

    async def spool(self, directory: str | os.PathLike[str]) -> BinaryIO:
        """The body in an unnamed temp file under ``directory``, at its start (image archives, build contexts and
        copied trees can be large); the file is closed if the body cannot be read whole."""
        import tempfile

        fh = tempfile.TemporaryFile(dir=directory)
        try:
            async for chunk in self.chunks():
                await asyncio.to_thread(fh.write, chunk)
        except BaseException:
            fh.close()
            raise
        fh.seek(0)
        return fh

    async def read(self) -> bytes:
        if self._body is None:
            self._body = b"".join([c async for c in self.chunks()])
        return self._body

    async def json(self, default: Any = None) -> Any:
        from runtime.errors import InvalidArgument

        body = await self.read()
        if not body.strip():
            return default
        try:
            return json.loads(body)
        except ValueError as err:
            raise InvalidArgument(f"malformed JSON body: {err}") from None

    async def json_object(self) -> dict[str, Any]:
        """The body as a JSON object ({} when empty); anything else is a 400."""
        from runtime.errors import InvalidArgument

        value = await self.json(None)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise InvalidArgument(f"the request body must be a JSON object, not {type(value).__name__}")
        return value

    async def drain(self) -> None:
        async for _ in self.chunks():
            pass


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Stream:
    """A chunked response; ``first`` runs before headers are sent (errors there still become a plain error)."""

    chunks: AsyncIterator[bytes]
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hijack:
    """Take over the connection: ``run(reader, writer)`` after the 101 (or 200 raw-stream) head is written."""

    run: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
    content_type: str = "application/vnd.docker.raw-stream"


Reply = Response | Stream | Hijack
Handler = Callable[[Request], Awaitable[Reply]]


def json_response(value: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(value).encode() + b"\n")


def _answers(path: str) -> bool:
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(2)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def _head(status: int, headers: dict[str, str]) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Status"
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class HttpServer:
    """Serve ``dispatch`` on a unix socket; ``on_error`` turns an exception into a Response."""

    def __init__(self, dispatch: Handler, on_error: Callable[[BaseException], Response],
                 base_headers: dict[str, str] | None = None) -> None:
        self._dispatch = dispatch
        self._on_error = on_error
        self._base = dict(base_headers or {})
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def listen_unix(self, path: str, mode: int = 0o660, group: str | None = "pycompose") -> None:
        if os.path.exists(path) and stat.S_ISSOCK(os.lstat(path).st_mode):
            if _answers(path):
                from runtime.errors import Conflict

                raise Conflict(f"another engine is already listening on unix://{path}")
            os.unlink(path)  # stale, left by an engine that was killed
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._server = await asyncio.start_unix_server(self._client, path=path, limit=_MAX_HEAD)
        os.chmod(path, mode)
        if group:
            import grp

            try:
                os.chown(path, -1, grp.getgrnam(group).gr_gid)
            except KeyError:
                pass

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            pending: bytes | None = b""
            while pending is not None:
                pending = await self._one(reader, writer, pending)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        except Exception:  # a bug in a handler must never take the daemon down
            _log.exception("connection failed")
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            pending: bytes = b"") -> Request | None:
        """The next request; ``pending``: its first bytes, read already (see ``_stream``)."""
        try:
            head = pending + await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError:
            raise _BadRequest("request head too large") from None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(f"malformed request line {lines[0]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise _BadRequest(f"malformed header {line!r}")
            headers[name.strip().lower()] = value.strip()
        url = urlsplit(parts[1])
        req = Request(parts[0].upper(), unquote(url.path), parse_qs(url.query, keep_blank_values=True),
                      headers, reader, writer)
        if headers.get("expect", "").lower() == "100-continue":  # curl's large uploads wait for this
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            req._chunked = True
        else:
            try:
                req._length = int(headers.get("content-length", "0"))
            except ValueError:
                raise _BadRequest("bad Content-Length") from None
        return req

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   pending: bytes = b"") -> bytes | None:
        """Serve one request; None when the connection ends, else the next request's bytes read already."""
        try:
            req = await self._read_request(reader, writer, pending)
        except _BadRequest as err:
            await self._write(writer, Response(400, json.dumps({"message": str(err)}).encode()), close=True)
            return None
        if req is None:
            return None
        keep = req.headers.get("connection", "").lower() != "close"
        _log.debug("%s %s %s", req.method, req.path, req.query)
        try:
            reply: Reply = await self._dispatch(req)
        except asyncio.CancelledError:
            raise
        except BaseException as err:  # noqa: BLE001 - mapped to a status by the errors table
            reply = self._on_error(err)
        if isinstance(reply, Hijack):
            await self._hijack(req, reply)
            return None
        try:
            await req.drain()
        except _BadRequest:
            keep = False
        if isinstance(reply, Stream):
            after = await self._stream(reader, writer, reply)
            return after if keep else None
        await self._write(writer, reply, close=not keep, head_only=req.method == "HEAD")
        if trace.enabled():
            trace.mark("http.replied." + req.path.rstrip("/").rpartition("/")[2])
        return b"" if keep else None

    async def _write(self, writer: asyncio.StreamWriter, resp: Response, close: bool = False,
                     head_only: bool = False) -> None:
        headers = {**self._base, "Content-Type": resp.content_type, "Content-Length": str(len(resp.body)),
                   **resp.headers}
        if close:
            headers["Connection"] = "close"
        writer.write(_head(resp.status, headers) + (b"" if head_only else resp.body))
        await writer.drain()

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      reply: Stream) -> bytes | None:
        """Send a chunked body; stop early when the client hangs up. None when the connection ends, else what was
        read of the client's next request meanwhile (it may send that as soon as the body's last chunk reached it,
        before this side saw its pump finish: that byte is the next request's, never a hang-up)."""
        headers = {**self._base, "Content-Type": reply.content_type, "Transfer-Encoding": "chunked",
                   **reply.headers}
        writer.write(_head(reply.status, headers))
        await writer.drain()
        pump = asyncio.ensure_future(self._pump(writer, reply.chunks))
        hangup = asyncio.ensure_future(reader.read(1))
        try:
            await asyncio.wait({pump, hangup}, return_when=asyncio.FIRST_COMPLETED)
            if not pump.done() and hangup.exception() is None and hangup.result():
                await asyncio.wait({pump})  # a request sent ahead of the end of this answer: finish the answer
        finally:
            for task in (pump, hangup):
                if not task.done():
                    task.cancel()
            await asyncio.gather(pump, hangup, return_exceptions=True)
            aclose = getattr(reply.chunks, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except RuntimeError:
                    pass
        if not pump.done() or pump.cancelled() or pump.exception() is not None:
            return None
        if not hangup.done() or hangup.cancelled():
            return b""
        if hangup.exception() is not None:
            return None
        return hangup.result() or None  # b"": the client hung up

    @staticmethod
    async def _pump(writer: asyncio.StreamWriter, chunks: AsyncIterator[bytes]) -> None:
        async for chunk in chunks:
            if chunk:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def _hijack(self, req: Request, reply: Hijack) -> None:
        writer = req.writer
        if req.upgrade:
            headers = {**self._base, "Content-Type": reply.content_type, "Connection": "Upgrade",
                       "Upgrade": req.headers.get("upgrade", "tcp")}
            writer.write(_head(101, headers))
        else:
            writer.write(_head(200, {**self._base, "Content-Type": reply.content_type}))
        await writer.drain()
        await reply.run(req.reader, writer)
