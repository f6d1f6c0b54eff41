"""Detach keys watched by the engine, as by Docker's daemon (runtime/daemon/detachkeys.py): on a tty's attached input
(container attach before and after start, exec start) the sequence ends the attach and the process runs on, with
a ``detach``/``exec_detach`` event; a broken partial sequence is forwarded in full; without a tty the input is not
watched; an invalid ``detachKeys`` is refused. Raw sockets (what the engine does), then the real docker CLI on a
pty (which also matches the keys itself, so those pass either way: they guard the whole path)."""
from __future__ import annotations

import json
import os
import socket
import termios
import time

import pytest

from runtime.daemon.detachkeys import DEFAULT_KEYS, EscapeMatcher, to_bytes

from .conftest import wait_for
from .test_tty_cli import _Terminal

# a tty in raw mode without echo: what arrives on the container's stdin comes back byte for byte (cat)
_RAW_CAT = ["sh", "-c", "stty raw -echo; echo READY; exec cat"]


# ---- the matcher (no engine) ----

def test_to_bytes_follows_docker_rules():
    assert to_bytes("ctrl-p,ctrl-q") == DEFAULT_KEYS
    assert to_bytes("ctrl-@,ctrl-a,ctrl-z,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_") == bytes([0, 1, 26, 27, 28, 29, 30, 31])
    assert to_bytes("a,Z,1,DEL") == b"aZ1\x7f"
    for bad in ("ctrl-1", "CTRL-P", "ctrl-P", "ab", "a,,b", "", "é"):
        with pytest.raises(ValueError):
            to_bytes(bad)


def test_matcher_holds_partial_forwards_broken_and_stops_at_the_sequence():
    m = EscapeMatcher(b"\x18y")
    assert m.feed(b"abc") == (b"abc", False)
    assert m.feed(b"ab\x18") == (b"ab", False)  # the partial sequence is held back
    assert m.feed(b"x") == (b"\x18x", False)  # broken: forwarded in full
    assert m.feed(b"12\x18") == (b"12", False)
    assert m.feed(b"y-dropped") == (b"", True)
    assert EscapeMatcher().feed(b"ls\x10\x11after") == (b"ls", True)
    # as moby's proxy: the byte that breaks a partial match does not start a new one
    assert EscapeMatcher().feed(b"\x10\x10\x11") == (b"\x10\x10\x11", False)


# ---- raw sockets against the engine ----

