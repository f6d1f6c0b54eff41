"""End to end: ``pycompose up/ps/down`` as a subprocess against our own engine (a daemon on a temporary socket
and data root, busybox imported as ``busybox:local``), asserting on the real containers, network and DNS."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.runtime.daemon.conftest import Daemon, cleanup, start_daemon

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
PYCOMPOSE = Path(sys.executable).with_name("pycompose")


@pytest.fixture(scope="module")
def engine(tmp_path_factory, busybox_tar):
    if os.geteuid() != 0:
        pytest.skip("needs root (containers)")
    d = start_daemon(tmp_path_factory.mktemp("e2e") / "engine")
    try:
        with open(busybox_tar, "rb") as fh:
            d.client().api.import_image_from_data(fh.read(), repository="busybox", tag="local",
                                                  changes=['CMD ["sh"]'])
        yield d
    finally:
        cleanup(d)


@dataclass
class Result:
    code: int
    out: str
    err: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def compose(engine: Daemon, project_dir: Path, *args: str, env: dict[str, str] | None = None,
            check: bool = True) -> Result:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    environ.update({"PYCOMPOSE_HOST": engine.url, "COMPOSE_PROGRESS": "plain", **(env or {})})
    proc = subprocess.run([str(PYCOMPOSE), *args], cwd=project_dir, env=environ, capture_output=True, text=True,
                          timeout=180)
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in result.err, result.err
    if check:
        assert result.code == 0, f"pycompose {' '.join(args)} -> {result.code}\n{result.out}\n{result.err}"
    return result


def _wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)  # polling a condition with a deadline


def _project_containers(engine: Daemon, project: str) -> list:
    return engine.client().containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})


def _networks(engine: Daemon, prefix: str) -> list[str]:
    return [n.name for n in engine.client().networks.list() if n.name.startswith(prefix)]


@pytest.fixture
def hello(engine, tmp_path):
    """samples/hello with a free host port, taken down (``down -v -t 0``) after the test even on failure."""
    port = _free_port()
    text = (REPO / "samples/hello/compose.yaml").read_text().replace("127.0.0.1:18080:8080", f"127.0.0.1:{port}:8080")
    text = text.replace("name: hello", f"name: hello{port}")
    (tmp_path / "compose.yaml").write_text(text)
    try:
        yield tmp_path, port, f"hello{port}"
    finally:
        compose(engine, tmp_path, "down", "-v", "-t", "0", check=False)


def test_hello_up_ps_recreate_down(engine, hello):
    project_dir, port, name = hello
    up = compose(engine, project_dir, "up", "-d")
    lines = up.err.splitlines()
    healthy = lines.index(f" Container {name}-web-1  Healthy")
    assert healthy < lines.index(f" Container {name}-client-1  Starting"), up.err  # service_healthy waited

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as reply:
        assert b"busybox" in reply.read()
    client = engine.client().containers.get(f"{name}-client-1")
    _wait_for(lambda: b"<h1>busybox</h1>" in client.logs(), what="client to fetch web by name")

    ps = compose(engine, project_dir, "ps", "--format", "json")
    rows = [json.loads(line) for line in ps.out.splitlines()]
    assert sorted((r["Service"], r["State"]) for r in rows) == [("client", "running"), ("web", "running")]
    assert compose(engine, project_dir, "ps", "--services").out.split() == ["client", "web"]

    before = {c.name: c.id for c in _project_containers(engine, name)}
    again = compose(engine, project_dir, "up", "-d")
    assert "Creating" not in again.err and "Removing" not in again.err, again.err
    assert {c.name: c.id for c in _project_containers(engine, name)} == before

    compose(engine, project_dir, "up", "-d", env={"GREETING": "changed"})
    after = {c.name: c.id for c in _project_containers(engine, name)}
    assert after[f"{name}-web-1"] == before[f"{name}-web-1"]  # unchanged: kept
    assert after[f"{name}-client-1"] != before[f"{name}-client-1"]  # config changed: recreated
    env = engine.client().containers.get(f"{name}-client-1").attrs["Config"]["Env"]
    assert "GREETING=changed" in env

    logs = compose(engine, project_dir, "logs", "--no-log-prefix", "client")
    assert "<h1>busybox</h1>" in logs.out

    compose(engine, project_dir, "down", "-t", "0")
    assert _project_containers(engine, name) == []
    assert _networks(engine, f"{name}_") == []


def test_scale_three_resolve_under_one_name(engine, tmp_path):
    name = f"scale{os.getpid()}"
    (tmp_path / "compose.yaml").write_text(f"""
