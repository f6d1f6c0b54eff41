"""The engine's HTTP server keeps a connection for the client's next request after a chunked answer (a wait, a
log), even when that request was sent before the server saw its answer end: docker-py reuses its connection at
once, and a `wait` on an exited container answers at once (a flaky `RemoteDisconnected` before this)."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from runtime.daemon.server import HttpServer, Request, Response, Stream, json_response


async def _dispatch(req: Request):
    if req.path == "/stream":
        async def body():
            yield b""
            yield b'{"StatusCode": 0}\n'

        return Stream(body())
    return json_response({"path": req.path})


async def _read_response(reader: asyncio.StreamReader) -> tuple[str, bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    status = head.split("\r\n", 1)[0]
    if "Transfer-Encoding: chunked" in head:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, body
            body += chunk[:-2]
    length = int(head.split("Content-Length: ", 1)[1].split("\r\n", 1)[0])
    return status, await reader.readexactly(length)


async def _pipelined(path: Path) -> list[tuple[str, bytes]]:
    server = HttpServer(_dispatch, lambda err: Response(500, str(err).encode()))
    await server.listen_unix(str(path), group=None)
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
        # the next request goes out with the first, as a client that reuses its connection at once may send it
        writer.write(b"POST /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        answers = [await asyncio.wait_for(_read_response(reader), 10) for _ in range(2)]
        writer.close()
        return answers
    finally:
        await server.close()


def test_a_request_sent_before_a_chunked_answer_ended_is_served_on_the_same_connection(tmp_path):
    answers = asyncio.run(_pipelined(tmp_path / "engine.sock"))
    assert answers[0] == ("HTTP/1.1 200 OK", b'{"StatusCode": 0}\n')
    assert answers[1][0] == "HTTP/1.1 200 OK" and json.loads(answers[1][1]) == {"path": "/_ping"}
