"""compose.build: a service's canonical ``build:`` to build API parameters (pure)."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.build import BuildOverrides, build_request, build_requests, ignored_warnings, image_name
from compose.errors import UserError
from compose.labels import COMPOSE_VERSION
from compose.loader import LoadOptions
from compose.project import load_project

COMPOSE = """\
name: shop
services:
  web:
    build:
      context: ./app
      dockerfile: Dockerfile.dev
      args:
        A: "1"
        FROM_ENV:
        MISSING:
      target: final
      labels: {x: y}
      tags: ["extra/web:1"]
      no_cache: true
      pull: true
      network: none
      shm_size: 2gb
      extra_hosts: ["db.local=10.0.0.5", "v6.local=fd00::1"]
      ssh: ["default"]
      cache_from: ["x:cache"]
  named:
    image: registry.local/named:2
    build:
      dockerfile_inline: |
        FROM busybox
  short:
    build: ./app
  pulled:
    image: busybox
  twin:
    image: registry.local/named:2
    build:
      dockerfile_inline: |
        FROM busybox
"""


@pytest.fixture
def project(tmp_path: Path):
    (tmp_path / "app").mkdir()
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    return load_project(LoadOptions(files=[str(tmp_path / "compose.yaml")])).project


def test_every_build_field_maps_to_the_api(project, tmp_path):
    req = build_request(project.name, project.services["web"], {"FROM_ENV": "env-value"})
    assert req.image == "shop-web"
    assert req.context == str(tmp_path / "app") and req.dockerfile == "Dockerfile.dev"
    assert req.build_args == {"A": "1", "FROM_ENV": "env-value"}  # MISSING is unset: left out
    assert req.tags == ("extra/web:1",)
    assert req.ignored == ("cache_from", "ssh")
    warnings = ignored_warnings([req])
    assert [w.path for w in warnings] == [("services", "web", "build", "cache_from"),
                                          ("services", "web", "build", "ssh")]
    assert "build.ssh is not supported" in warnings[1].message
    assert req.api_params() == {
        "tag": "shop-web", "buildargs": {"A": "1", "FROM_ENV": "env-value"}, "nocache": True, "pull": True,
        "rm": True, "forcerm": True, "decode": True, "target": "final",
        "labels": {"x": "y", "com.docker.compose.project": "shop", "com.docker.compose.service": "web",
                   "com.docker.compose.version": COMPOSE_VERSION},
        "network_mode": "none", "shmsize": 2 * 1024 ** 3, "extra_hosts": ["db.local:10.0.0.5", "v6.local:fd00::1"]}


def test_image_names_as_docker_compose(project):
    assert image_name("shop", project.services["named"]) == "registry.local/named:2"
    assert image_name("shop", project.services["short"]) == "shop-short"
    inline = build_request(project.name, project.services["named"], {})
    assert inline.dockerfile_inline == "FROM busybox\n" and inline.dockerfile is None
    assert "network_mode" not in inline.api_params() and inline.api_params()["nocache"] is False


def test_overrides_and_selection(project):
    over = BuildOverrides(no_cache=True, pull=True, build_args={"A": "cli", "NEW": "2"})
    reqs = build_requests(project, None, {}, over)
    assert [r.service for r in reqs] == ["named", "short", "web"]  # no build: skipped; twin's image built once
    web = reqs[-1]
    assert web.build_args == {"A": "cli", "NEW": "2"} and reqs[0].no_cache and reqs[0].pull
    assert [r.service for r in build_requests(project, ["short"], {})] == ["short"]
    with pytest.raises(UserError, match="no such service: nope"):
        build_requests(project, ["nope"], {})
    with pytest.raises(UserError, match="no build section"):
        build_request(project.name, project.services["pulled"], {})


def test_remote_context_is_a_user_error(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  r:\n    build: https://github.com/x/y.git\n")
    project = load_project(LoadOptions(files=[str(tmp_path / "compose.yaml")])).project
    with pytest.raises(UserError) as info:
        build_request(project.name, project.services["r"], {})
    assert info.value.problems[0].path == ("services", "r", "build", "context")
