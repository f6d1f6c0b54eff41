"""The planner on networks and volumes whose ``config-hash`` label no longer matches the Compose file: a network
is recreated with the containers on it, a volume only when confirmed; unlabelled, external and unchanged ones are
left alone; a foreign container on a diverged network is an error before any step (hand-built observed state)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from compose import labels as L
from compose.confighash import service_hash
from compose.divergence import kept_volume_message
from compose.engine.containers import ContainerInfo
from compose.errors import UserError
from compose.loader import LoadOptions
from compose.model import Project
from compose.observe import Observed, diverges
from compose.plan import UpOptions, plan_run, plan_up, volumes_to_confirm
from compose.project import load_project
from compose.resourcehash import SCHEME, network_hash, volume_hash

APP = """
name: app
services:
  db:
    image: busybox:local
    networks: [back]
    volumes: [data:/data]
  web:
    image: busybox:local
    depends_on: [db]
    networks: [back, front]
networks:
  back: {}
  front: {}
  outside: {external: true}
volumes:
  data: {}
"""


def _project(tmp_path: Path, text: str = APP) -> Project:
    path = tmp_path / "compose.yaml"
    path.write_text(textwrap.dedent(text))
    return load_project(LoadOptions(files=[str(path)])).project


def _container(project: Project, service: str, *, name: str | None = None, state: str = "running",
               other: str | None = None, oneoff: bool = False) -> ContainerInfo:
    cname = name or f"{project.name}-{service}-1"
    return ContainerInfo(id=f"id-{cname}", name=cname, service=service, number=1, state=state, oneoff=oneoff,
                         config_hash=service_hash(project, service) if service in project.services else "",
                         labels={L.PROJECT: other or project.name, L.SERVICE: service})


def _labels(project: Project, digest: str | None) -> dict[str, object]:
    out = {L.PROJECT: project.name}
    if digest is not None:
        out[L.CONFIG_HASH] = digest
        out[L.HASH_SCHEME] = SCHEME
    return {"Labels": out}


def _observed(project: Project, *, stale_networks: tuple[str, ...] = (), stale_volumes: tuple[str, ...] = (),
              unlabelled: bool = False) -> Observed:
    """Everything up; the networks/volumes named carry a hash of another configuration."""
    containers = [_container(project, s) for s in project.services]
    nets = {n.name: _labels(project, None if unlabelled else ("0" * 64 if k in stale_networks
                                                               else network_hash(n)))
            for k, n in project.networks.items() if not n.external}
    nets["outside"] = {"Labels": {L.CONFIG_HASH: "1" * 64}}  # external: never compared
    vols = {v.name: _labels(project, None if unlabelled else ("0" * 64 if k in stale_volumes else volume_hash(v)))
            for k, v in project.volumes.items()}
    users = {project.networks[k].name: [c for c in containers if k in (project.services[c.service].networks or {})]
             for k in stale_networks}
    vusers = {project.volumes[k].name: [c for c in containers if any(
        m.source == k for m in project.services[c.service].volumes or ())] for k in stale_volumes}
    return Observed(containers=containers, networks=nets, volumes=vols, images={"busybox:local": "sha256:1"},
                    network_users=users, volume_users=vusers)


def test_unchanged_project_plans_nothing(tmp_path):
    project = _project(tmp_path)
    plan = plan_up(project, _observed(project))
    assert str(plan) == "" and plan.warnings == []


def test_unlabelled_resources_are_left_alone(tmp_path):
    project = _project(tmp_path)
    assert str(plan_up(project, _observed(project, unlabelled=True))) == ""


def test_diverged_network_recreated_with_its_containers_in_dependency_order(tmp_path):
    project = _project(tmp_path)
    plan = plan_up(project, _observed(project, stale_networks=("back",)))
    assert str(plan) == textwrap.dedent("""\
        STOP_CONTAINER app-web-1: network app_back recreated
        STOP_CONTAINER app-db-1: network app_back recreated <- STOP_CONTAINER app-web-1
        REMOVE_CONTAINER app-db-1: network app_back recreated <- STOP_CONTAINER app-db-1
        REMOVE_CONTAINER app-web-1: network app_back recreated <- STOP_CONTAINER app-web-1
        REMOVE_NETWORK app_back: config changed <- REMOVE_CONTAINER app-db-1, REMOVE_CONTAINER app-web-1
        CREATE_NETWORK app_back: config changed <- REMOVE_NETWORK app_back
        CREATE_CONTAINER app-db-1: network app_back recreated <- CREATE_NETWORK app_back, REMOVE_CONTAINER app-db-1
        CREATE_CONTAINER app-web-1: network app_back recreated <- CREATE_NETWORK app_back, REMOVE_CONTAINER app-web-1
        START_CONTAINER app-db-1: created <- CREATE_CONTAINER app-db-1
        START_CONTAINER app-web-1: created <- CREATE_CONTAINER app-web-1, START_CONTAINER app-db-1
        """)


def test_only_the_users_of_the_diverged_network_are_recreated(tmp_path):
    project = _project(tmp_path)
    plan = plan_up(project, _observed(project, stale_networks=("front",)))
    assert {s.target for s in plan.steps.values() if s.op.name.endswith("_CONTAINER")} == {"app-web-1"}
    assert "REMOVE_NETWORK app_back" not in plan.steps and "CREATE_NETWORK app_front" in plan.steps


def test_service_not_named_on_the_command_line_is_created_again(tmp_path):
    project = _project(tmp_path)
    plan = plan_up(project, _observed(project, stale_networks=("back",)), UpOptions(services=["db"], no_deps=True))
    assert "CREATE_CONTAINER app-web-1" in plan.steps and "START_CONTAINER app-web-1" in plan.steps
    assert "CREATE_NETWORK app_back" in plan.steps["CREATE_CONTAINER app-web-1"].after


def test_foreign_container_on_diverged_network_is_an_error_before_any_step(tmp_path):
    project = _project(tmp_path)
    observed = _observed(project, stale_networks=("back",))
    observed.network_users["app_back"].append(_container(project, "x", name="stranger", other="other"))
    with pytest.raises(UserError, match=r"network app_back must be recreated.*\(stranger\).*nothing was changed"):
        plan_up(project, observed)


def test_running_oneoff_container_on_diverged_network_is_an_error(tmp_path):
    project = _project(tmp_path)
    observed = _observed(project, stale_networks=("back",))
    observed.network_users["app_back"].append(_container(project, "db", name="app-db-run-1", oneoff=True))
    with pytest.raises(UserError, match="app-db-run-1"):
        plan_up(project, observed)


def test_stopped_oneoff_container_is_removed_not_made_again(tmp_path):
    project = _project(tmp_path)
    observed = _observed(project, stale_networks=("back",))
    observed.network_users["app_back"].append(_container(project, "db", name="app-db-run-1", oneoff=True,
                                                         state="exited"))
    plan = plan_up(project, observed)
    assert "REMOVE_CONTAINER app-db-run-1" in plan.steps and "STOP_CONTAINER app-db-run-1" not in plan.steps
    assert "REMOVE_CONTAINER app-db-run-1" in plan.steps["REMOVE_NETWORK app_back"].after
    assert not any(s.target == "app-db-run-1" for s in plan.steps.values() if s.op.name.startswith("CREATE"))


def test_diverged_volume_kept_with_a_warning_when_not_asked(tmp_path):
    project = _project(tmp_path)
    observed = _observed(project, stale_volumes=("data",))
    assert volumes_to_confirm(project, observed, list(project.services)) == ["app_data"]
    plan = plan_up(project, observed)
    assert str(plan) == ""
    assert plan.warnings == [kept_volume_message("app_data")]
    assert "doesn't match configuration in compose file" in plan.warnings[0] and "-y" in plan.warnings[0]


def test_diverged_volume_declined_at_the_prompt_is_kept_silently(tmp_path):
    project = _project(tmp_path)
    plan = plan_up(project, _observed(project, stale_volumes=("data",)), UpOptions(volumes_asked=True))
    assert str(plan) == "" and plan.warnings == []


def test_confirmed_volume_recreated_with_its_containers(tmp_path):
    project = _project(tmp_path)
    plan = plan_up(project, _observed(project, stale_volumes=("data",)),
                   UpOptions(recreate_volumes={"app_data"}, volumes_asked=True))
    assert str(plan) == textwrap.dedent("""\
        STOP_CONTAINER app-db-1: volume app_data recreated
        REMOVE_CONTAINER app-db-1: volume app_data recreated <- STOP_CONTAINER app-db-1
        REMOVE_VOLUME app_data: config changed <- REMOVE_CONTAINER app-db-1
        CREATE_VOLUME app_data: config changed <- REMOVE_VOLUME app_data
        CREATE_CONTAINER app-db-1: volume app_data recreated <- CREATE_VOLUME app_data, REMOVE_CONTAINER app-db-1
        START_CONTAINER app-db-1: created <- CREATE_CONTAINER app-db-1
        """)
    assert plan.steps["CREATE_VOLUME app_data"].args == {"key": "data", "recreate": True}


def test_external_and_other_projects_resources_never_diverge(tmp_path):
    project = _project(tmp_path)
    ours = {L.HASH_SCHEME: SCHEME}
    assert not diverges({"Labels": {L.PROJECT: "other", L.CONFIG_HASH: "1", **ours}}, "app", "2")
    assert not diverges({"Labels": {L.PROJECT: "app", **ours}}, "app", "2")
    assert not diverges(None, "app", "2")
    assert not diverges({"Labels": {L.PROJECT: "app", L.CONFIG_HASH: "1"}}, "app", "2")  # Docker Compose's hash
    assert diverges({"Labels": {L.PROJECT: "app", L.CONFIG_HASH: "1", **ours}}, "app", "2")
    plan = plan_up(project, _observed(project))
    assert not any(s.target == "outside" for s in plan.steps.values())


def test_run_recreates_the_diverged_network_of_its_service(tmp_path):
    project = _project(tmp_path)
    plan = plan_run(project, _observed(project, stale_networks=("back",)), "db", UpOptions(no_deps=True))
    assert "REMOVE_NETWORK app_back" in plan.steps and "CREATE_NETWORK app_back" in plan.steps
    # the service containers it removed (db's own, web's) are made again
    assert {"CREATE_CONTAINER app-db-1", "CREATE_CONTAINER app-web-1"} <= set(plan.steps)


def test_hash_counts_config_not_key_order_or_defaults(tmp_path):
    a = _project(tmp_path, APP.replace("back: {}", "back: {driver: bridge, driver_opts: {x: '1', y: '2'}}"))
    b = _project(tmp_path, APP.replace("back: {}", "back: {driver_opts: {y: '2', x: '1'}}"))
    c = _project(tmp_path, APP.replace("back: {}", "back: {driver_opts: {y: '3', x: '1'}}"))
    d = _project(tmp_path, APP.replace("back: {}", "back: {ipam: {config: [{subnet: 10.9.0.0/24}]}}"))
    e = _project(tmp_path, APP.replace("back: {}", "back: {labels: {a: b}}"))
    hashes = [network_hash(p.networks["back"]) for p in (a, b, c, d, e)]
    assert hashes[0] == hashes[1] and len(set(hashes[1:])) == 4
    v1 = _project(tmp_path, APP.replace("data: {}", "data: {driver_opts: {type: tmpfs, device: tmpfs}}"))
    v2 = _project(tmp_path, APP.replace("data: {}", "data: {driver: local}"))
    assert volume_hash(v1.volumes["data"]) != volume_hash(v2.volumes["data"])
    assert volume_hash(v2.volumes["data"]) == volume_hash(_project(tmp_path).volumes["data"])


def test_run_with_dependencies_recreates_the_network_once(tmp_path):
    project = _project(tmp_path)
    plan = plan_run(project, _observed(project, stale_networks=("back",)), "web")
    assert [s.key for s in plan.steps.values() if s.op.name == "REMOVE_NETWORK"] == ["REMOVE_NETWORK app_back"]
    assert {"CREATE_CONTAINER app-db-1", "CREATE_CONTAINER app-web-1", "START_CONTAINER app-web-1"} <= set(plan.steps)
    assert plan.steps["REMOVE_NETWORK app_back"].after == {"REMOVE_CONTAINER app-db-1", "REMOVE_CONTAINER app-web-1"}