def _hijack(engine, target: str, body: bytes = b"") -> tuple[socket.socket, bytes]:
    """POST ``target`` with an upgrade; the socket and the status line (the head is consumed)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)  # a deadline on every read: a hang fails the test
    sock.connect(str(engine.sock))
    sock.sendall(b"POST %s HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                 b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (target.encode(), len(body), body))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, head
        head += chunk
    return sock, head.split(b"\r\n", 1)[0]


class _Stream:
    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.seen = sock, b""

    def until(self, token: bytes) -> bytes:
        while token not in self.seen:
            chunk = self.sock.recv(65536)
            assert chunk, f"the stream ended before {token!r}: {self.seen!r}"
            self.seen += chunk
        return self.seen

    def to_end(self) -> bytes:
        while chunk := self.sock.recv(65536):
            self.seen += chunk
        return self.seen


def _raw_cat(engine, name: str):
    return engine.client().containers.create("busybox", _RAW_CAT, name=name, tty=True, stdin_open=True,
                                              network_mode="none")


def _actions(engine, since: float, cid: str) -> list[str]:
    return [e["Action"] for e in engine.client().events(since=since, until=time.time(), decode=True,
                                                         filters={"container": cid})]


def test_attach_before_start_detaches_on_default_keys_and_the_container_runs_on(engine):
    since = time.time() - 1
    box = _raw_cat(engine, "det-before")
    sock, status = _hijack(engine, f"/containers/{box.id}/attach?stream=1&stdin=1&stdout=1&stderr=1")
    assert status.startswith(b"HTTP/1.1 101"), status
    box.start()
    s = _Stream(sock)
    s.until(b"READY")
    sock.sendall(b"one\x10")  # a partial sequence: held back, until "t" breaks it
    s.until(b"one")
    sock.sendall(b"two\n\x10\x11three")  # "two" goes on, the sequence ends the attach, "three" is dropped
    s.to_end()  # the engine ended the attach (output that came after the keys need not reach this client)
    sock.close()
    box.reload()
    assert box.status == "running"
    # the held ctrl-p went on in full once "t" broke it; the keys and what followed them did not
    wait_for(lambda: b"one\x10two\n" in box.logs(), what="the input before the keys in the log")
    assert b"\x11" not in box.logs() and b"three" not in box.logs()
    assert "detach" in _actions(engine, since, box.id)
    # another attach works and the input still reaches the process (its stdin was not closed)
    sock, _ = _hijack(engine, f"/containers/{box.id}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x,y")
    s = _Stream(sock)
    sock.sendall(b"four\x10\x11")  # other keys: ctrl-p,ctrl-q are plain input now
    s.until(b"four\x10\x11")
    sock.sendall(b"\x18five\n\x18y")  # ctrl-x broken by "f": forwarded in full; then ctrl-x,y detaches
    s.to_end()
    sock.close()
    box.reload()
    assert box.status == "running"
    # the monitor kept the log all along (the json-file log takes whole lines)
    wait_for(lambda: b"four\x10\x11\x18five\n" in box.logs(), what="the broken partial in the log")
    box.remove(force=True)


def test_attach_without_tty_does_not_watch_the_input(engine):
    box = engine.client().containers.run("busybox", ["cat"], detach=True, stdin_open=True, network_mode="none")
    sock, _ = _hijack(engine, f"/containers/{box.id}/attach?stream=1&stdin=1&stdout=1")
    s = _Stream(sock)
    sock.sendall(b"a\x10\x11b\n")
    s.until(b"a\x10\x11b\n")  # a multiplexed frame around it; the keys went through as data
    sock.close()
    box.remove(force=True)


def test_invalid_detach_keys_are_refused_as_by_docker(engine):
    box = _raw_cat(engine, "det-invalid")
    sock, status = _hijack(engine, f"/containers/{box.id}/attach?stream=1&stdin=1&detachKeys=ctrl-1")
    body = sock.recv(65536)
    sock.close()
    assert status.startswith(b"HTTP/1.1 400"), status
    assert json.loads(body.split(b"\r\n\r\n")[-1] or body)["message"] == "Invalid detach keys (ctrl-1) provided"
    box.start()
    api = engine.client().api
    with pytest.raises(Exception) as err:  # Docker's exec create answers a plain error (500) here
        api.exec_create(box.id, ["true"], detach_keys="ctrl-1")
    assert err.value.response.status_code == 500
    assert "Invalid escape keys (ctrl-1) provided" in str(err.value)
    box.remove(force=True)


def test_exec_tty_detaches_and_runs_on(engine):
    since = time.time() - 1
    box = engine.client().containers.run("busybox", ["sleep", "1000"], detach=True, network_mode="none")
    api = engine.client().api
    exec_id = api.exec_create(box.id, _RAW_CAT, stdin=True, tty=True, detach_keys="ctrl-x,y")["Id"]
    assert api.exec_inspect(exec_id)["DetachKeys"] == "GHk="  # Docker's []byte: base64 of b"\x18y"
    sock, status = _hijack(engine, f"/exec/{exec_id}/start", json.dumps({"Detach": False, "Tty": True}).encode())
    assert status.startswith(b"HTTP/1.1 101"), status
    s = _Stream(sock)
    s.until(b"READY")
    sock.sendall(b"\x18x\x10\x11")  # broken partial forwarded in full; ctrl-p,ctrl-q are not the keys here
    s.until(b"\x18x\x10\x11")
    sock.sendall(b"\x18y")
    s.to_end()
    sock.close()
    info = api.exec_inspect(exec_id)
    assert info["Running"] is True and info["ExitCode"] is None, info
    assert "exec_detach" in _actions(engine, since, box.id)
    box.remove(force=True)


# ---- the real docker CLI on a pty ----

def _running(engine, name: str) -> bool:
    return engine.cli("inspect", "-f", "{{.State.Status}}", name).stdout.strip() == "running"


def test_cli_run_it_and_attach_detach(engine):
    term = _Terminal(engine, ["run", "-it", "--name", "det-cli", "--network", "none", "busybox", *_RAW_CAT])
    try:
        term.read_until(b"READY")
        os.write(term.fd, b"ab\x10")
        term.read_until(b"ab")
        os.write(term.fd, b"\x11")
    finally:
        code = term.close()
    assert code == 0, term.out
    assert _running(engine, "det-cli")
    term = _Terminal(engine, ["attach", "--detach-keys", "ctrl-x,y", "det-cli"])
    try:
        # nothing to read before the input: wait until the CLI has made the terminal raw (typed earlier, the
        # terminal's line discipline would echo it and swallow ctrl-q as XON)
        wait_for(lambda: not termios.tcgetattr(term.fd)[3] & termios.ICANON, what="the CLI's raw terminal")
        os.write(term.fd, b"\x18cd\x10\x11\n")  # a broken ctrl-x goes through in full, ctrl-p,ctrl-q too
        term.read_until(b"\x18cd\x10\x11\n")
        os.write(term.fd, b"\x18y")
    finally:
        code = term.close()
    # docker attach reports the detach as an error, with Docker's daemon too (nerdctl issue #3571 quotes it)
    assert code == 1 and term.out.endswith(b"read escape sequence\r\n"), (code, term.out)
    assert _running(engine, "det-cli")
    box = engine.client().containers.get("det-cli")
    wait_for(lambda: b"\x18cd\x10\x11\n" in box.logs(), what="the attach's input in the log")


def test_cli_exec_it_detach(engine):
    engine.cli("run", "-d", "--name", "det-exec", "--network", "none", "busybox", "sleep", "1000")
    term = _Terminal(engine, ["exec", "-it", "det-exec", "sh", "-c", "stty raw -echo; echo READY; exec cat -"])
    try:
        term.read_until(b"READY")
        os.write(term.fd, b"ef")
        term.read_until(b"ef")
        os.write(term.fd, b"\x10\x11")
    finally:
        code = term.close()
    assert code == 1 and term.out.endswith(b"read escape sequence\r\n"), (code, term.out)  # as docker attach
    assert _running(engine, "det-exec")
    top = engine.cli("top", "det-exec").stdout
    assert "cat -" in top, top  # the exec runs on after the detach
