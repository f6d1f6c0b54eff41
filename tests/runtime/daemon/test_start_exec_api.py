"""Through the Engine API: a start is answered when only the container's execve is left (as Docker's, through
runc). A missing command still fails the start (127, container stays created); an execve that fails after the
answer is the container's exit: ``wait`` gives its code and error, inspect its State, and a ``die`` event goes
out."""
from __future__ import annotations

import os
import time

import docker.errors
import pytest

pytestmark = pytest.mark.root


def test_execve_failure_after_the_start_is_an_exit_with_its_error(engine, tmp_path):
    client = engine.client()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "prog").write_bytes(b"\x00\x01 neither a program nor a #! script\n")
    os.chmod(bad / "prog", 0o755)
    since = int(time.time()) - 1
    box = client.containers.create("busybox", ["/bad/prog"], network_mode="none",
                                   volumes={str(bad): {"bind": "/bad", "mode": "ro"}})
    box.start()  # every check passed: answered, as Docker's start
    result = box.wait(timeout=30)
    assert result == {"StatusCode": 126, "Error": {"Message": 'exec: "/bad/prog": exec format error'}}
    # asked again once it has exited (the first wait may also come after the exit): the same answer, as Docker's
    assert box.wait(timeout=30) == result
    box.reload()
    state = box.attrs["State"]
    assert (state["Status"], state["ExitCode"], state["Error"], state["Pid"]) == (
        "exited", 126, 'exec: "/bad/prog": exec format error', 0)
    events = client.api.events(since=since, until=int(time.time()) + 1, decode=True,
                               filters={"container": box.id, "event": "die"})
    assert [e["Actor"]["Attributes"]["exitCode"] for e in events] == ["126"]
    box.remove()


def test_missing_command_still_fails_the_start(engine):
    client = engine.client()
    box = client.containers.create("busybox", ["nosuchcmd"], network_mode="none")
    with pytest.raises(docker.errors.APIError, match="executable file not found"):
        box.start()
    box.reload()
    assert (box.attrs["State"]["Status"], box.attrs["State"]["ExitCode"]) == ("created", 127)
    box.remove()
