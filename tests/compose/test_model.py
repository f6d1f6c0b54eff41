"""The typed model: lossless round trip, typed values, computed replicas, needs and cgroup limits."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.canonical import canonicalize
from compose.model import Grant, Healthcheck, Limits, Mount, Port, Project

from ._build import project_from_yaml
from ._corpus import load_plain, load_sample, sample_projects, valid_files


_DOCS = [(p.name, lambda p=p: load_plain(p)) for p in valid_files() if p.name != "ulimits-open.yaml"]
_DOCS += [(f"samples/{d.name}", lambda d=d: load_sample(d).config) for d in sample_projects()]


@pytest.mark.parametrize("name, read", _DOCS, ids=[name for name, _ in _DOCS])
def test_round_trip_is_lossless(name, read):
    doc = read()
    doc["name"] = "proj"
    canonical = canonicalize(doc, Path("/p"), {})
    project = Project.from_dict(canonical, "proj")
    assert project.to_dict() == canonical
    assert Project.from_dict(project.to_dict(), "proj") == project


def test_typed_values():
    project = project_from_yaml("""
services:
  web:
    image: nginx
    ports: ["127.0.0.1:8080:80"]
    volumes: ["data:/data:ro"]
    secrets: [token]
    healthcheck: {test: [CMD, "true"], interval: 1m30s, retries: 2}
    stop_grace_period: 2s
    x-note: kept
volumes: {data: {}}
secrets: {token: {file: ./token.txt}}
""")
    web = project.services["web"]
    assert web.ports == (Port(target=80, published="8080", host_ip="127.0.0.1"),)
    assert web.volumes == (Mount(type="volume", source="data", target="/data", read_only=True, volume={}),)
    assert web.healthcheck == Healthcheck(test=("CMD", "true"), interval=90.0, retries=2)
    assert web.stop_grace_period == 2.0
    assert web.extras == {"x-note": "kept"}
    assert web.networks == {"default": None}
    assert project.networks["default"].name == "demo_default"
    assert project.volumes["data"].name == "demo_data"
    assert project.secrets["token"].file == "/srv/demo/token.txt"
    assert web.secrets == (Grant(source="token", target="/run/secrets/token"),)
    assert web.secrets[0].path("secrets") == "/run/secrets/token"
    assert Grant(source="c", target="etc/c").path("configs") == "/etc/c"


def test_names_are_filled_when_the_canonical_dict_has_none():
    canonical = canonicalize({"services": {"a": {"image": "x", "volumes": ["v:/v"]}}, "volumes": {"v": None},
                              "networks": {"ext": {"external": True}}}, Path("/p"), {})
    project = Project.from_dict(canonical, "late")
    assert project.volumes["v"].name == "late_v"
    assert project.networks["ext"].name == "ext" and project.networks["ext"].external
    assert project.networks["default"].name == "late_default"


def test_model_is_frozen():
    project = project_from_yaml("services: {a: {image: x}}")
    with pytest.raises(AttributeError):
        project.services["a"].image = "y"  # type: ignore[misc]


def test_replicas_and_needed_services():
    project = project_from_yaml("""
services:
  a: {image: x, scale: 3}
  b: {image: x, deploy: {replicas: 2}, depends_on: [a], links: ["c:alias"], network_mode: "service:d",
      volumes_from: ["e:ro", "container:f"], ipc: "service:g"}
  c: {image: x}
  d: {image: x}
  e: {image: x}
  g: {image: x}
""")
    assert project.services["a"].replicas == 3
    assert project.services["b"].replicas == 2
    assert project.services["c"].replicas == 1
    assert project.services["b"].needed_services == {"a", "c", "d", "e", "g"}


def test_deploy_resources_map_onto_cgroup_limits():
    project = project_from_yaml("""
services:
  a:
    image: x
    deploy:
      resources:
        limits: {cpus: "0.5", memory: 256m, pids: 64}
        reservations: {memory: 64m}
  b:
    image: x
    mem_limit: 1g
    cpus: 2
    cpu_shares: 512
    pids_limit: 10
    memswap_limit: -1
    deploy: {resources: {limits: {memory: 2g, cpus: "4"}}}
  c: {image: x, cpu_quota: 5000, cpu_period: 10000}
""")
    assert project.services["a"].limits == Limits(memory=256 * 2**20, memory_reservation=64 * 2**20,
                                                  cpu_quota=50_000, cpu_period=100_000, pids=64)
    assert project.services["b"].limits == Limits(memory=2**30, memory_swap=-1, cpu_quota=200_000,
                                                  cpu_period=100_000, cpu_shares=512, pids=10)
    assert project.services["c"].limits == Limits(cpu_quota=5000, cpu_period=10000)


def test_image_name_defaults_to_project_dash_service_for_builds():
    project = project_from_yaml("services: {a: {image: nginx}, b: {build: .}}")
    assert project.services["a"].image_name("demo") == "nginx"
    assert project.services["b"].image_name("demo") == "demo-b"
