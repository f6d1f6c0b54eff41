"""Attaching the terminal to a running container (``POST /containers/{id}/attach``, hijacked): stdin in, output
out (demultiplexed unless a TTY), the detach key sequence (``ctrl-p,ctrl-q`` by default) watched on our side,
and, with ``sig_proxy``, the signals we receive sent on to the container."""
from __future__ import annotations

import os
import select
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any

from compose.engine.errors import translated
from compose.engine.terminal import raw_mode, write_output
from compose.errors import UserError

if TYPE_CHECKING:
    import docker

__all__ = ["DEFAULT_DETACH_KEYS", "parse_detach_keys", "DetachMatcher", "attach_session", "PROXIED_SIGNALS"]

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
PROXIED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
_CTRL_SPECIAL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(spec: str) -> bytes:
    """Docker's detach key syntax: comma-separated ``a``-``z`` letters or ``ctrl-<a-z|@|[|\\|]|^|_>``."""
    out = bytearray()
    for raw in spec.split(","):
        key = raw.strip()
        if key.startswith("ctrl-") and len(key) == 6:
            ch = key[5].lower()
            if "a" <= ch <= "z":
                out.append(ord(ch) - ord("a") + 1)
                continue
            if ch in _CTRL_SPECIAL:
                out.append(_CTRL_SPECIAL[ch])
                continue
        elif len(key) == 1 and key.isprintable():
            out.append(ord(key))
            continue
        raise UserError.single(f"--detach-keys {spec}: invalid key {key!r} (expected a letter or "
                               "ctrl-<a-z, @, [, \\, ], ^ or _>, comma-separated)")
    return bytes(out)


class DetachMatcher:
    """Feeds stdin through, holding back a partial detach sequence; ``feed`` returns (bytes to send, detached)."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        if not self.keys:
            return data, False
        out = bytearray()
        for byte in data:
            candidate = self._held + bytes([byte])
            if self.keys.startswith(candidate):
                if candidate == self.keys:
                    self._held = b""
                    return bytes(out), True
                self._held = candidate
            else:
                out += candidate
                self._held = b""
        return bytes(out), False


def attach_session(client: "docker.APIClient", container: str, *, stdin: bool, tty: bool, detach_keys: bytes,
                   sig_proxy: bool) -> bool:
    """Run the attached session until the container's output ends (True) or the user detaches (False)."""
    params: dict[str, Any] = {"stdin": 1 if stdin else 0, "stdout": 1, "stderr": 1, "stream": 1}
    if detach_keys:  # the engine watches a tty's input too (as Docker's daemon): the same keys, as the CLI sends them
        params["detachKeys"] = ",".join("ctrl-" + "@abcdefghijklmnopqrstuvwxyz[\\]^_"[b] if b < 32 else chr(b)
                                        for b in detach_keys)
    with translated(f"attach to {container}"):
        sock = client.attach_socket(container, params=params)
    raw: socket.socket = getattr(sock, "_sock", sock)
    in_fd = sys.stdin.fileno() if stdin else None
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    pending: list[int] = []
    previous: dict[int, Any] = {}

    def forward(signum: int, frame: object) -> None:
        pending.append(signum)
        try:
            os.write(wake_w, b"s")
        except OSError:
            pass

    if sig_proxy and not tty:
        for sig in PROXIED_SIGNALS:
            previous[sig] = signal.signal(sig, forward)
    restore = None
    if tty and in_fd is not None and os.isatty(in_fd):
        restore = raw_mode(in_fd)
        _resize(client, container, in_fd)
    matcher = DetachMatcher(detach_keys if stdin else b"")
    buf = b""
    try:
        watching: list[Any] = [raw, wake_r] + ([in_fd] if in_fd is not None else [])
        while True:
            ready, _, _ = select.select(watching, [], [])
            if wake_r in ready:
                os.read(wake_r, 512)
                while pending:
                    name = signal.Signals(pending.pop(0)).name
                    with translated(f"send {name} to {container}"):
                        client.kill(container, signal=name)
            if in_fd is not None and in_fd in ready:
                data = os.read(in_fd, 65536)
                if not data:
                    watching.remove(in_fd)
                    try:
                        raw.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                else:
                    data, detached = matcher.feed(data)
                    if data:
                        raw.sendall(data)
                    if detached:
                        return False
            if raw in ready:
                data = raw.recv(65536)
                if not data:
                    return True
                buf = write_output(data, buf, tty=tty)
    finally:
        if restore is not None:
            restore()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for fd in (wake_r, wake_w):
            os.close(fd)
        try:
            raw.close()
        except OSError:
            pass


def _resize(client: "docker.APIClient", container: str, fd: int) -> None:
    try:
        size = os.get_terminal_size(fd)
        client.resize(container, height=size.lines, width=size.columns)
    except Exception:  # noqa: BLE001 - the size is a nicety; the session works without it
        pass