name: {name}
services:
  echo:
    image: busybox:local
    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
  probe:
    image: busybox:local
    command: ["sleep", "3600"]
""")
    try:
        compose(engine, tmp_path, "up", "-d", "--scale", "echo=3")
        echoes = [c for c in _project_containers(engine, name) if c.labels["com.docker.compose.service"] == "echo"]
        assert sorted(c.name for c in echoes) == [f"{name}-echo-{n}" for n in (1, 2, 3)]
        addresses = {c.attrs["NetworkSettings"]["Networks"][f"{name}_default"]["IPAddress"] for c in echoes}
        assert len(addresses) == 3
        probe = engine.client().containers.get(f"{name}-probe-1")

        def resolved() -> set[str]:
            out = probe.exec_run(["nslookup", "echo"]).output.decode()
            return {a for a in addresses if a in out}

        assert _wait_for(lambda: resolved() == addresses, what="3 addresses for 'echo'")
        compose(engine, tmp_path, "up", "-d", "--scale", "echo=1")
        assert [c.name for c in _project_containers(engine, name)
                if c.labels["com.docker.compose.service"] == "echo"] == [f"{name}-echo-1"]
    finally:
        compose(engine, tmp_path, "down", "-t", "0", check=False)
    assert _project_containers(engine, name) == []
    assert _networks(engine, f"{name}_") == []


def test_completed_dependency_and_failed_health(engine, tmp_path):
    name = f"deps{os.getpid()}"
    (tmp_path / "compose.yaml").write_text(f"""
name: {name}
services:
  migrate:
    image: busybox:local
    command: ["sh", "-c", "echo migrated > /shared/done"]
    volumes: [shared:/shared]
  app:
    image: busybox:local
    command: ["sh", "-c", "cat /shared/done && sleep 3600"]
    volumes: [shared:/shared]
    depends_on:
      migrate: {{condition: service_completed_successfully}}
  sick:
    image: busybox:local
    command: ["sleep", "3600"]
    profiles: [sick]
    healthcheck: {{test: ["CMD", "false"], interval: 1s, retries: 1}}
  waiter:
    image: busybox:local
    command: ["sleep", "3600"]
    profiles: [sick]
    depends_on:
      sick: {{condition: service_healthy}}
volumes:
  shared: {{}}
""")
    try:
        compose(engine, tmp_path, "up", "-d")
        app = engine.client().containers.get(f"{name}-app-1")
        _wait_for(lambda: b"migrated" in app.logs(), what="app to read what migrate wrote")
        failed = compose(engine, tmp_path, "--profile", "sick", "up", "-d", check=False)
        assert failed.code == 1
        assert f"container {name}-sick-1 is unhealthy" in failed.err
        waiter = engine.client().containers.get(f"{name}-waiter-1")
        assert waiter.status == "created"  # never started
    finally:
        compose(engine, tmp_path, "--profile", "sick", "down", "-v", "-t", "0", check=False)
    assert _project_containers(engine, name) == []
    assert [v.name for v in engine.client().volumes.list() if v.name.startswith(name)] == []


def test_attached_up_streams_logs_and_sigint_stops(engine, tmp_path):
    name = f"attached{os.getpid()}"
    (tmp_path / "compose.yaml").write_text(f"""
name: {name}
services:
  talker:
    image: busybox:local
    command: ["sh", "-c", "echo ready-to-talk; exec sleep 3600"]
""")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    environ.update({"PYCOMPOSE_HOST": engine.url, "COMPOSE_PROGRESS": "plain"})
    proc = subprocess.Popen([str(PYCOMPOSE), "up", "-t", "1"], cwd=tmp_path, env=environ, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        seen = []
        for line in proc.stdout:  # blocks on the pipe until up prints the container's first line
            seen.append(line)
            if "ready-to-talk" in line:
                break
        assert any(line.startswith("talker-1  | ready-to-talk") for line in seen), seen
        proc.send_signal(2)
        assert proc.wait(timeout=60) == 130
        talker = engine.client().containers.get(f"{name}-talker-1")
        assert talker.status == "exited"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        compose(engine, tmp_path, "down", "-t", "0", check=False)
    assert _project_containers(engine, name) == []


def test_exec_run_stop_start(engine, tmp_path):
    name = f"oneoff{os.getpid()}"
    (tmp_path / "compose.yaml").write_text(f"""
