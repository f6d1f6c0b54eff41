"""An exec's stdin closes when the client's input ends, as under Docker: ``echo x | docker exec -i C cat`` ends."""
from __future__ import annotations

import socket

import pytest

pytestmark = pytest.mark.root


def _read_all(sock: socket.socket, timeout: float = 20.0) -> bytes:
    sock.settimeout(timeout)  # a deadline on the read, not a sleep: a hang fails the test instead of blocking
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_exec_stdin_closes_on_client_half_close(engine):
    client = engine.client()
    container = client.containers.run("busybox:latest", ["sleep", "600"], detach=True, network_mode="none")
    try:
        api = client.api
        exec_id = api.exec_create(container.id, ["cat"], stdin=True)["Id"]
        sock = api.exec_start(exec_id, socket=True)._sock
        sock.sendall(b"hello\n")
        sock.shutdown(socket.SHUT_WR)
        raw = _read_all(sock)
        sock.close()
        assert raw == b"\x01\x00\x00\x00\x00\x00\x00\x06hello\n"
        info = api.exec_inspect(exec_id)
        assert info["Running"] is False or info["ExitCode"] == 0
    finally:
        container.remove(force=True)


def test_docker_cli_exec_with_piped_stdin(engine):
    client = engine.client()
    container = client.containers.run("busybox:latest", ["sleep", "600"], detach=True, network_mode="none")
    try:
        out = engine.cli("exec", "-i", container.id, "cat", input=b"piped\n", timeout=30)
        assert out.stdout == "piped\n"
    finally:
        container.remove(force=True)
