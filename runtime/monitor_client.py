"""The engine's side of a monitor's socket (protocol in ``runtime.monitor``): connect, wait, attach, resize."""
from __future__ import annotations

import json
import os
import socket
from typing import Any

from runtime.errors import InvalidState

__all__ = ["connect", "read_line", "read_reply", "wait_exit", "attach", "resize", "answers", "settled"]


def connect(path: str | os.PathLike[str], timeout: float | None = None) -> socket.socket:
    """Connect to a unix socket whose path may be longer than sun_path allows (through /proc/self/fd)."""
    path = os.fspath(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if len(path.encode()) < 100:
            sock.connect(path)
            return sock
        dfd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            sock.connect(f"/proc/self/fd/{dfd}/{os.path.basename(path)}")
        finally:
            os.close(dfd)
    except OSError:
        sock.close()
        raise
    return sock


def read_line(sock: socket.socket, limit: int = 1 << 20) -> tuple[bytes, bytes]:
    """Read one ``\\n``-terminated line; return (line, bytes already read past it)."""
    buf = b""
    while b"\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed before a full line")
        buf += chunk
        if len(buf) > limit:
            raise ValueError("line too long")
    line, _, rest = buf.partition(b"\n")
    return line, rest


def read_reply(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Read exactly one ``\\n``-terminated line and nothing past it (the stream that follows stays unread)."""
    buf = b""
    while True:
        peek = sock.recv(65536, socket.MSG_PEEK)
        if not peek:
            raise EOFError("connection closed before a full line")
        cut = peek.find(b"\n")
        take = len(peek) if cut < 0 else cut + 1
        buf += sock.recv(take)
        if cut >= 0:
            return buf[:-1]
        if len(buf) > limit:
            raise ValueError("line too long")


def answers(path: str | os.PathLike[str]) -> bool:
    """Does a monitor listen at ``path``?"""
    try:
        connect(path, 5).close()
        return True
    except OSError:
        return False


def settled(path: str | os.PathLike[str], timeout: float = 10) -> None:
    """Return once the monitor at ``path`` serves its socket, or is gone. A start is answered when only its
    process's execve is left; the monitor serves its socket only after that exec: past this, the container runs its
    own program (for ``top``, ``exec``, signals). Any answer will do (an unknown op gets one)."""
    try:
        sock = connect(path, timeout)
    except OSError:
        return
    try:
        sock.sendall(b'{"op":"settled"}\n')
        read_line(sock)
    except (EOFError, OSError, ValueError):
        pass
    finally:
        sock.close()


def wait_exit(path: str | os.PathLike[str], timeout: float | None) -> dict[str, Any] | None:
    """Block until the monitor at ``path`` reports the exit; ``None`` if it is gone (read the exit record).
    ``TimeoutError`` after ``timeout`` seconds."""
    try:
        sock = connect(path, timeout)
    except OSError:
        return None
    try:
        sock.sendall(b'{"op":"wait"}\n')
        line, _ = read_line(sock)
        return json.loads(line)
    except (socket.timeout, TimeoutError):
        raise TimeoutError(f"no exit within {timeout}s") from None
    except (EOFError, OSError, ValueError):
        return None
    finally:
        sock.close()


def attach(path: str | os.PathLike[str], *, stdin: bool, stdout: bool, stderr: bool) -> socket.socket:
    """An attached stream: output from now on (raw for a tty, else Docker's frames); input goes to stdin."""
    sock = connect(path, 10)
    try:
        sock.sendall(json.dumps({"op": "attach", "stdin": stdin, "stdout": stdout, "stderr": stderr}).encode()
                     + b"\n")
        reply = json.loads(read_reply(sock))
    except BaseException:
        sock.close()
        raise
    if not reply.get("ok"):
        sock.close()
        raise InvalidState(f"attach refused: {reply.get('error')}")
    sock.settimeout(None)
    return sock


def resize(path: str | os.PathLike[str], height: int, width: int) -> None:
    sock = connect(path, 10)
    try:
        sock.sendall(json.dumps({"op": "resize", "height": height, "width": width}).encode() + b"\n")
        read_reply(sock)
    finally:
        sock.close()
