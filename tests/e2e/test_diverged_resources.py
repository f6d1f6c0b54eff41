"""End to end on our engine: ``up`` against networks and volumes whose configuration in the Compose file changed
(their ``com.docker.compose.config-hash`` label): a network is recreated with the project's containers on it, a
volume only with ``-y`` (kept, with Docker Compose's message, when stdin is not a terminal); an unchanged project,
external and unlabelled resources are left alone; a foreign container on a diverged network stops ``up`` before
anything is removed."""
from __future__ import annotations

import random
import subprocess

import pytest

from tests.e2e.test_up_down import PYCOMPOSE, Result, _environ, engine, project  # noqa: F401 - fixtures

pytestmark = pytest.mark.root

SLEEPER = """
services:
  app:
    image: busybox:local
    command: ["sleep", "3600"]
    init: true
    stop_grace_period: 0s
"""


def _run(project, *args: str, check: bool = True) -> Result:  # noqa: F811
    """``pycompose ARGS`` with stdin not a terminal (``/dev/null``), as under CI."""
    proc = subprocess.run([str(PYCOMPOSE), *args], cwd=project.dir, env=_environ(project.engine),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180)
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in result.err, result.err
    if check:
        assert result.code == 0, f"pycompose {' '.join(args)} -> {result.code}\n{result.out}\n{result.err}"
    return result


def _exec(container, *cmd: str) -> str:
    code, out = container.exec_run(list(cmd))
    assert code == 0, out
    return out.decode().strip()


def _subnet() -> str:
    return f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24"


def _ids(project) -> dict[str, str]:  # noqa: F811
    return {c.name: c.id for c in project.containers()}


def test_network_driver_opts_change_recreates_network_and_container(project):  # noqa: F811
    net = f"{project.name}_back"
    text = SLEEPER + ("    networks: [back]\n    volumes: [/scratch]\nnetworks:\n  back:\n    driver_opts:\n"
                      "      com.docker.network.driver.mtu: \"{mtu}\"\n")
    project.write(text.format(mtu=1450))
    _run(project, "up", "-d")
    client = project.engine.client()
    before_net, before = client.networks.get(net).id, _ids(project)
    assert _exec(project.container("app"), "cat", "/sys/class/net/eth0/mtu") == "1450"
    _exec(project.container("app"), "sh", "-c", "echo kept > /scratch/file")  # an anonymous volume

    again = _run(project, "up", "-d")  # unchanged: nothing recreated, nothing created
    assert "Recreate" not in again.err and "Creat" not in again.err, again.err
    assert client.networks.get(net).id == before_net and _ids(project) == before

    project.write(text.format(mtu=1400))
    dry = _run(project, "--dry-run", "up", "-d")
    assert f"Network {net}  Recreate" in dry.err, dry.err
    assert client.networks.get(net).id == before_net and _ids(project) == before  # dry run: nothing changed

    up = _run(project, "up", "-d")
    assert f"Network {net}  Recreated" in up.err, up.err
    network = client.networks.get(net)
    assert network.id != before_net
    assert network.attrs["Options"]["com.docker.network.driver.mtu"] == "1400"
    app = project.container("app")
    assert app.id != before[app.name] and app.status == "running"
    assert network.id == app.attrs["NetworkSettings"]["Networks"][net]["NetworkID"]
    assert _exec(app, "cat", "/sys/class/net/eth0/mtu") == "1400"
    assert _exec(app, "cat", "/scratch/file") == "kept"  # the anonymous volume carried over, as on any recreate
    assert _run(project, "up", "-d").err.count("Recreate") == 0  # converged


def test_ipam_subnet_change_moves_the_service_to_the_new_subnet(project):  # noqa: F811
    net = f"{project.name}_back"
    first, second = _subnet(), _subnet()
    while second == first:
        second = _subnet()
    text = SLEEPER + "    networks: [back]\nnetworks:\n  back:\n    ipam:\n      config: [{{subnet: {subnet}}}]\n"
    project.write(text.format(subnet=first))
    _run(project, "up", "-d")
    old = project.container("app").id
    project.write(text.format(subnet=second))
    _run(project, "up", "-d")
    app = project.container("app")
    assert app.id != old and app.status == "running"
    assert project.engine.client().networks.get(net).attrs["IPAM"]["Config"][0]["Subnet"] == second
    address = app.attrs["NetworkSettings"]["Networks"][net]["IPAddress"]
    assert address.startswith(second.rsplit(".", 1)[0] + "."), address


