"""End to end: ``pycompose up/ps/down`` as a subprocess against our own engine (a daemon on a temporary socket
and data root, busybox imported as ``busybox:local``), asserting on the real containers, network and DNS."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.runtime.daemon.conftest import Daemon, cleanup, start_daemon
from tests.support.polling import wait_for as _wait_for

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
PYCOMPOSE = Path(sys.executable).with_name("pycompose")


@contextmanager
def busybox_engine(directory: Path, busybox_tar: Path) -> Iterator[Daemon]:
    """A test engine in ``directory`` with busybox imported as ``busybox:local``; stopped and cleaned up after."""
    d = start_daemon(directory)
    try:
        with open(busybox_tar, "rb") as fh:
            d.client().api.import_image_from_data(fh.read(), repository="busybox", tag="local",
                                                  changes=['CMD ["sh"]'])
        yield d
    finally:
        cleanup(d)


@pytest.fixture(scope="module")
def engine(tmp_path_factory, busybox_tar):
    if os.geteuid() != 0:
        pytest.skip("needs root (containers)")
    with busybox_engine(tmp_path_factory.mktemp("e2e") / "engine", busybox_tar) as d:
        yield d


@dataclass
class Result:
    code: int
    out: str
    err: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environ(engine: Daemon, env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without stray COMPOSE_/DOCKER_ settings, pointed at the test engine."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    environ.update({"PYCOMPOSE_HOST": engine.url, "COMPOSE_PROGRESS": "plain", **(env or {})})
    return environ


def compose(engine: Daemon, project_dir: Path, *args: str, env: dict[str, str] | None = None,
            check: bool = True) -> Result:
    proc = subprocess.run([str(PYCOMPOSE), *args], cwd=project_dir, env=_environ(engine, env),
                          capture_output=True, text=True, timeout=180)
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in result.err, result.err
    if check:
        assert result.code == 0, f"pycompose {' '.join(args)} -> {result.code}\n{result.out}\n{result.err}"
    return result


def _project_containers(engine: Daemon, project: str) -> list:
    return engine.client().containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})


def _networks(engine: Daemon, prefix: str) -> list[str]:
    return [n.name for n in engine.client().networks.list() if n.name.startswith(prefix)]


@dataclass
class Project:
    """A test's Compose project: a unique name, its directory, and the profiles to take down at the end."""
    engine: Daemon
    dir: Path
    name: str
    profiles: tuple[str, ...] = ()

    def write(self, services: str) -> None:
        """``compose.yaml``: ``name: <the project's name>`` followed by ``services`` (YAML text)."""
        (self.dir / "compose.yaml").write_text(f"name: {self.name}\n{services}")

    def compose(self, *args: str, **kwargs) -> Result:
        return compose(self.engine, self.dir, *args, **kwargs)

    def containers(self) -> list:
        return _project_containers(self.engine, self.name)

    def container(self, service: str):
        return self.engine.client().containers.get(f"{self.name}-{service}-1")


@pytest.fixture
def project(engine, tmp_path, request):
    """A fresh project named after the test; ``down -v -t 0`` afterwards (even on failure), which must leave
    no container, network or volume of it."""
    proj = Project(engine, tmp_path, f"{request.node.name.removeprefix('test_')[:12].replace('_', '')}{os.getpid()}")
    try:
        yield proj
    finally:
        profiles = [arg for p in proj.profiles for arg in ("--profile", p)]
        proj.compose(*profiles, "down", "-v", "-t", "0", check=False)
    assert proj.containers() == []
    assert _networks(engine, f"{proj.name}_") == []
    assert [v.name for v in engine.client().volumes.list() if v.name.startswith(f"{proj.name}_")] == []


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


def test_scale_three_resolve_under_one_name(engine, project):
    name = project.name
    project.write("""
services:
  echo:
    image: busybox:local
    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
  probe:
    image: busybox:local
    command: ["sleep", "3600"]
""")
    project.compose("up", "-d", "--scale", "echo=3")
    echoes = [c for c in project.containers() if c.labels["com.docker.compose.service"] == "echo"]
    assert sorted(c.name for c in echoes) == [f"{name}-echo-{n}" for n in (1, 2, 3)]
    addresses = {c.attrs["NetworkSettings"]["Networks"][f"{name}_default"]["IPAddress"] for c in echoes}
    assert len(addresses) == 3
    probe = project.container("probe")

    def resolved() -> set[str]:
        out = probe.exec_run(["nslookup", "echo"]).output.decode()
        return {a for a in addresses if a in out}

    assert _wait_for(lambda: resolved() == addresses, what="3 addresses for 'echo'")
    project.compose("up", "-d", "--scale", "echo=1")
    assert [c.name for c in project.containers()
            if c.labels["com.docker.compose.service"] == "echo"] == [f"{name}-echo-1"]


