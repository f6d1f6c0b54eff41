"""HTTP/1.1 over the engine's unix socket, as much as the Engine API needs: one connection per request, JSON
bodies, answers delimited by Content-Length, chunked encoding or the end of the connection, and Docker's
hijacked connection (``Upgrade: tcp``). Standard library ``socket`` only: ``http.client`` would bring ``ssl``
and ``email`` (~10 ms) into every short command."""
from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator

from compose.engineapi.errors import ConnectionFailed

__all__ = ["Response", "request", "hijack"]

_HEAD_MAX = 64 * 1024


class Response:
    """An answer's status and headers (names lower-cased); the body is read on demand."""

    def __init__(self, sock: socket.socket, status: int, headers: dict[str, str], rest: bytes) -> None:
        self.sock = sock
        self.status = status
        self.headers = headers
        self._rest = rest

    def chunks(self) -> Iterator[bytes]:
        """The body, decoded from its transfer encoding, piece by piece as it arrives; closes the connection."""
        try:
            if "chunked" in self.headers.get("transfer-encoding", "").lower():
                yield from self._chunked()
            elif "content-length" in self.headers:
                left = int(self.headers["content-length"])
                while left > 0:
                    data = self._take(left)
                    if not data:
                        raise ConnectionFailed("the engine closed the connection in the middle of an answer")
                    left -= len(data)
                    yield data
            else:
                while True:
                    data = self._take(65536)
                    if not data:
                        return
                    yield data
        finally:
            self.close()

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def _take(self, most: int) -> bytes:
        """Up to ``most`` bytes: what is buffered first, else one receive (b"" at the end of the connection)."""
        if self._rest:
            data, self._rest = self._rest[:most], self._rest[most:]
            return data
        try:
            return self.sock.recv(min(most, 1 << 20))
        except OSError as err:
            raise ConnectionFailed(f"the engine's answer broke off: {err}") from None

    def _exactly(self, size: int) -> bytes:
        parts, left = [], size
        while left > 0:
            data = self._take(left)
            if not data:
                raise ConnectionFailed("the engine closed the connection in the middle of an answer")
            parts.append(data)
            left -= len(data)
        return b"".join(parts)

    def _line(self) -> bytes:
        while b"\r\n" not in self._rest:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionFailed("the engine closed the connection in the middle of an answer")
            self._rest += data
        line, _, self._rest = self._rest.partition(b"\r\n")
        return line

    def _chunked(self) -> Iterator[bytes]:
        while True:
            size = int(self._line().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                return
            yield self._exactly(size)
            self._exactly(2)  # the CRLF after each chunk


def _connect(path: str, timeout: float | None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError as err:
        sock.close()
        raise ConnectionFailed(f"cannot connect to {path}: {err.strerror or err}") from None
    return sock


def _send(sock: socket.socket, method: str, target: str, body: bytes | Iterable[bytes] | None,
          headers: dict[str, str]) -> None:
    """The request; a body that is not ``bytes`` (an iterable of chunks) goes with chunked encoding."""
    head = [f"{method} {target} HTTP/1.1", "Host: docker", "User-Agent: pycompose"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if "Content-Type" not in headers and body is not None:
        head.append("Content-Type: application/json")
    if isinstance(body, bytes):
        head.append(f"Content-Length: {len(body)}")
    elif body is not None:
        head.append("Transfer-Encoding: chunked")
    elif method in ("POST", "PUT"):
        head.append("Content-Length: 0")
    try:
        start = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if body is None or isinstance(body, bytes):
            sock.sendall(start + (body or b""))
            return
        sock.sendall(start)
        for chunk in body:
            if chunk:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.sendall(b"0\r\n\r\n")
    except OSError as err:
        sock.close()
        raise ConnectionFailed(f"cannot send to the engine: {err}") from None


def _parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ConnectionFailed(f"not an HTTP answer from the engine: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


def request(path: str, method: str, target: str, body: bytes | Iterable[bytes] | None = None, *,
            headers: dict[str, str] | None = None, timeout: float | None = 300.0) -> Response:
    """Send one request on a new connection to the unix socket ``path``; the answer with its head read. The
    engine may answer before it has read a whole body (a refusal): what it said is still read."""
    sock = _connect(path, timeout)
    _send(sock, method, target, body, {"Connection": "close", **(headers or {})})
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data or len(buf) > _HEAD_MAX:
                raise ConnectionFailed("the engine closed the connection without an answer")
            buf += data
    except OSError as err:
        sock.close()
        raise ConnectionFailed(f"no answer from the engine: {err}") from None
    except ConnectionFailed:
        sock.close()
        raise
    head, _, rest = buf.partition(b"\r\n\r\n")
    status, parsed = _parse_head(head)
    return Response(sock, status, parsed, rest)


def hijack(path: str, method: str, target: str, body: bytes | None = None) -> Response:
    """A request whose answer takes over the connection (``Upgrade: tcp``). The head is read a byte at a time
    (a few hundred bytes), so that nothing of the stream behind it is taken out of the socket: the caller
    reads the stream from ``response.sock``."""
    sock = _connect(path, None)
    _send(sock, method, target, body, {"Connection": "Upgrade", "Upgrade": "tcp"})
    head = bytearray()
    try:
        while not head.endswith(b"\r\n\r\n"):
            byte = sock.recv(1)
            if not byte or len(head) > _HEAD_MAX:
                raise ConnectionFailed("the engine closed the connection without an answer")
            head += byte
    except OSError as err:
        sock.close()
        raise ConnectionFailed(f"no answer from the engine: {err}") from None
    except ConnectionFailed:
        sock.close()
        raise
    status, parsed = _parse_head(bytes(head[:-4]))
    return Response(sock, status, parsed, b"")
