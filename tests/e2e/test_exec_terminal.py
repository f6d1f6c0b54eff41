"""``exec`` with a terminal: the local terminal goes raw for the session and what was typed before it did is
kept (``setraw`` with ``TCSANOW``, as attach does), then restored."""
from __future__ import annotations

import os
import select
import subprocess
import termios
import time

import pytest

from tests.e2e.test_up_down import PYCOMPOSE, _environ, engine, project  # noqa: F401

pytestmark = pytest.mark.root


def test_exec_keeps_what_was_typed_ahead(engine, project):  # noqa: F811
    import pty

    project.write("""
services:
  box:
    image: busybox:local
    command: ["sleep", "3600"]
""")
    project.compose("up", "-d")
    master, slave = pty.openpty()
    cooked = termios.tcgetattr(slave)
    # typed at once, before pycompose has even started: a flush when the terminal goes raw would lose it
    os.write(master, b"echo typed-$((40+2)); exit 7\r")
    proc = subprocess.Popen([str(PYCOMPOSE), "exec", "box", "sh"], cwd=project.dir, env=_environ(engine),
                            stdin=slave, stdout=slave, stderr=subprocess.PIPE, start_new_session=True)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"typed-42" not in seen:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no typed-42 in {seen!r}"
            seen += os.read(master, 4096)
        assert proc.wait(timeout=30) == 7
        assert termios.tcgetattr(slave)[3] == cooked[3]  # the local modes are back as they were
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        os.close(slave)
        os.close(master)
