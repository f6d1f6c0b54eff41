"""``pycompose login`` against a real registry with htpasswd auth (through our engine's ``/auth``), then
``pycompose push`` and ``pull`` of a service image using the stored credentials."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.registry.conftest import PASSWORD, USER
from tests.registry.conftest import registry_factory  # noqa: F401 - the fixture, used by name below
from tests.e2e.test_up_down import busybox_engine

pytestmark = pytest.mark.root

PYCOMPOSE = Path(sys.executable).with_name("pycompose")


@pytest.fixture
def engine(tmp_path, busybox_tar):
    with busybox_engine(tmp_path / "engine", busybox_tar) as d:
        yield d


def _run(engine, cwd: Path, docker_config: Path, *args: str, stdin: str | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    env.update({"PYCOMPOSE_HOST": engine.url, "DOCKER_CONFIG": str(docker_config), "COMPOSE_PROGRESS": "plain"})
    out = subprocess.run([str(PYCOMPOSE), *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
                         timeout=120)
    assert "Traceback" not in out.stderr, out.stderr
    return out


def test_login_then_push_and_pull_with_stored_credentials(engine, registry_factory, tmp_path):  # noqa: F811
    reg = registry_factory(auth=True)
    docker_config = tmp_path / "docker-config"
    ref = f"{reg.host}/pc/busybox:1"
    project = tmp_path / "proj"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM busybox:local\n")
    # compose pushes only services that build their image (as Docker Compose does)
    (project / "compose.yaml").write_text(f"services:\n  app:\n    image: {ref}\n    build: .\n")
    engine.client().api.tag("busybox:local", f"{reg.host}/pc/busybox", "1")

    bad = _run(engine, project, docker_config, "login", reg.host, "-u", USER, "--password-stdin", stdin="wrong\n")
    assert bad.returncode == 1 and "login to" in bad.stderr
    assert not (docker_config / "config.json").exists()

    good = _run(engine, project, docker_config, "login", reg.host, "-u", USER, "--password-stdin",
                stdin=PASSWORD + "\n")
    assert good.returncode == 0, good.stderr
    auths = json.loads((docker_config / "config.json").read_text())["auths"]
    assert reg.host in auths and auths[reg.host]["auth"]
    assert ((docker_config / "config.json").stat().st_mode & 0o777) == 0o600

    push = _run(engine, project, docker_config, "push")
    assert push.returncode == 0, push.stdout + push.stderr
    engine.client().api.remove_image(ref)
    pull = _run(engine, project, docker_config, "pull")
    assert pull.returncode == 0, pull.stdout + pull.stderr
    assert engine.client().images.get(ref).id == engine.client().images.get("busybox:local").id

    out = _run(engine, project, docker_config, "logout", reg.host)
    assert out.returncode == 0 and reg.host not in json.loads((docker_config / "config.json").read_text())["auths"]
    engine.client().api.remove_image(ref)
    denied = _run(engine, project, docker_config, "pull")
    assert denied.returncode != 0