def test_completed_dependency_and_failed_health(engine, project):
    project.profiles = ("sick",)
    project.write("""
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
      migrate: {condition: service_completed_successfully}
  sick:
    image: busybox:local
    command: ["sleep", "3600"]
    profiles: [sick]
    healthcheck: {test: ["CMD", "false"], interval: 1s, retries: 1}
  waiter:
    image: busybox:local
    command: ["sleep", "3600"]
    profiles: [sick]
    depends_on:
      sick: {condition: service_healthy}
volumes:
  shared: {}
""")
    project.compose("up", "-d")
    app = project.container("app")
    _wait_for(lambda: b"migrated" in app.logs(), what="app to read what migrate wrote")
    failed = project.compose("--profile", "sick", "up", "-d", check=False)
    assert failed.code == 1
    assert f"container {project.name}-sick-1 is unhealthy" in failed.err
    assert project.container("waiter").status == "created"  # never started


def test_attached_up_streams_logs_and_sigint_stops(engine, project):
    project.write("""
services:
  talker:
    image: busybox:local
    command: ["sh", "-c", "echo ready-to-talk; exec sleep 3600"]
""")
    proc = subprocess.Popen([str(PYCOMPOSE), "up", "-t", "1"], cwd=project.dir, env=_environ(engine),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        seen = []
        for line in proc.stdout:  # blocks on the pipe until up prints the container's first line
            seen.append(line)
            if "ready-to-talk" in line:
                break
        assert any(line.startswith("talker-1  | ready-to-talk") for line in seen), seen
        proc.send_signal(2)
        assert proc.wait(timeout=60) == 130
        assert project.container("talker").status == "exited"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_exec_run_stop_start(engine, project):
    name, tmp_path = project.name, project.dir
    project.write("""
services:
  box:
    image: busybox:local
    command: ["sleep", "3600"]
    environment: {WHO: box}
    stop_grace_period: 1s
""")
    project.compose("up", "-d")
    done = subprocess.run([str(PYCOMPOSE), "exec", "-T", "box", "sh", "-c", "echo in-$WHO; exit 3"],
                          cwd=tmp_path, env=_environ(engine), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout) == (3, "in-box\n"), done.stderr
    ran = subprocess.run([str(PYCOMPOSE), "run", "--rm", "-T", "-e", "EXTRA=x", "box", "sh", "-c",
                          "echo $WHO-$EXTRA; exit 5"], cwd=tmp_path,
                         env=_environ(engine, {"COMPOSE_PROGRESS": "quiet"}), stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=60)
    assert (ran.returncode, ran.stdout) == (5, "box-x\n"), ran.stderr
    leftovers = engine.client().containers.list(
        all=True, filters={"label": [f"com.docker.compose.project={name}", "com.docker.compose.oneoff=True"]})
    assert leftovers == []  # --rm
    project.compose("stop")
    assert project.container("box").status == "exited"
    project.compose("start")
    assert project.container("box").status == "running"
    rows = [json.loads(line) for line in project.compose("ps", "--format", "json").out.splitlines()]
    assert [r["Name"] for r in rows] == [f"{name}-box-1"]
    elsewhere = tmp_path.parent / f"{tmp_path.name}-nofile"
    elsewhere.mkdir()
    compose(engine, elsewhere, "-p", name, "stop", "-t", "0", "box")  # by labels alone, no Compose file
    assert project.container("box").status == "exited"
    compose(engine, elsewhere, "-p", name, "start")
    assert project.container("box").status == "running"
    compose(engine, elsewhere, "-p", name, "down", "-t", "0")
    assert project.containers() == []
    assert _networks(engine, f"{name}_") == []


def test_secrets_and_configs_reach_the_container(engine, project):
    (project.dir / "token.txt").write_text("from-a-file\n")
    project.write("""
services:
  app:
    image: busybox:local
    command: ["sleep", "3600"]
    secrets: [token, api_key]
    configs:
      - source: motd
        target: /etc/motd
secrets:
  token: {file: ./token.txt}
  api_key: {environment: API_KEY}
configs:
  motd: {content: "hello from config"}
""")
    project.compose("up", "-d", env={"API_KEY": "s3cret-env"})
    app = project.container("app")
    out = app.exec_run(["cat", "/run/secrets/token", "/run/secrets/api_key", "/etc/motd"]).output.decode()
    assert out == "from-a-file\ns3cret-envhello from config"
    assert app.exec_run(["sh", "-c", "echo x > /run/secrets/token"]).exit_code != 0  # read-only bind


def test_abort_on_container_exit_returns_the_chosen_exit_code(engine, project):
    project.write("""
services:
  job:
    image: busybox:local
    command: ["sh", "-c", "echo working; exit 7"]
  server:
    image: busybox:local
    command: ["sleep", "3600"]
    stop_grace_period: 1s
""")
    result = project.compose("up", "--exit-code-from", "job", "-t", "1", check=False)
    assert result.code == 7, result.err
    assert "job-1     | working" in result.out  # prefixes padded to the longest
    assert "Aborting on container exit..." in result.out
    assert project.container("server").status == "exited"


def _bridge_index(name: str) -> int | None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        return found[0] if found else None


def _engine_with(base: Path, prefix: str, busybox_tar: Path) -> Daemon:
    """A daemon over ``base`` whose default bridge and nft table are named from ``prefix``, with busybox."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "prefix").write_text(prefix)
    d = start_daemon(base)
    with open(busybox_tar, "rb") as fh:
        d.client().api.import_image_from_data(fh.read(), repository="busybox", tag="local")
    return d


def _run_on_default_bridge(d: Daemon) -> None:
    d.client().containers.run("busybox:local", ["true"], remove=True)


def test_engine_stop_takes_the_idle_default_bridge_and_a_new_root_adopts_a_leftover(tmp_path, busybox_tar):
    import secrets
    import shutil
    import signal

    prefix = "pct" + secrets.token_hex(3)
    bridge = f"{prefix}d0"
    live = [_engine_with(tmp_path / "first", prefix, busybox_tar)]  # the daemon to clean up at the end
    try:
        _run_on_default_bridge(live[0])
        assert _bridge_index(bridge) is not None
        stop = subprocess.run([str(PYCOMPOSE), "engine", "stop"], env=_environ(live[0]), capture_output=True,
                              text=True, timeout=60)
        assert stop.returncode == 0 and "engine stopped" in stop.stdout, stop.stderr
        assert _bridge_index(bridge) is None  # nothing used it: gone with its rules
        assert subprocess.run(["nft", "list", "table", "inet", prefix], capture_output=True).returncode != 0

        live = [_engine_with(tmp_path / "first", prefix, busybox_tar)]
        _run_on_default_bridge(live[0])
        index = _bridge_index(bridge)
        crashed = live.pop()
        crashed.kill(signal.SIGKILL)  # a crash: the bridge and its rules stay behind ...
        shutil.rmtree(crashed.root)  # ... and the data root goes
        assert _bridge_index(bridge) == index
        live = [_engine_with(tmp_path / "second", prefix, busybox_tar)]
        _run_on_default_bridge(live[0])  # the leftover is ours: adopted, not refused
        assert _bridge_index(bridge) == index
    finally:
        for d in live:
            cleanup(d)
    assert _bridge_index(bridge) is None


def test_a_foreign_interface_named_like_the_default_bridge_is_a_clear_error(tmp_path, busybox_tar):
    import secrets

    import docker
    from pyroute2 import IPRoute

    prefix = "pct" + secrets.token_hex(3)
    with IPRoute() as ipr:
        ipr.link("add", ifname=f"{prefix}d0", kind="bridge")
    d = None
    try:
        d = _engine_with(tmp_path / "engine", prefix, busybox_tar)
        with pytest.raises(docker.errors.APIError, match="pycompose did not make it") as err:
            _run_on_default_bridge(d)
        assert err.value.status_code == 409
        assert _bridge_index(f"{prefix}d0") is not None  # left alone
    finally:
        with IPRoute() as ipr:  # before the cleanup, which counts every link of the prefix as a leftover
            ipr.link("del", ifname=f"{prefix}d0")
        if d is not None:
            cleanup(d)


def test_an_image_that_cannot_be_pulled_leaves_nothing_made(engine, project):
    """As Docker Compose ensures the images first: a pull that fails (here a registry on a loopback port nothing
    listens on) fails ``up`` with the pull's error before any network, volume or container is made."""
    project.write("""
services:
  fine:
    image: busybox:local
    command: ["sleep", "100"]
    volumes: [data:/data]
  broken:
    image: 127.0.0.1:9/nosuch:1
volumes:
  data: {}
""")
    failed = project.compose("up", "-d", check=False)
    assert failed.code == 1 and "pull 127.0.0.1:9/nosuch:1" in failed.err, failed
    assert project.containers() == []
    assert _networks(project.engine, f"{project.name}_") == []
    assert [v.name for v in project.engine.client().volumes.list() if v.name.startswith(f"{project.name}_")] == []
