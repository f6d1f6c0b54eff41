"""docker-py (compose's client) against our engine: run, logs, wait, attach, list filters, volumes in use."""
from __future__ import annotations

import time

import docker
import pytest

pytestmark = pytest.mark.root


def test_run_wait_logs_and_filters(engine):
    client = engine.client()
    labels = {"com.docker.compose.project": "p1", "com.docker.compose.service": "db"}
    done = client.containers.run("busybox", ["sh", "-c", "echo to-out; echo to-err >&2; exit 4"], detach=True,
                                 name="p1-db-1", labels=labels)
    assert done.wait()["StatusCode"] == 4
    assert done.logs(stdout=True, stderr=False) == b"to-out\n"
    assert done.logs(stdout=False, stderr=True) == b"to-err\n"
    stamped = done.logs(timestamps=True).decode().splitlines()
    assert all(line.split(" ", 1)[0].endswith("Z") for line in stamped)
    up = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="p1-web-1",
                               labels={"com.docker.compose.project": "p1", "com.docker.compose.service": "web"})
    other = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="p2-web-1",
                                  labels={"com.docker.compose.project": "p2"})
    by = lambda **f: sorted(c.name for c in client.containers.list(all=True, filters=f))  # noqa: E731
    assert by(label="com.docker.compose.project=p1") == ["p1-db-1", "p1-web-1"]
    assert by(label=["com.docker.compose.project=p1", "com.docker.compose.service=web"]) == ["p1-web-1"]
    assert by(name="web") == ["p1-web-1", "p2-web-1"]
    assert by(status="exited") == ["p1-db-1"]
    assert by(status="running", label="com.docker.compose.project") == ["p1-web-1", "p2-web-1"]
    assert sorted(c.name for c in client.containers.list()) == ["p1-web-1", "p2-web-1"]
    assert by(exited="4") == ["p1-db-1"]
    assert by(id=up.id[:10]) == ["p1-web-1"]
    up.kill(signal="SIGKILL")
    assert up.wait()["StatusCode"] == 137
    other.rename("renamed")
    assert client.containers.get("renamed").id == other.id
    client.containers.create("busybox", ["true"], name="p2-web-1").remove()  # the old name is free again
    other.pause()
    assert client.containers.get("renamed").status == "paused"
    other.unpause()
    top = other.top()
    assert any("sleep" in row[-1] for row in top["Processes"])
    other.restart(timeout=0)
    assert client.containers.get("renamed").status == "running"
    stats = other.stats(stream=False)
    assert stats["name"] == "/renamed" and "memory_stats" in stats
    pruned = client.containers.prune()
    assert set(pruned["ContainersDeleted"]) == {done.id, up.id}


