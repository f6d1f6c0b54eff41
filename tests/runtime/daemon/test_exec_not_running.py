"""Exec into a container that is not running answers Docker's 409 ``container <id> is not running``, at exec create
and at exec start, also when the container dies between the two or during the launch; a failed start leaves no
exec files or ExecIDs entry behind."""
from __future__ import annotations

import threading

import docker
import pytest

from tests.runtime.daemon.conftest import wait_for

pytestmark = pytest.mark.root


def _not_running(err: docker.errors.APIError, cid: str) -> bool:
    return err.status_code == 409 and err.explanation == f"container {cid} is not running"


def test_exec_create_on_stopped_container_is_409(engine):
    client = engine.client()
    c = client.containers.run("busybox:latest", ["true"], detach=True, network_mode="none")
    try:
        assert c.wait(timeout=30)["StatusCode"] == 0
        with pytest.raises(docker.errors.APIError) as info:
            client.api.exec_create(c.id, ["echo", "hi"])
        assert _not_running(info.value, c.id), info.value
        out = engine.cli("exec", c.id, "echo", "hi", check=False)
        assert out.returncode == 1
        assert f"container {c.id} is not running" in out.stderr
    finally:
        c.remove(force=True)


@pytest.mark.parametrize("detach", [True, False])
def test_exec_start_after_the_container_exited_is_409(engine, detach):
    client = engine.client()
    c = client.containers.run("busybox:latest", ["sleep", "600"], detach=True, network_mode="none")
    try:
        exec_id = client.api.exec_create(c.id, ["echo", "hi"])["Id"]
        c.kill()
        c.wait(timeout=30)
        with pytest.raises(docker.errors.APIError) as info:
            client.api.exec_start(exec_id, detach=detach)
        assert _not_running(info.value, c.id), info.value
        assert client.api.exec_inspect(exec_id)["Running"] is False
    finally:
        c.remove(force=True)


def test_exec_racing_the_container_exit(engine):
    """The container is killed at the moment the exec starts: every outcome is a started exec (its output, or
    killed with the container) or Docker's 409 - never a 400/500 or a launch error - and nothing is left behind."""
    client = engine.client()
    api = client.api
    allowed_stream = {b"hi\n", b""}
    for round_ in range(12):
        c = client.containers.run("busybox:latest", ["sleep", "600"], detach=True, network_mode="none")
        try:
            exec_id = api.exec_create(c.id, ["echo", "hi"])["Id"]
            gate = threading.Barrier(2)

            def kill(gate=gate, c=c):
                gate.wait(timeout=10)
                c.kill()

            killer = threading.Thread(target=kill)
            killer.start()
            gate.wait(timeout=10)
            detach = round_ % 2 == 0
            try:
                out = api.exec_start(exec_id, detach=detach)
            except docker.errors.APIError as err:
                assert _not_running(err, c.id), err
                started = False
            else:
                # attached: the 101 went out before the launch; a container that died meanwhile is told in the
                # stream, with Docker's text (an exec that started and was killed with it shows nothing)
                text = out if isinstance(out, bytes) else b""
                assert text in allowed_stream or text == f"exec failed: container {c.id} is not running\r\n".encode(), \
                    text
                started = not text.startswith(b"exec failed")
            killer.join(timeout=10)
            c.wait(timeout=30)
            info = wait_for(lambda: (i := api.exec_inspect(exec_id)) and not i["Running"] and i, what="exec end")
            ids = api.inspect_container(c.id)["ExecIDs"] or []
            files = sorted(p.name for p in (engine.root / "containers" / c.id / "execs").glob("*")) \
                if (engine.root / "containers" / c.id / "execs").exists() else []
            if started:
                assert info["ExitCode"] in (0, 137), info
            else:
                assert info["ExitCode"] in (None, 126), info
                if info["ExitCode"] == 126:  # the launch was tried and failed: no trace of it
                    assert exec_id not in ids
                    assert files == [], files
            assert not [f for f in files if f.endswith(".sock")], f"exec sockets left behind: {files}"
        finally:
            c.remove(force=True)


def test_exec_start_in_a_paused_container_is_409(engine):
    client = engine.client()
    c = client.containers.run("busybox:latest", ["sleep", "600"], detach=True, network_mode="none")
    try:
        exec_id = client.api.exec_create(c.id, ["echo", "hi"])["Id"]
        c.pause()
        with pytest.raises(docker.errors.APIError) as info:
            client.api.exec_start(exec_id, detach=True)
        assert info.value.status_code == 409 and "is paused" in info.value.explanation
        c.unpause()
        assert client.api.exec_start(exec_id) == b"hi\n"  # the refused start left the exec startable
    finally:
        c.remove(force=True)
