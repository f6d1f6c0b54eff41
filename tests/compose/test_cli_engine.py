"""``pycompose engine`` runs the engine in the foreground; ``engine status`` and ``engine stop`` find it by socket."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

PYCOMPOSE = [sys.executable, "-m", "compose.cli.main"]


def _wait_for_socket(path: Path, proc: subprocess.Popen, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        assert proc.poll() is None, "the engine exited early"
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(path))
                return
        except OSError:
            time.sleep(0.05)  # polling a condition with a deadline, not synchronising on time
    raise AssertionError("the engine never listened")


@pytest.mark.root
def test_engine_foreground_status_and_stop(tmp_path):
    sock = tmp_path / "engine.sock"
    host = f"unix://{sock}"
    proc = subprocess.Popen([*PYCOMPOSE, "engine", "--host", host, "--data-root", str(tmp_path / "root")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_for_socket(sock, proc)
        status = subprocess.run([*PYCOMPOSE, "engine", "--host", host, "status"], capture_output=True, text=True)
        assert status.returncode == 0
        assert f"pid {proc.pid}" in status.stdout  # exec'd in place: the engine is the process we started

        import docker

        client = docker.APIClient(base_url=host)
        assert client.ping() is True
        client.close()

        stop = subprocess.run([*PYCOMPOSE, "engine", "--host", host, "stop"], capture_output=True, text=True)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert proc.wait(timeout=30) == 0
        after = subprocess.run([*PYCOMPOSE, "engine", "--host", host, "status"], capture_output=True, text=True)
        assert after.returncode == 1 and "no engine" in after.stdout
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def test_stop_without_engine_is_not_an_error(tmp_path):
    host = f"unix://{tmp_path / 'absent.sock'}"
    out = subprocess.run([*PYCOMPOSE, "engine", "--host", host, "stop"], capture_output=True, text=True)
    assert out.returncode == 0 and "no engine is listening" in out.stdout


def test_non_unix_host_is_a_user_error(tmp_path):
    out = subprocess.run([*PYCOMPOSE, "engine", "--host", "tcp://127.0.0.1:2375", "status"],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "not a unix socket" in out.stderr and "Traceback" not in out.stderr