def test_volume_change_kept_without_yes_and_recreated_empty_with_yes(project):  # noqa: F811
    vol = f"{project.name}_data"
    text = SLEEPER + "    volumes: [data:/data]\nvolumes:\n  data:\n    labels: {{generation: \"{n}\"}}\n"
    project.write(text.format(n=1))
    _run(project, "up", "-d")
    _exec(project.container("app"), "sh", "-c", "echo precious > /data/file")
    before = _ids(project)

    project.write(text.format(n=2))
    kept = _run(project, "up", "-d")  # stdin is /dev/null: not asked, the volume kept
    assert f'Volume "{vol}" exists but doesn\'t match configuration in compose file' in kept.err, kept.err
    assert "-y" in kept.err
    client = project.engine.client()
    assert client.volumes.get(vol).attrs["Labels"]["generation"] == "1"
    assert _ids(project) == before
    assert _exec(project.container("app"), "cat", "/data/file") == "precious"

    yes = _run(project, "up", "-d", "-y")
    assert f"Volume {vol}  Recreated" in yes.err, yes.err
    assert client.volumes.get(vol).attrs["Labels"]["generation"] == "2"
    app = project.container("app")
    assert app.id != before[app.name] and app.status == "running"
    assert _exec(app, "ls", "-A", "/data") == ""  # a new, empty volume
    quiet = _run(project, "up", "-d")
    assert "doesn't match" not in quiet.err and "Recreate" not in quiet.err, quiet.err


def test_external_and_unlabelled_resources_are_left_alone(project):  # noqa: F811
    client = project.engine.client()
    outside = client.networks.create(f"pcx{project.name}", labels={
        "com.docker.compose.project": project.name, "com.docker.compose.config-hash": "0" * 64,
        "io.pycompose.config-hash.scheme": "1"})  # would diverge, were it not external
    hand = client.networks.create(f"{project.name}_hand")  # made by hand under the project's name: no label
    try:
        project.write(SLEEPER + f"""    networks: [outside, hand]
networks:
  outside: {{external: true, name: pcx{project.name}}}
  hand:
    driver_opts: {{com.docker.network.driver.mtu: "1400"}}
""")
        _run(project, "up", "-d")
        before = _ids(project)
        again = _run(project, "up", "-d")
        assert "Recreate" not in again.err, again.err
        assert client.networks.get(outside.id).id == outside.id and client.networks.get(hand.id).id == hand.id
        assert _ids(project) == before
        _run(project, "down", "-t", "0")
    finally:
        outside.remove()
        try:
            hand.remove()
        except Exception:  # ``down`` removed it already: it carries the project's name
            pass


def test_foreign_container_on_diverged_network_stops_up_before_any_change(project):  # noqa: F811
    net = f"{project.name}_back"
    text = SLEEPER + "    networks: [back]\nnetworks:\n  back:\n    labels: {{generation: \"{n}\"}}\n"
    project.write(text.format(n=1))
    _run(project, "up", "-d")
    client = project.engine.client()
    stranger = client.containers.run("busybox:local", ["sleep", "3600"], detach=True, network=net,
                                     name=f"pcs{project.name}", init=True)
    try:
        before_net, before = client.networks.get(net).id, _ids(project)
        project.write(text.format(n=2))
        failed = _run(project, "up", "-d", check=False)
        assert failed.code == 1, failed
        assert f"network {net} must be recreated" in failed.err and stranger.name in failed.err, failed.err
        assert "compose.yaml:" in failed.err and ": networks.back: " in failed.err, failed.err  # file:line:col
        assert client.networks.get(net).id == before_net and _ids(project) == before
        assert project.container("app").status == "running"
    finally:
        stranger.remove(force=True)


def _answer(project, answer: str, *args: str) -> Result:  # noqa: F811
    """``pycompose ARGS`` with stdin a terminal (a pty): waits for the volume question on stdout, types
    ``answer``, and collects the rest."""
    import os
    import select
    import time

    master, slave = os.openpty()
    proc = subprocess.Popen([str(PYCOMPOSE), *args], cwd=project.dir, env=_environ(project.engine), stdin=slave,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + 120
        while b"Recreate (data will be lost)? (y/N)" not in seen:
            left = deadline - time.monotonic()
            assert left > 0 and proc.poll() is None, f"no question asked: {seen!r}"
            if select.select([proc.stdout], [], [], left)[0]:
                chunk = os.read(proc.stdout.fileno(), 4096)
                assert chunk, f"stdout closed before the question: {seen!r}"
                seen += chunk
        os.write(master, answer.encode() + b"\n")
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    result = Result(proc.returncode, (seen + out).decode(), err.decode())
    assert "Traceback" not in result.err and result.code == 0, result
    return result


def test_volume_question_on_a_terminal(project):  # noqa: F811
    vol = f"{project.name}_data"
    text = SLEEPER + "    volumes: [data:/data]\nvolumes:\n  data:\n    driver_opts: {{type: tmpfs, device: tmpfs, o: \"size={n}m\"}}\n"
    project.write(text.format(n=8))
    _run(project, "up", "-d")
    _exec(project.container("app"), "sh", "-c", "echo precious > /data/file")
    before = _ids(project)
    project.write(text.format(n=16))

    no = _answer(project, "n", "up", "-d")
    assert f'? Volume "{vol}" exists but doesn\'t match configuration in compose file.' in no.out, no
    assert "WARN" not in no.err and _ids(project) == before  # answered: kept without a warning
    assert _exec(project.container("app"), "cat", "/data/file") == "precious"

    _answer(project, "y", "up", "-d")
    client = project.engine.client()
    assert client.volumes.get(vol).attrs["Options"]["o"] == "size=16m"
    app = project.container("app")
    assert app.id != before[app.name] and _exec(app, "ls", "-A", "/data") == ""
