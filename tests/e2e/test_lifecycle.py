"""End to end against our own engine: lifecycle hooks (post_start writes a file the test reads back, pre_stop runs
before the container's own SIGTERM handler), a failing hook reported as Docker Compose words it, anonymous volumes
carried over a recreate unless ``up -V``, ``attach: false``, device cgroup rules and blkio limits in the
container's cgroups, and the engine's create warnings on stderr."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.e2e.test_up_down import _project_containers, _wait_for, compose, engine  # noqa: F401

pytestmark = pytest.mark.root


@pytest.fixture
def project(engine, tmp_path):  # noqa: F811 - the module fixture imported above
    """A project dir and a unique name; ``down -v -t 0`` after the test, even on failure."""
    name = f"lc{os.getpid()}{tmp_path.name[-6:].replace('_', '')}".lower()
    try:
        yield tmp_path, name
    finally:
        compose(engine, tmp_path, "down", "-v", "-t", "0", check=False)
        assert _project_containers(engine, name) == []


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_post_start_and_pre_stop_hooks(engine, project):  # noqa: F811
    project_dir, name = project
    out = project_dir / "out"
    out.mkdir()
    out.chmod(0o777)
    (project_dir / "compose.yaml").write_text(f"""
name: {name}
services:
  app:
    image: busybox:local
    command: ["sh", "-c", "trap 'echo got-term >> /shared/order; exit 0' TERM; echo started >> /shared/order;
              while true; do sleep 0.1; done"]
    volumes: ["./out:/shared"]
    stop_grace_period: 20s
    post_start:
      - command: sh -c 'echo post-start $$HOOK_VAR $$(id -u) $$(pwd) >> /shared/post'
        user: "1234"
        working_dir: /tmp
        environment: {{HOOK_VAR: hello}}
    pre_stop:
      - command: ["sh", "-c", "echo pre-stop >> /shared/order"]
""")
    compose(engine, project_dir, "up", "-d")
    assert _lines(out / "post") == ["post-start hello 1234 /tmp"]  # up waits for the hook: no polling needed
    _wait_for(lambda: _lines(out / "order") == ["started"], what="the container to start")

    compose(engine, project_dir, "restart")  # pre_stop, SIGTERM, start, post_start
    assert _lines(out / "post") == ["post-start hello 1234 /tmp"] * 2
    _wait_for(lambda: len(_lines(out / "order")) == 4, what="the restarted container to start")
    assert _lines(out / "order") == ["started", "pre-stop", "got-term", "started"]

    compose(engine, project_dir, "stop")
    assert _lines(out / "order")[4:] == ["pre-stop", "got-term"]  # the hook ran before the process got SIGTERM

    compose(engine, project_dir, "start")
    assert len(_lines(out / "post")) == 3
    _wait_for(lambda: len(_lines(out / "order")) == 7, what="the started container to run")
    compose(engine, project_dir, "down", "-t", "20")
    assert _lines(out / "order")[7:] == ["pre-stop", "got-term"]


def test_failing_post_start_hook_fails_up_with_its_status(engine, project):  # noqa: F811
    project_dir, name = project
    (project_dir / "compose.yaml").write_text(f"""
name: {name}
services:
  app:
    image: busybox:local
    command: ["sleep", "3600"]
    post_start:
      - command: ["sh", "-c", "echo boom; exit 3"]
""")
    result = compose(engine, project_dir, "up", "-d", check=False)
    assert result.code == 1, result
    assert "app hook exited with status 3: boom" in result.err
    assert "services.app.post_start[0]" in result.err


def _anon_volume(engine, container: str) -> str:  # noqa: F811
    mounts = engine.client().containers.get(container).attrs["Mounts"]
    return next(m["Name"] for m in mounts if m["Destination"] == "/data")


def test_recreate_keeps_anonymous_volumes_unless_renewed(engine, project):  # noqa: F811
    project_dir, name = project
    (project_dir / "compose.yaml").write_text(f"""
name: {name}
services:
  db:
    image: busybox:local
    command: ["sleep", "3600"]
    volumes: ["/data"]
""")
    client = engine.client()
    dropped: list[str] = []
    try:
        compose(engine, project_dir, "up", "-d")
        cname = f"{name}-db-1"
        first = _anon_volume(engine, cname)
        assert client.containers.get(cname).exec_run(["sh", "-c", "echo kept > /data/marker"]).exit_code == 0

        compose(engine, project_dir, "up", "-d", "--force-recreate")
        assert _anon_volume(engine, cname) == first  # carried over, as Docker Compose does
        assert client.containers.get(cname).exec_run(["cat", "/data/marker"]).output == b"kept\n"

        compose(engine, project_dir, "up", "-d", "--force-recreate", "-V")
        renewed = _anon_volume(engine, cname)
        dropped.append(first)
        assert renewed != first
        assert client.containers.get(cname).exec_run(["ls", "-A", "/data"]).output == b""

        refused = compose(engine, project_dir, "up", "-d", "--no-recreate", "--renew-anon-volumes", check=False)
        assert refused.code == 1 and "--no-recreate and --renew-anon-volumes are incompatible" in refused.err
    finally:
        for volume in dropped:  # left dangling by -V, as Docker leaves it: ours to remove
            try:
                client.volumes.get(volume).remove(force=True)
            except Exception:  # noqa: BLE001 - already gone
                pass


def test_a_container_removed_before_its_recreate_hands_its_anonymous_volume_on(engine, project):  # noqa: F811
    project_dir, name = project
    (project_dir / "compose.yaml").write_text(f"""
name: {name}
services:
  main:
    image: busybox:local
    command: ["sleep", "3600"]
  side:
    image: busybox:local
    command: ["sleep", "3600"]
    network_mode: "service:main"
    volumes: ["/data"]
""")
    compose(engine, project_dir, "up", "-d")
    cname = f"{name}-side-1"
    first = _anon_volume(engine, cname)
    assert engine.client().containers.get(cname).exec_run(["sh", "-c", "echo kept > /data/m"]).exit_code == 0
    compose(engine, project_dir, "up", "-d", "--force-recreate")  # side joins main's netns: removed first
    assert _anon_volume(engine, cname) == first
    assert engine.client().containers.get(cname).exec_run(["cat", "/data/m"]).output == b"kept\n"


def test_attach_false_service_logs_are_not_followed(engine, project):  # noqa: F811
    project_dir, name = project
    (project_dir / "compose.yaml").write_text(f"""
name: {name}
services:
  shown:
    image: busybox:local
    command: ["echo", "shown-line"]
  quiet:
    image: busybox:local
    command: ["echo", "quiet-line"]
    attach: false
""")
    up = compose(engine, project_dir, "up")
    assert "Attaching to shown-1" in up.out, up.out
    assert "shown-line" in up.out and "quiet-line" not in up.out
    named = compose(engine, project_dir, "up", "--attach", "quiet")
    assert "Attaching to quiet-1" in named.out and "quiet-line" in named.out
    alone = compose(engine, project_dir, "up", "quiet")  # nothing to follow: waits for it to exit, prints no log
    assert "quiet-line" not in alone.out and "Attaching" not in alone.out
    assert engine.client().containers.get(f"{name}-quiet-1").attrs["State"]["Status"] == "exited"


def _block_device() -> str | None:
    for entry in sorted(os.listdir("/sys/block")):
        path = f"/dev/{entry}"
        if os.path.exists(path) and stat.S_ISBLK(os.stat(path).st_mode) and not entry.startswith(("loop", "zram")):
            return path
    return None


def _cgroup_dir(pid: int, controller: str) -> Path | None:
    """The v1 directory of ``controller`` for ``pid`` (None on a pure v2 host)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return Path("/sys/fs/cgroup") / controller / path.lstrip("/")
    return None


def test_device_cgroup_rules_and_blkio_limits_reach_the_cgroups(engine, project):  # noqa: F811
    project_dir, name = project
    device = _block_device()
    if device is None:
        pytest.skip("no block device on this host")
    number = f"{os.major(os.stat(device).st_rdev)}:{os.minor(os.stat(device).st_rdev)}"
    (project_dir / "compose.yaml").write_text(f"""
name: {name}
services:
  dev:
    image: busybox:local
    command: ["sleep", "3600"]
    network_mode: none
    device_cgroup_rules: ["c 1:9 rwm"]
    blkio_config:
      device_read_bps: [{{path: {device}, rate: 1mb}}]
      device_write_iops: [{{path: {device}, rate: 120}}]
""")
    up = compose(engine, project_dir, "up", "-d")
    assert "not applied" not in up.err and "WARNING" not in up.err, up.err
    pid = engine.client().containers.get(f"{name}-dev-1").attrs["State"]["Pid"]
    devices, blkio = _cgroup_dir(pid, "devices"), _cgroup_dir(pid, "blkio")
    if devices is None or blkio is None:
        pytest.skip("no cgroup v1 devices/blkio controller for this container (pure cgroup v2 host)")
    assert "c 1:9 rwm" in (devices / "devices.list").read_text().splitlines()
    assert f"{number} 1048576" in (blkio / "blkio.throttle.read_bps_device").read_text().splitlines()
    assert f"{number} 120" in (blkio / "blkio.throttle.write_iops_device").read_text().splitlines()


def test_engine_create_warnings_are_printed_once_per_container(engine, project):  # noqa: F811
    project_dir, name = project
    (project_dir / "compose.yaml").write_text(f"""
name: {name}
services:
  w:
    image: busybox:local
    command: ["sleep", "3600"]
    network_mode: none
    scale: 2
    logging: {{driver: local}}
""")
    up = compose(engine, project_dir, "up", "-d")
    for n in (1, 2):
        lines = [line for line in up.err.splitlines() if line.startswith(f"WARNING: container {name}-w-{n}: ")]
        assert len(lines) == 1, up.err
        assert "log driver 'local' is not supported by this engine" in lines[0]


def test_run_prints_create_warnings_and_runs_post_start_hooks(engine, project):  # noqa: F811
    project_dir, name = project
    out = project_dir / "out"
    out.mkdir()
    (project_dir / "compose.yaml").write_text(f"""
name: {name}
services:
  job:
    image: busybox:local
    network_mode: none
    volumes: ["./out:/shared"]
    logging: {{driver: local}}
    post_start:
      - command: ["sh", "-c", "echo hooked >> /shared/post"]
""")
    # attached: the hook runs before the output is pumped, and the one-off's output still arrives whole
    # the job lives until the hook has written (a hook needs a running container, as under Docker Compose)
    script = "until [ -s /shared/post ]; do sleep 0.05; done; echo ran-job"
    result = compose(engine, project_dir, "run", "--rm", "-T", "job", "sh", "-c", script)
    assert "ran-job" in result.out
    assert _lines(out / "post") == ["hooked"]
    warned = [line for line in result.err.splitlines() if line.startswith("WARNING: container ")]
    assert len(warned) == 1 and "log driver 'local' is not supported by this engine" in warned[0], result.err

    compose(engine, project_dir, "run", "-d", "job", "sleep", "3600")
    assert _lines(out / "post") == ["hooked", "hooked"]  # -d returns after the hook ran
