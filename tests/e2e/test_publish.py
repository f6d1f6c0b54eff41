"""End to end: ``pycompose publish`` to a real registry, then ``-f oci://... up`` (and ``include: oci://``)
runs the application on our engine from the fetched files, and ``down`` takes it away again."""
from __future__ import annotations

import os

import pytest

from tests.e2e.test_up_down import busybox_engine, compose
from tests.registry.conftest import registry_factory  # noqa: F401 - the fixture, used by name below

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def engine(tmp_path_factory, busybox_tar):
    if os.geteuid() != 0:
        pytest.skip("needs root (containers)")
    with busybox_engine(tmp_path_factory.mktemp("e2e-publish") / "engine", busybox_tar) as d:
        yield d


def _containers(engine, project: str) -> list:
    return engine.client().containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})


def test_publish_then_up_from_oci_and_from_include(engine, registry_factory, tmp_path):  # noqa: F811
    reg = registry_factory()
    env = {"PYCOMPOSE_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    name = f"pub{os.getpid()}"
    src = tmp_path / "src"
    src.mkdir()
    (src / "compose.yaml").write_text(
        f"name: {name}\nservices:\n  job:\n    image: busybox:local\n"
        "    command: [sh, -c, 'echo from-artifact $${WHO}']\n    environment: {WHO: '${WHO:-nobody}'}\n")
    published = compose(engine, src, "publish", "--with-env", f"{reg.host}/pc/job:1", env=env)
    assert published.out.startswith(f"Published oci://{reg.host}/pc/job:1@sha256:")

    consumer = tmp_path / "consumer"
    consumer.mkdir()
    ref = f"oci://{reg.host}/pc/job:1"
    try:
        compose(engine, consumer, "-f", ref, "up", "-d", env={**env, "WHO": "consumer"})
        compose(engine, consumer, "-f", ref, "wait", "job", env=env)
        logs = compose(engine, consumer, "-f", ref, "logs", "--no-log-prefix", "job", env=env)
        assert logs.out.strip() == "from-artifact consumer"
        assert len(_containers(engine, name)) == 1
    finally:
        compose(engine, consumer, "-f", ref, "down", "-t", "0", env=env, check=False)
    assert _containers(engine, name) == []

    app = tmp_path / "app"
    app.mkdir()
    app_name = f"inc{os.getpid()}"
    (app / "compose.yaml").write_text(f"name: {app_name}\ninclude:\n  - {ref}\n"
                                      "services:\n  after:\n    image: busybox:local\n"
                                      "    command: [echo, after-job]\n"
                                      "    depends_on: {job: {condition: service_completed_successfully}}\n")
    try:
        compose(engine, app, "up", "-d", env=env)
        compose(engine, app, "wait", "after", env=env)
        logs = compose(engine, app, "logs", "--no-log-prefix", env=env)
        assert sorted(logs.out.split("\n")) == ["", "after-job", "from-artifact nobody"]
    finally:
        compose(engine, app, "down", "-t", "0", env=env, check=False)
    assert _containers(engine, app_name) == []