def test_attach_before_start_with_stdin(engine):
    client = engine.client()
    api = client.api
    cid = api.create_container("busybox", ["sh", "-c", "read a; echo got $a; echo bye >&2"], stdin_open=True)["Id"]
    sock = api.attach_socket(cid, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
    api.start(cid)
    raw = sock._sock
    raw.sendall(b"hello\n")
    data = b""
    while True:
        chunk = raw.recv(4096)
        if not chunk:
            break
        data += chunk
    frames = []
    while data:
        stream, size = data[0], int.from_bytes(data[4:8], "big")
        frames.append((stream, data[8:8 + size]))
        data = data[8 + size:]
    assert (1, b"got hello\n") in frames and (2, b"bye\n") in frames
    assert api.wait(cid)["StatusCode"] == 0


def test_named_volume_persists_is_refused_while_used_and_copied_up(engine):
    client = engine.client()
    client.containers.run("busybox", ["sh", "-c", "echo kept > /data/file"], volumes={"vol1": {"bind": "/data"}},
                          remove=True)
    assert client.containers.run("busybox", ["cat", "/data/file"], volumes={"vol1": {"bind": "/data"}},
                                 remove=True) == b"kept\n"
    holder = client.containers.create("busybox", ["true"], volumes={"vol1": {"bind": "/data"}})
    with pytest.raises(docker.errors.APIError) as err:
        client.volumes.get("vol1").remove()
    assert err.value.status_code == 409
    holder.remove()
    client.volumes.get("vol1").remove()
    # a new empty volume is first filled from the image's content at its mount path
    out = client.containers.run("busybox", ["cat", "/var/www/index.html"], volumes={"www": {"bind": "/var/www"}},
                                remove=True)
    assert out == b"<h1>busybox</h1>\n"
    assert (engine.root / "volumes/www/_data/index.html").exists()
    # anonymous volumes (Config.Volumes / image VOLUME) are created, and removed with the container by --rm
    anon = client.containers.create("busybox", ["true"], volumes=["/scratch"])
    mounts = anon.attrs["Mounts"]
    assert len(mounts) == 1 and mounts[0]["Destination"] == "/scratch" and len(mounts[0]["Name"]) == 64
    anon.remove(v=True)
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get(mounts[0]["Name"])


def test_auto_remove_and_wait_removed(engine):
    client = engine.client()
    box = client.containers.run("busybox", ["sh", "-c", "exit 0"], detach=True, auto_remove=True)
    result = client.api.wait(box.id, condition="removed")
    assert result["StatusCode"] == 0
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(box.id)


def test_bad_create_requests(engine):
    client = engine.client()
    with pytest.raises(docker.errors.ImageNotFound):
        client.containers.create("no-such-image:1", ["true"])
    with pytest.raises(docker.errors.APIError) as err:
        client.containers.create("busybox", ["true"], name="bad name!")
    assert err.value.status_code == 400
    with pytest.raises(docker.errors.APIError) as err:
        client.api.create_container("busybox", ["true"], host_config=client.api.create_host_config(
            binds=["relative:path:ro:x"]))
    assert err.value.status_code == 400
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("nope")
    assert client.ping()


def test_force_remove_of_an_auto_remove_container_reports_one_destroy(engine):
    client = engine.client()
    since = time.time()
    box = client.containers.run("busybox", ["sleep", "1000"], detach=True, auto_remove=True, name="rmrm")
    box.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("rmrm")
    actions = [e["Action"] for e in client.events(since=since, until=time.time() + 0.3, decode=True,
                                                   filters={"container": "rmrm"})]
    assert actions.count("destroy") == 1 and actions.count("die") == 1


def test_unsupported_host_settings_come_back_as_warnings(engine):
    api = engine.client().api
    hc = api.create_host_config(cpu_rt_runtime=1000, cpu_rt_period=100000)
    resp = api.create_container("busybox", ["true"], host_config=hc)
    assert sorted(resp["Warnings"]) == [
        "HostConfig.CPURealtimePeriod is not supported by this engine and was ignored",
        "HostConfig.CPURealtimeRuntime is not supported by this engine and was ignored"]
    devices = api.create_host_config(devices=["/dev/null:/dev/mynull:rwm"], blkio_weight=300)  # supported now
    assert not api.create_container("busybox", ["true"], host_config=devices)["Warnings"]
    plain = api.create_container("busybox", ["true"], host_config=api.create_host_config(mem_limit="64m"))
    assert not plain["Warnings"]


def test_volumes_from(engine):
    client = engine.client()
    client.containers.run("busybox", ["sh", "-c", "echo shared > /data/f"], name="source",
                          volumes={"sharedvol": {"bind": "/data"}}, network_mode="none")
    out = client.containers.run("busybox", ["sh", "-c", "cat /data/f; touch /data/x 2>&1 || echo ro"],
                                volumes_from=["source:ro"], network_mode="none", remove=True)
    assert out.startswith(b"shared\n") and out.endswith(b"ro\n")
    with pytest.raises(docker.errors.NotFound):
        client.containers.create("busybox", ["true"], volumes_from=["nobody"])


def test_exec_socket_sees_immediate_output_and_failures(engine):
    """docker-py reads the 101 head through a buffer: output must not arrive before the head is consumed."""
    client = engine.client()
    api = client.api
    box = client.containers.run("busybox", ["sleep", "1000"], detach=True, network_mode="none")
    for _ in range(5):
        exec_id = api.exec_create(box.id, ["sh", "-c", "echo in-box; exit 3"])["Id"]
        sock = api.exec_start(exec_id, socket=True)
        raw = sock._sock
        data = b""
        while chunk := raw.recv(65536):
            data += chunk
        raw.close()
        assert data == b"\x01\x00\x00\x00\x00\x00\x00\x07in-box\n"
        assert api.exec_inspect(exec_id)["ExitCode"] == 3
    missing = api.exec_create(box.id, ["/no/such/binary"])["Id"]
    out = api.exec_start(missing)
    assert b"no/such/binary" in out
    assert api.exec_inspect(missing)["ExitCode"] in (126, 127)


def _read_late(sock_path, target: str, body: bytes = b"") -> tuple[bytes, bytes]:
    """A hijacking request from a client that reads late (descheduled on a busy machine): it lets the engine send
    what it would behind the head (up to a second) before its first read. Returns (first read, the rest)."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(sock_path))
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (target.encode(), len(body), body))
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # polling, with a deadline, for what must not happen before we read
            seen = sock.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT) if _readable(sock) else b""
            if b"\r\n\r\n" in seen and not seen.endswith(b"\r\n\r\n"):
                break  # something came behind the head
            time.sleep(0.01)
        first = sock.recv(65536)  # what a buffered reader of the head (docker-py's) takes in its first read
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
    return first, rest


def _readable(sock) -> bool:
    import select

    return bool(select.select([sock], [], [], 0)[0])


def test_exec_output_waits_until_a_slow_client_has_read_the_head(engine):
    """docker-py reads the head through a buffered file and the stream from the raw socket, so output that came
    in the same read as the head was lost: exec_run gave exit 0 and no output (~1 in 15 runs of test_net_connect
    with one CPU hog). The exec starts once the head has been read."""
    import json

    api = engine.client().api
    box = engine.client().containers.run("busybox", ["sleep", "1000"], detach=True, network_mode="none")
    exec_id = api.exec_create(box.id, ["echo", "in-box"])["Id"]
    first, rest = _read_late(engine.sock, f"/exec/{exec_id}/start", json.dumps({"Detach": False}).encode())
    assert first.startswith(b"HTTP/1.1 101 ") and first.endswith(b"\r\n\r\n"), first
    assert rest == b"\x01\x00\x00\x00\x00\x00\x00\x07in-box\n"
    assert api.exec_inspect(exec_id)["ExitCode"] == 0
    box.remove(force=True)


def test_attach_replay_waits_until_a_slow_client_has_read_the_head(engine):
    """The same for an attach replaying the log (docker-py's attach(logs=True))."""
    box = engine.client().containers.run("busybox", ["echo", "logged"], detach=True, network_mode="none")
    assert box.wait(timeout=30)["StatusCode"] == 0
    first, rest = _read_late(engine.sock, f"/containers/{box.id}/attach?logs=1&stdout=1&stderr=1")
    assert first.startswith(b"HTTP/1.1 101 ") and first.endswith(b"\r\n\r\n"), first
    assert rest == b"\x01\x00\x00\x00\x00\x00\x00\x07logged\n"
    box.remove()
