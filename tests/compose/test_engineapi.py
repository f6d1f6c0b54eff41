"""``compose.engineapi`` on the wire: a canned HTTP server on a unix socket of the test's own (a thread, one
connection per request, as the client makes them) answers with each body framing the engine uses; the client's
decoding, errors, hijack and chunked upload are checked against what was sent and received."""
from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from compose.engineapi import APIError, Client, ConnectionFailed, NotFound
from compose.engineapi.client import convert_filters, quote
from compose.engineapi.frames import demux


class _Server:
    """Answers each connection with the next canned reply (bytes, sent in the given pieces); records requests."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen(8)
        self.replies: list[list[bytes | None]] = []  # None: hold the connection open until ``release``
        self.requests: list[bytes] = []
        self.release = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _read_request(self, conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        if b"transfer-encoding: chunked" in head.lower():
            while not body.endswith(b"0\r\n\r\n"):
                body += conn.recv(65536)
        elif b"content-length:" in head.lower():
            size = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(body) < size:
                body += conn.recv(65536)
        return head + b"\r\n\r\n" + body

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.requests.append(self._read_request(conn))
                for piece in self.replies.pop(0):
                    if piece is None:
                        self.release.wait(60)
                    else:
                        conn.sendall(piece)

    def close(self) -> None:
        self.release.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close() alone does not)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(60)
        assert not self._thread.is_alive()


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[_Server, Client]]:
    path = tmp_path / "engine.sock"
    srv = _Server(path)
    try:
        yield srv, Client(str(path), f"unix://{path}", timeout=30)
    finally:
        srv.close()


def _reply(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"HTTP/1.1 {status}\r\n{head}\r\n".encode() + body


def _chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_json_by_content_length_and_the_query_docker_py_sends(server):
    srv, client = server
    body = json.dumps([{"Id": "abc"}]).encode()
    srv.replies.append([_reply("200 OK", {"Content-Length": str(len(body))}, body)])
    assert client.containers(all=True, filters={"label": ["a=b c"]}) == [{"Id": "abc"}]
    line = srv.requests[0].split(b"\r\n")[0].decode()
    assert line.startswith("GET /v1.43/containers/json?limit=-1&all=1&size=0&trunc_cmd=0&filters=")
    assert line.endswith(" HTTP/1.1") and "%22a%3Db%20c%22" in line


def test_chunked_body_cut_anywhere_and_multiplexed_frames(server):
    srv, client = server
    frames = struct.pack(">BxxxL", 1, 6) + b"hello\n" + struct.pack(">BxxxL", 2, 4) + b"err\n"
    inspect = json.dumps({"Config": {"Tty": False}}).encode()
    whole = _reply("200 OK", {"Transfer-Encoding": "chunked"}, _chunked(frames[:3], frames[3:11], frames[11:]))
    srv.replies.append([whole[:40], whole[40:41], whole[41:]])  # the head itself split over three sends
    srv.replies.append([_reply("200 OK", {"Content-Length": str(len(inspect))}, inspect)])
    assert b"".join(client.logs("box", stream=True)) == b"hello\nerr\n"


def test_body_to_the_end_of_the_connection(server):
    srv, client = server
    srv.replies.append([_reply("200 OK", {}, b"first "), b"second"])
    assert client._open("GET", "/x").read() == b"first second"


def test_errors_carry_the_engines_message(server):
    srv, client = server
    message = json.dumps({"message": "No such container: nope"}).encode()
    srv.replies.append([_reply("404 Not Found", {"Content-Length": str(len(message))}, message)])
    with pytest.raises(NotFound) as err:
        client.inspect_container("nope")
    assert (err.value.status_code, err.value.explanation) == (404, "No such container: nope")
    srv.replies.append([_reply("409 Conflict", {"Content-Length": "8"}, b"not json")])
    with pytest.raises(APIError) as err:
        client.pause("box")
    assert (err.value.status_code, err.value.explanation) == (409, "not json")


def test_a_broken_answer_and_a_missing_socket(server, tmp_path):
    srv, client = server
    srv.replies.append([_reply("200 OK", {"Content-Length": "100"}, b"short")])
    with pytest.raises(ConnectionFailed):
        client.version()
    with pytest.raises(ConnectionFailed):
        Client(str(tmp_path / "absent.sock"), "unix://absent").ping()


def test_hijack_leaves_the_stream_in_the_socket(server):
    srv, client = server
    stream = struct.pack(">BxxxL", 1, 3) + b"out"
    srv.replies.append([_reply("101 UPGRADED", {"Connection": "Upgrade", "Upgrade": "tcp"}) + stream])
    sock = client.exec_start("e1", socket=True)
    try:
        received = b""
        while len(received) < len(stream):
            data = sock.recv(65536)
            assert data, "the stream behind the head was lost"
            received += data
        assert received == stream
    finally:
        sock.close()
    assert b'"Detach": false' in srv.requests[0] and b"Upgrade: tcp" in srv.requests[0]


def test_a_file_is_uploaded_chunked(server, tmp_path):
    srv, client = server
    payload = bytes(range(256)) * 5000  # more than one read of the file
    tar = tmp_path / "data.tar"
    tar.write_bytes(payload)
    srv.replies.append([_reply("200 OK", {"Content-Length": "0"})])
    with open(tar, "rb") as data:
        client.archive_put("box", "/tmp", data, copy_uid_gid=True)
    head, _, body = srv.requests[0].partition(b"\r\n\r\n")
    assert b"PUT /v1.43/containers/box/archive?path=%2Ftmp&copyUIDGID=1 " in head
    assert b"Content-Type: application/x-tar" in head
    received, rest = b"", body
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        received, rest = received + rest[:size], rest[size + 2:]
    assert received == payload


def test_a_stream_closed_from_another_thread_ends_its_reader(server):
    srv, client = server
    event = json.dumps({"Action": "start"}).encode()
    srv.replies.append([_reply("200 OK", {"Transfer-Encoding": "chunked"}, b"%x\r\n%s\r\n" % (len(event), event)),
                        None])
    events = client.events(decode=True)
    seen: list[object] = []
    first = threading.Event()

    def read() -> None:
        try:
            for item in events:
                seen.append(item)
                first.set()
        except ConnectionFailed:
            pass

    reader = threading.Thread(target=read)
    reader.start()
    assert first.wait(30)
    events.close()  # the server keeps the connection open: only close() ends the reader
    reader.join(30)
    assert not reader.is_alive() and seen == [{"Action": "start"}]
    assert not srv.release.is_set()  # (the server still held the connection: close() ended the reader)


def test_small_helpers():
    assert quote("a b/c:d") == "a%20b%2Fc%3Ad" and quote("busybox:local", safe="/:@") == "busybox:local"
    assert json.loads(convert_filters({"label": "x=y", "dangling": True})) == {"label": ["x=y"], "dangling": ["true"]}
    frames = struct.pack(">BxxxL", 1, 2) + b"ab" + struct.pack(">BxxxL", 2, 1) + b"c"
    assert list(demux([frames[:5], frames[5:10], frames[10:]])) == [(1, b"ab"), (2, b"c")]
    assert list(demux([frames[:9]])) == []  # a torn frame is not made up
