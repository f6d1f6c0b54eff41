"""``docker run -it`` / ``docker exec -it`` driven by the real docker CLI on a pseudo-terminal of a known size: the
container's pty has that size from its first instruction (busybox ``stty size`` once failed there with a stale
errno, "No child processes", when the size arrived late)."""
from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import termios
import time

import pytest

from .conftest import DOCKER_CLI


class _Terminal:
    """The docker CLI on the slave side of a fresh pty sized ``rows`` x ``cols`` before the CLI runs."""

    def __init__(self, engine, args: list[str], rows: int = 37, cols: int = 111) -> None:
        if not os.path.exists(DOCKER_CLI):
            pytest.skip("the docker CLI client is not installed (expected at /usr/local/bin/docker)")
        env = {**os.environ, "DOCKER_HOST": engine.url, "DOCKER_CONFIG": str(engine.root.parent / "docker-cli"),
               "TERM": "xterm"}
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        pid = os.fork()
        if pid == 0:  # the child: the pty is its controlling terminal, as in a real shell
            try:
                os.close(master)
                os.setsid()
                fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(slave, fd)
                os.execve(DOCKER_CLI, ["docker", *args], env)
            finally:
                os._exit(127)
        os.close(slave)
        self.pid, self.fd, self.out = pid, master, b""

    def read_until(self, token: bytes, timeout: float = 30) -> bytes:
        deadline = time.monotonic() + timeout
        while token not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{token!r} never came; the terminal shows {self.out!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # EIO: the CLI is gone
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"the CLI ended before {token!r}; the terminal shows {self.out!r}")
                self.out += chunk
        return self.out

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def close(self, timeout: float = 30) -> int:
        """The CLI's exit code once it ends by itself (within ``timeout``, else it is killed and the test fails);
        what it prints meanwhile is kept in ``out``."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    os.kill(self.pid, 9)
                    os.waitpid(self.pid, 0)
                    raise AssertionError(f"the docker CLI did not end; the terminal shows {self.out!r}")
                # drain while waiting, so the CLI never blocks on a full pty (read only what is there: a read of
                # an empty pty would block past the deadline)
                if select.select([self.fd], [], [], 0.05)[0]:
                    try:
                        self.out += os.read(self.fd, 4096)
                    except OSError:
                        pass
        finally:
            os.close(self.fd)
        return os.waitstatus_to_exitcode(status)


def _session(engine, args: list[str]) -> bytes:
    term = _Terminal(engine, args)
    try:
        term.read_until(b"# ")
        term.type("stty size; echo END$((6*7))")
        out = term.read_until(b"END42")
        term.type("exit")
    finally:
        code = term.close()
    assert code == 0, out
    return out


@pytest.mark.parametrize("init", [[], ["--init"]], ids=["sh-as-pid1", "under-init"])
def test_run_it_has_the_terminal_size_from_the_start(engine, init):
    out = _session(engine, ["run", "--rm", "-it", *init, "--network", "none", "busybox", "sh"])
    assert b"\r\n37 111\r\n" in out


def test_exec_it_has_the_terminal_size_from_the_start(engine):
    engine.cli("run", "-d", "--name", "host-of-exec", "--network", "none", "busybox", "sleep", "1000")
    out = _session(engine, ["exec", "-it", "host-of-exec", "sh"])
    assert b"\r\n37 111\r\n" in out