name: {name}
services:
  box:
    image: busybox:local
    command: ["sleep", "3600"]
    environment: {{WHO: box}}
    stop_grace_period: 1s
""")
    try:
        compose(engine, tmp_path, "up", "-d")
        done = subprocess.run([str(PYCOMPOSE), "exec", "-T", "box", "sh", "-c", "echo in-$WHO; exit 3"],
                              cwd=tmp_path, env={**os.environ, "PYCOMPOSE_HOST": engine.url},
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout) == (3, "in-box\n"), done.stderr
        ran = subprocess.run([str(PYCOMPOSE), "run", "--rm", "-T", "-e", "EXTRA=x", "box", "sh", "-c",
                              "echo $WHO-$EXTRA; exit 5"], cwd=tmp_path,
                             env={**os.environ, "PYCOMPOSE_HOST": engine.url, "COMPOSE_PROGRESS": "quiet"},
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        assert (ran.returncode, ran.stdout) == (5, "box-x\n"), ran.stderr
        leftovers = engine.client().containers.list(
            all=True, filters={"label": [f"com.docker.compose.project={name}", "com.docker.compose.oneoff=True"]})
        assert leftovers == []  # --rm
        compose(engine, tmp_path, "stop")
        assert engine.client().containers.get(f"{name}-box-1").status == "exited"
        compose(engine, tmp_path, "start")
        assert engine.client().containers.get(f"{name}-box-1").status == "running"
        rows = [json.loads(line) for line in compose(engine, tmp_path, "ps", "--format", "json").out.splitlines()]
        assert [r["Name"] for r in rows] == [f"{name}-box-1"]
        elsewhere = tmp_path.parent / f"{tmp_path.name}-nofile"
        elsewhere.mkdir()
        compose(engine, elsewhere, "-p", name, "stop", "-t", "0", "box")  # by labels alone, no Compose file
        assert engine.client().containers.get(f"{name}-box-1").status == "exited"
        compose(engine, elsewhere, "-p", name, "start")
        assert engine.client().containers.get(f"{name}-box-1").status == "running"
        compose(engine, elsewhere, "-p", name, "down", "-t", "0")
        assert _project_containers(engine, name) == []
        assert _networks(engine, f"{name}_") == []
    finally:
        compose(engine, tmp_path, "down", "-t", "0", check=False)
    assert _project_containers(engine, name) == []


def test_secrets_and_configs_reach_the_container(engine, tmp_path):
    name = f"secrets{os.getpid()}"
    (tmp_path / "token.txt").write_text("from-a-file\n")
    (tmp_path / "compose.yaml").write_text(f"""
name: {name}
services:
  app:
    image: busybox:local
    command: ["sleep", "3600"]
    secrets: [token, api_key]
    configs:
      - source: motd
        target: /etc/motd
secrets:
  token: {{file: ./token.txt}}
  api_key: {{environment: API_KEY}}
configs:
  motd: {{content: "hello from config"}}
""")
    try:
        compose(engine, tmp_path, "up", "-d", env={"API_KEY": "s3cret-env"})
        app = engine.client().containers.get(f"{name}-app-1")
        out = app.exec_run(["cat", "/run/secrets/token", "/run/secrets/api_key", "/etc/motd"]).output.decode()
        assert out == "from-a-file\ns3cret-envhello from config"
        assert app.exec_run(["sh", "-c", "echo x > /run/secrets/token"]).exit_code != 0  # read-only bind
    finally:
        compose(engine, tmp_path, "down", "-t", "0", check=False)
    assert _project_containers(engine, name) == []


def test_abort_on_container_exit_returns_the_chosen_exit_code(engine, tmp_path):
    name = f"abort{os.getpid()}"
    (tmp_path / "compose.yaml").write_text(f"""
name: {name}
services:
  job:
    image: busybox:local
    command: ["sh", "-c", "echo working; exit 7"]
  server:
    image: busybox:local
    command: ["sleep", "3600"]
    stop_grace_period: 1s
""")
    try:
        result = compose(engine, tmp_path, "up", "--exit-code-from", "job", "-t", "1", check=False)
        assert result.code == 7, result.err
        assert "job-1     | working" in result.out  # prefixes padded to the longest
        assert "Aborting on container exit..." in result.out
        assert engine.client().containers.get(f"{name}-server-1").status == "exited"
    finally:
        compose(engine, tmp_path, "down", "-t", "0", check=False)
    assert _project_containers(engine, name) == []
