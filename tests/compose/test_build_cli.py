"""``pycompose build`` on a sample project, against a real engine daemon started for the test."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.registry import conftest as _registry_fixtures
from tests.runtime.daemon.conftest import cleanup, start_daemon

pytestmark = pytest.mark.root
registry_factory = _registry_fixtures.registry_factory  # a real registry server per test
registry = _registry_fixtures.registry

COMPOSE = """\
name: sample
services:
  api:
    build:
      context: ./api
      args:
        VERSION: "1.2"
      labels:
        tier: backend
      tags: ["sample/api:extra"]
  tool:
    image: sample-tool:dev
    build:
      context: .
      dockerfile_inline: |
        FROM busybox:test
        COPY shared.txt /shared.txt
        RUN cat /shared.txt > /copy
  db:
    image: busybox:test
"""

API_DOCKERFILE = """\
FROM busybox:test
ARG VERSION=0
ARG EXTRA=none
RUN echo "$VERSION $EXTRA" > /version
COPY app.txt /app/
"""


@pytest.fixture
def engine(tmp_path, busybox_tar):
    if os.geteuid() != 0:
        pytest.skip("needs root (containers)")
    d = start_daemon(tmp_path / "engine")
    try:
        with open(busybox_tar, "rb") as fh:
            d.client().api.import_image_from_data(fh.read(), repository="busybox", tag="test")
        yield d
    finally:
        cleanup(d)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    (proj / "api").mkdir(parents=True)
    (proj / "compose.yaml").write_text(COMPOSE)
    (proj / "api" / "Dockerfile").write_text(API_DOCKERFILE)
    (proj / "api" / "app.txt").write_text("api\n")
    (proj / "shared.txt").write_text("shared\n")
    return proj


def _pycompose(engine, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYCOMPOSE_HOST": engine.url}
    return subprocess.run([sys.executable, "-m", "compose.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _cat(engine, image: str, *paths: str) -> str:
    return engine.client().containers.run(image, ["cat", *paths], remove=True).decode()


def test_pycompose_build_builds_and_tags_every_service(engine, sample):
    result = _pycompose(engine, sample, "build", "--build-arg", "EXTRA=cli")
    assert result.returncode == 0, result.stderr
    assert "Step 1/6 : FROM busybox:test" in result.stdout  # 5 instructions and the labels
    client = engine.client()
    api = client.images.get("sample-api")
    assert set(api.tags) == {"sample-api:latest", "sample/api:extra"}
    assert api.labels["tier"] == "backend" and api.labels["com.docker.compose.project"] == "sample"
    assert api.labels["com.docker.compose.service"] == "api"
    assert _cat(engine, "sample-api", "/version", "/app/app.txt") == "1.2 cli\napi\n"
    assert _cat(engine, "sample-tool:dev", "/copy") == "shared\n"
    # nothing changed: all from cache, same image
    again = _pycompose(engine, sample, "build", "api", "--build-arg", "EXTRA=cli")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("Using cache") == 3 and client.images.get("sample-api").id == api.id
    fresh = _pycompose(engine, sample, "build", "api", "--no-cache", "-q", "--build-arg", "EXTRA=cli")
    assert fresh.returncode == 0 and fresh.stdout == ""


def test_pycompose_build_errors_are_one_line_user_errors(engine, sample):
    (sample / "api" / "Dockerfile").write_text("FROM busybox:test\nRUN exit 4\n")
    result = _pycompose(engine, sample, "build", "api")
    assert result.returncode == 1
    assert "returned a non-zero code: 4" in result.stderr and "Traceback" not in result.stderr
    unknown = _pycompose(engine, sample, "build", "nope")
    assert unknown.returncode == 1 and "no such service: nope" in unknown.stderr


def test_pycompose_build_push_sends_the_image_to_its_registry(engine, registry, tmp_path):
    import requests

    proj = tmp_path / "pushme"
    proj.mkdir()
    (proj / "Dockerfile").write_text("FROM busybox:test\nRUN echo pushed > /p\n")
    (proj / "compose.yaml").write_text(f"services:\n  app:\n    image: {registry.host}/pc/app:1\n    build: .\n")
    result = _pycompose(engine, proj, "build", "--push")
    assert result.returncode == 0, result.stderr
    assert f"pushed {registry.host}/pc/app:1" in result.stderr
    manifest = requests.get(f"http://{registry.host}/v2/pc/app/manifests/1", timeout=30, headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert manifest.status_code == 200 and len(manifest.json()["layers"]) == 2
