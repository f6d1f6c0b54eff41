"""The planner on hand-built observed state: compare ``str(plan)`` with expected listings (no engine)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from compose.confighash import service_hash
from compose.engine.containers import ContainerInfo
from compose.errors import UserError
from compose.loader import LoadOptions
from compose.model import Project
from compose.observe import Observed
from compose.plan import DownOptions, Op, UpOptions, plan_down, plan_start, plan_stop, plan_up
from compose.project import load_project

HELLO = """
name: hello
services:
  web:
    image: busybox:local
    healthcheck: {test: [CMD, "true"], interval: 1s}
    networks: [front]
    volumes: [data:/data]
  client:
    image: busybox:local
    depends_on:
      web: {condition: service_healthy}
    networks: [front]
networks:
  front: {}
volumes:
  data: {}
"""

IMAGES = {"busybox:local": "sha256:1"}


def _project(tmp_path: Path, text: str) -> Project:
    path = tmp_path / "compose.yaml"
    path.write_text(textwrap.dedent(text))
    return load_project(LoadOptions(files=[str(path)])).project


def _running(project: Project, service: str, number: int = 1, *, state: str = "running",
             digest: str | None = None, name: str | None = None) -> ContainerInfo:
    return ContainerInfo(id=f"id-{service}-{number}", name=name or f"{project.name}-{service}-{number}",
                         service=service, number=number, state=state,
                         config_hash=digest if digest is not None else service_hash(project, service))


def _everything_up(project: Project) -> Observed:
    return Observed(containers=[_running(project, s) for s in project.services],
                    networks={n.name: {} for n in project.networks.values()},
                    volumes={v.name: {} for v in project.volumes.values()}, images=dict(IMAGES))


def test_fresh_up_creates_everything_in_order(tmp_path):
    project = _project(tmp_path, HELLO)
    plan = plan_up(project, Observed(images=dict(IMAGES)))
    assert str(plan) == textwrap.dedent("""\
        CREATE_NETWORK hello_front: missing
        CREATE_VOLUME hello_data: missing
        CREATE_CONTAINER hello-client-1: missing <- CREATE_NETWORK hello_front
        CREATE_CONTAINER hello-web-1: missing <- CREATE_NETWORK hello_front, CREATE_VOLUME hello_data
        START_CONTAINER hello-web-1: created <- CREATE_CONTAINER hello-web-1
        WAIT_HEALTHY hello-web-1: client depends on web (service_healthy) <- START_CONTAINER hello-web-1
        START_CONTAINER hello-client-1: created <- CREATE_CONTAINER hello-client-1, WAIT_HEALTHY hello-web-1
        """)


def test_missing_image_is_pulled_first(tmp_path):
    project = _project(tmp_path, HELLO)
    observed = _everything_up(project)
    observed.containers = []
    observed.images = {}
    text = str(plan_up(project, observed))
    assert text.splitlines()[0] == "PULL_IMAGE busybox:local: image missing"
    assert "CREATE_CONTAINER hello-web-1: missing <- PULL_IMAGE busybox:local" in text


def test_every_pull_and_build_comes_before_anything_is_made(tmp_path):
    """As Docker Compose ensures the images first: one service's image that cannot be had leaves no network,
    volume or container of another made meanwhile."""
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\n")
    project = _project(tmp_path, HELLO.replace("    image: busybox:local\n    depends_on",
                                               "    image: hello-client\n    build: .\n    depends_on"))
    text = str(plan_up(project, Observed(images={})))
    assert text == textwrap.dedent("""\
        PULL_IMAGE busybox:local: image missing
        BUILD_IMAGE hello-client: image missing
        CREATE_NETWORK hello_front: missing <- BUILD_IMAGE hello-client, PULL_IMAGE busybox:local
        CREATE_VOLUME hello_data: missing <- BUILD_IMAGE hello-client, PULL_IMAGE busybox:local
        CREATE_CONTAINER hello-client-1: missing <- BUILD_IMAGE hello-client, CREATE_NETWORK hello_front
        CREATE_CONTAINER hello-web-1: missing <- CREATE_NETWORK hello_front, CREATE_VOLUME hello_data, PULL_IMAGE busybox:local
        START_CONTAINER hello-web-1: created <- CREATE_CONTAINER hello-web-1
        WAIT_HEALTHY hello-web-1: client depends on web (service_healthy) <- START_CONTAINER hello-web-1
        START_CONTAINER hello-client-1: created <- CREATE_CONTAINER hello-client-1, WAIT_HEALTHY hello-web-1
        """)


def test_pull_never_with_missing_image_is_a_user_error(tmp_path):
    project = _project(tmp_path, HELLO)
    with pytest.raises(UserError, match="not present and pull_policy is never"):
        plan_up(project, Observed(), UpOptions(pull="never"))


def test_up_to_date_project_plans_nothing(tmp_path):
    project = _project(tmp_path, HELLO)
    plan = plan_up(project, _everything_up(project))
    assert str(plan) == ""
    assert not plan.warnings


def test_changed_service_is_recreated_and_others_are_not(tmp_path):
    project = _project(tmp_path, HELLO)
    observed = _everything_up(project)
    observed.containers = [_running(project, "web", digest="old"), _running(project, "client")]
    assert str(plan_up(project, observed)) == textwrap.dedent("""\
        CREATE_CONTAINER hello-web-1: config changed
        STOP_CONTAINER hello-web-1: config changed <- CREATE_CONTAINER hello-web-1
        REMOVE_CONTAINER hello-web-1: config changed <- STOP_CONTAINER hello-web-1
        RENAME_CONTAINER hello-web-1: replaces id-web-1 <- REMOVE_CONTAINER hello-web-1
        START_CONTAINER hello-web-1: created <- RENAME_CONTAINER hello-web-1
        """)


def test_recreate_makes_the_new_container_under_a_temporary_name_first(tmp_path):
    project = _project(tmp_path, HELLO)
    observed = _everything_up(project)
    observed.containers = [ContainerInfo(id="0123456789abcdef", name="hello-web-1", service="web", number=1,
                                         config_hash="old"), _running(project, "client")]
    plan = plan_up(project, observed)
    assert plan.steps["CREATE_CONTAINER hello-web-1"].args["temp_name"] == "0123456789ab_hello-web-1"
    assert plan.steps["RENAME_CONTAINER hello-web-1"].args["from"] == "0123456789ab_hello-web-1"
    assert plan.steps["STOP_CONTAINER hello-web-1"].container_id == "0123456789abcdef"


def test_no_recreate_keeps_a_changed_container_and_force_recreate_replaces_all(tmp_path):
    project = _project(tmp_path, HELLO)
    observed = _everything_up(project)
    observed.containers = [_running(project, "web", digest="old"), _running(project, "client")]
    assert str(plan_up(project, observed, UpOptions(no_recreate=True))) == ""
    forced = str(plan_up(project, _everything_up(project), UpOptions(force_recreate=True)))
    assert "STOP_CONTAINER hello-web-1: --force-recreate <- CREATE_CONTAINER hello-web-1" in forced
    assert ("START_CONTAINER hello-client-1: created <- RENAME_CONTAINER hello-client-1, WAIT_HEALTHY hello-web-1"
            in forced)


def test_stopped_container_is_started_not_recreated(tmp_path):
    project = _project(tmp_path, HELLO)
    observed = _everything_up(project)
    observed.containers = [_running(project, "web"), _running(project, "client", state="exited")]
    assert str(plan_up(project, observed)) == textwrap.dedent("""\
        WAIT_HEALTHY hello-web-1: client depends on web (service_healthy)
        START_CONTAINER hello-client-1: exited <- WAIT_HEALTHY hello-web-1
        """)


def test_scale_up_and_down(tmp_path):
    project = _project(tmp_path, HELLO)
    observed = _everything_up(project)
    up3 = str(plan_up(project, observed, UpOptions(scale={"web": 3})))
    assert up3 == textwrap.dedent("""\
        CREATE_CONTAINER hello-web-2: missing
        CREATE_CONTAINER hello-web-3: missing
        START_CONTAINER hello-web-2: created <- CREATE_CONTAINER hello-web-2
        START_CONTAINER hello-web-3: created <- CREATE_CONTAINER hello-web-3
        """)
    observed.containers += [_running(project, "web", 2), _running(project, "web", 3)]
    down1 = str(plan_up(project, observed, UpOptions(scale={"web": 1})))
    assert down1 == textwrap.dedent("""\
        STOP_CONTAINER hello-web-2: scale web to 1
        STOP_CONTAINER hello-web-3: scale web to 1
        REMOVE_CONTAINER hello-web-2: scale web to 1 <- STOP_CONTAINER hello-web-2
        REMOVE_CONTAINER hello-web-3: scale web to 1 <- STOP_CONTAINER hello-web-3
        """)


def test_scale_reuses_free_numbers(tmp_path):
    project = _project(tmp_path, HELLO)
    observed = _everything_up(project)
    observed.containers = [_running(project, "web", 2), _running(project, "client")]
    assert "CREATE_CONTAINER hello-web-1: missing" in str(plan_up(project, observed, UpOptions(scale={"web": 2})))


def test_orphans_warn_or_are_removed(tmp_path):
    project = _project(tmp_path, HELLO)
    observed = _everything_up(project)
    observed.containers.append(_running(project, "gone", digest="x"))
    plan = plan_up(project, observed)
    assert str(plan) == ""
    assert "orphan containers (hello-gone-1)" in plan.warnings[0]
    assert str(plan_up(project, observed, UpOptions(remove_orphans=True))) == textwrap.dedent("""\
        STOP_CONTAINER hello-gone-1: orphan
        REMOVE_CONTAINER hello-gone-1: orphan <- STOP_CONTAINER hello-gone-1
        """)


def test_selected_service_brings_its_dependencies_unless_no_deps(tmp_path):
    project = _project(tmp_path, HELLO)
    observed = Observed(images=dict(IMAGES), networks={"hello_front": {}}, volumes={"hello_data": {}})
    with_deps = str(plan_up(project, observed, UpOptions(services=["client"])))
    assert "CREATE_CONTAINER hello-web-1" in with_deps
    alone = str(plan_up(project, observed, UpOptions(services=["client"], no_deps=True)))
    assert alone == textwrap.dedent("""\
        CREATE_CONTAINER hello-client-1: missing
        START_CONTAINER hello-client-1: created <- CREATE_CONTAINER hello-client-1
        """)


def test_conditions_completed_and_optional_dependency(tmp_path):
    project = _project(tmp_path, """
        name: p
        services:
          migrate: {image: busybox:local}
          cache: {image: busybox:local}
          app:
            image: busybox:local
            depends_on:
              migrate: {condition: service_completed_successfully}
              cache: {condition: service_started, required: false}
        """)
    plan = plan_up(project, Observed(images=dict(IMAGES), networks={"p_default": {}}))
    text = str(plan)
    assert "WAIT_COMPLETED p-migrate-1: app depends on migrate (service_completed_successfully)" in text
    assert ("START_CONTAINER p-app-1: created <- CREATE_CONTAINER p-app-1, START_CONTAINER p-cache-1?, "
            "WAIT_COMPLETED p-migrate-1") in text
    assert plan.steps["START_CONTAINER p-app-1"].optional == {"START_CONTAINER p-cache-1"}


def test_restart_true_restarts_an_unchanged_dependent(tmp_path):
    project = _project(tmp_path, """
        name: p
        services:
          db: {image: busybox:local}
          app:
            image: busybox:local
            depends_on:
              db: {condition: service_started, restart: true}
        """)
    observed = Observed(images=dict(IMAGES), networks={"p_default": {}},
                        containers=[_running(project, "db", digest="old"), _running(project, "app")])
    assert str(plan_up(project, observed)) == textwrap.dedent("""\
        CREATE_CONTAINER p-db-1: config changed
        STOP_CONTAINER p-db-1: config changed <- CREATE_CONTAINER p-db-1
        REMOVE_CONTAINER p-db-1: config changed <- STOP_CONTAINER p-db-1
        RENAME_CONTAINER p-db-1: replaces id-db-1 <- REMOVE_CONTAINER p-db-1
        START_CONTAINER p-db-1: created <- RENAME_CONTAINER p-db-1
        RESTART_CONTAINER p-app-1: db changed (depends_on restart: true) <- START_CONTAINER p-db-1
        """)


def test_network_mode_service_creates_after_its_target(tmp_path):
    project = _project(tmp_path, """
        name: p
        services:
          vpn: {image: busybox:local}
          app: {image: busybox:local, network_mode: "service:vpn"}
        """)
    text = str(plan_up(project, Observed(images=dict(IMAGES), networks={"p_default": {}})))
    assert "CREATE_CONTAINER p-app-1: missing <- CREATE_CONTAINER p-vpn-1" in text
    assert "START_CONTAINER p-app-1: created <- CREATE_CONTAINER p-app-1, START_CONTAINER p-vpn-1" in text


def test_external_network_missing_is_a_user_error(tmp_path):
    project = _project(tmp_path, """
        services:
          a: {image: busybox:local, networks: [outside]}
        networks:
          outside: {external: true}
        """)
    with pytest.raises(UserError, match="outside declared as external, but could not be found"):
        plan_up(project, Observed(images=dict(IMAGES)))


def test_container_name_with_replicas_is_a_user_error(tmp_path):
    project = _project(tmp_path, """
        services:
          a: {image: busybox:local, container_name: solo}
        """)
    with pytest.raises(UserError, match="cannot run 2 replicas"):
        plan_up(project, Observed(images=dict(IMAGES)), UpOptions(scale={"a": 2}))


def test_build_when_image_missing_or_asked(tmp_path):
    (tmp_path / "ctx").mkdir()
    project = _project(tmp_path, """
        name: b
        services:
          app: {build: ./ctx}
        """)
    observed = Observed(networks={"b_default": {}})
    assert str(plan_up(project, observed)).splitlines()[0] == "BUILD_IMAGE b-app: image missing"
    observed.images = {"b-app": "sha256:2"}
    assert "BUILD_IMAGE" not in str(plan_up(project, observed))
    assert str(plan_up(project, observed, UpOptions(build=True))).splitlines()[0] == "BUILD_IMAGE b-app: --build"


def test_down_stops_dependents_first_then_removes_networks_and_volumes(tmp_path):
    project = _project(tmp_path, HELLO)
    observed = _everything_up(project)
    observed.containers.append(_running(project, "web", 2, state="exited"))
    assert str(plan_down(project, observed, DownOptions(volumes=True, timeout=0))) == textwrap.dedent("""\
        STOP_CONTAINER hello-client-1: down
        STOP_CONTAINER hello-web-1: down <- STOP_CONTAINER hello-client-1
        REMOVE_CONTAINER hello-client-1: down <- STOP_CONTAINER hello-client-1
        REMOVE_CONTAINER hello-web-1: down <- STOP_CONTAINER hello-web-1
        REMOVE_CONTAINER hello-web-2: down <- STOP_CONTAINER hello-client-1
        REMOVE_NETWORK hello_front: down <- REMOVE_CONTAINER hello-client-1, REMOVE_CONTAINER hello-web-1, \
REMOVE_CONTAINER hello-web-2
        REMOVE_VOLUME hello_data: down -v <- REMOVE_CONTAINER hello-client-1, REMOVE_CONTAINER hello-web-1, \
REMOVE_CONTAINER hello-web-2
        """)
    assert plan_down(project, observed, DownOptions(volumes=True)).steps["REMOVE_CONTAINER hello-web-1"].args == {
        "volumes": True}


def test_down_without_v_keeps_volumes_and_external_networks(tmp_path):
    project = _project(tmp_path, """
        name: p
        services:
          a: {image: busybox:local, networks: [ext], volumes: [v:/v]}
        networks:
          ext: {external: true, name: shared}
        volumes:
          v: {}
        """)
    observed = Observed(networks={"shared": {}}, volumes={"p_v": {}})
    assert str(plan_down(project, observed)) == ""


def test_stop_and_start_follow_dependency_order(tmp_path):
    project = _project(tmp_path, HELLO)
    observed = _everything_up(project)
    assert str(plan_stop(project, observed, timeout=3)) == textwrap.dedent("""\
        STOP_CONTAINER hello-client-1: stop
        STOP_CONTAINER hello-web-1: stop <- STOP_CONTAINER hello-client-1
        """)
    restarted = plan_stop(project, observed, ["web"], op=Op.RESTART_CONTAINER)
    assert str(restarted) == "RESTART_CONTAINER hello-web-1: restart\n"
    stopped = Observed(containers=[_running(project, s, state="exited") for s in project.services])
    assert str(plan_start(project, stopped)) == textwrap.dedent("""\
        START_CONTAINER hello-web-1: exited
        WAIT_HEALTHY hello-web-1: client depends on web (service_healthy) <- START_CONTAINER hello-web-1
        START_CONTAINER hello-client-1: exited <- WAIT_HEALTHY hello-web-1
        """)


def test_container_from_an_older_image_is_recreated(tmp_path):
    project = _project(tmp_path, HELLO)
    observed = _everything_up(project)
    web = _running(project, "web")
    observed.containers = [ContainerInfo(**{**web.__dict__, "labels": {"com.docker.compose.image": "sha256:0"}}),
                           _running(project, "client")]
    text = str(plan_up(project, observed))
    assert "RENAME_CONTAINER hello-web-1: replaces id-web-1 <- REMOVE_CONTAINER hello-web-1" in text
    assert "STOP_CONTAINER hello-web-1: image changed <- CREATE_CONTAINER hello-web-1" in text
    observed.containers[0] = ContainerInfo(**{**web.__dict__, "labels": {"com.docker.compose.image": "sha256:1"}})
    assert str(plan_up(project, observed)) == ""


def test_run_brings_up_dependencies_and_waits_for_their_conditions(tmp_path):
    from compose.plan import plan_run

    project = _project(tmp_path, HELLO)
    observed = Observed(images=dict(IMAGES))
    assert str(plan_run(project, observed, "client")) == textwrap.dedent("""\
        CREATE_NETWORK hello_front: missing
        CREATE_VOLUME hello_data: missing
        CREATE_CONTAINER hello-web-1: missing <- CREATE_NETWORK hello_front, CREATE_VOLUME hello_data
        START_CONTAINER hello-web-1: created <- CREATE_CONTAINER hello-web-1
        WAIT_HEALTHY hello-web-1: client depends on web (service_healthy) <- START_CONTAINER hello-web-1
        """)
    assert str(plan_run(project, observed, "client", UpOptions(no_deps=True))) == "CREATE_NETWORK hello_front: missing\n"


def test_recreating_a_network_mode_target_recreates_its_users(tmp_path):
    project = _project(tmp_path, """
        name: p
        services:
          vpn: {image: busybox:local}
          app: {image: busybox:local, network_mode: "service:vpn"}
        """)
    observed = Observed(images=dict(IMAGES), networks={"p_default": {}},
                        containers=[_running(project, "vpn", digest="old"), _running(project, "app")])
    assert str(plan_up(project, observed)) == textwrap.dedent("""\
        STOP_CONTAINER p-app-1: vpn recreated (network_mode)
        REMOVE_CONTAINER p-app-1: vpn recreated (network_mode) <- STOP_CONTAINER p-app-1
        CREATE_CONTAINER p-vpn-1: config changed
        STOP_CONTAINER p-vpn-1: config changed <- CREATE_CONTAINER p-vpn-1
        REMOVE_CONTAINER p-vpn-1: config changed <- STOP_CONTAINER p-app-1, STOP_CONTAINER p-vpn-1
        RENAME_CONTAINER p-vpn-1: replaces id-vpn-1 <- REMOVE_CONTAINER p-vpn-1
        CREATE_CONTAINER p-app-1: vpn recreated (network_mode) <- REMOVE_CONTAINER p-app-1, RENAME_CONTAINER p-vpn-1
        START_CONTAINER p-vpn-1: created <- RENAME_CONTAINER p-vpn-1
        START_CONTAINER p-app-1: created <- CREATE_CONTAINER p-app-1, START_CONTAINER p-vpn-1
        """)


def test_always_recreate_deps_recreates_the_dependencies_of_the_named_services(tmp_path):
    project = _project(tmp_path, HELLO)
    plan = plan_up(project, _everything_up(project), UpOptions(services=["client"], always_recreate_deps=True))
    assert str(plan) == textwrap.dedent("""\
        CREATE_CONTAINER hello-web-1: --always-recreate-deps
        STOP_CONTAINER hello-web-1: --always-recreate-deps <- CREATE_CONTAINER hello-web-1
        REMOVE_CONTAINER hello-web-1: --always-recreate-deps <- STOP_CONTAINER hello-web-1
        RENAME_CONTAINER hello-web-1: replaces id-web-1 <- REMOVE_CONTAINER hello-web-1
        START_CONTAINER hello-web-1: created <- RENAME_CONTAINER hello-web-1
        """)
    assert str(plan_up(project, _everything_up(project), UpOptions(services=["client"]))) == ""


@pytest.mark.parametrize(("published", "replicas", "refused"), [
    ("8080", 2, True), ("8080-8081", 2, False), ("8080-8081", 3, True), (None, 3, False), ("8080", 1, False)])
def test_scale_past_a_fixed_host_port_is_refused_at_plan_time(tmp_path, published, replicas, refused):
    port = f'"{published}:80"' if published else "80"
    project = _project(tmp_path, f"""
        name: p
        services:
          web: {{image: busybox:local, ports: [{port}]}}
        """)
    observed = Observed(images=dict(IMAGES), networks={"p_default": {}})
    if not refused:
        assert f"CREATE_CONTAINER p-web-{replicas}: missing" in str(plan_up(project, observed,
                                                                             UpOptions(scale={"web": replicas})))
        return
    with pytest.raises(UserError) as err:
        plan_up(project, observed, UpOptions(scale={"web": replicas}))
    assert f"publishes host port {published}, so it cannot run {replicas} replicas" in str(err.value)
    assert "services.web.ports[0]" in str(err.value)


@pytest.mark.parametrize(("policy", "age", "pulls"), [
    ("daily", 2 * 86400, True), ("daily", 3600, False), ("weekly", 8 * 86400, True), ("weekly", 6 * 86400, False),
    ("every_12h", 13 * 3600, True), ("every_1d12h", 86400, False), ("every_30m", 3600, True), ("missing", 10**8, False)])
def test_scheduled_pull_policies_pull_an_image_older_than_their_period(tmp_path, policy, age, pulls):
    import time

    project = _project(tmp_path, f"""
        name: p
        services:
          web: {{image: busybox:local, pull_policy: {policy}}}
        """)
    observed = Observed(images=dict(IMAGES), networks={"p_default": {}},
                        image_times={"busybox:local": time.time() - age})
    text = str(plan_up(project, observed))
    assert text.startswith(f"PULL_IMAGE busybox:local: pull_policy {policy}: image older than that\n") is pulls
    assert ("CREATE_CONTAINER p-web-1: missing <- PULL_IMAGE busybox:local" in text) is pulls


def test_scheduled_pull_policy_pulls_a_missing_image_and_one_with_no_time(tmp_path):
    project = _project(tmp_path, """
        name: p
        services:
          web: {image: busybox:local, pull_policy: daily}
        """)
    assert "PULL_IMAGE busybox:local: image missing" in str(plan_up(project, Observed(networks={"p_default": {}})))
    no_time = Observed(images=dict(IMAGES), networks={"p_default": {}})
    assert "PULL_IMAGE busybox:local: pull_policy daily" in str(plan_up(project, no_time))


def test_image_times_come_from_last_tag_time_or_created():
    from compose.engine.images import _unix_time

    assert _unix_time("2024-01-02T03:04:05.123456789Z") == pytest.approx(1704164645.123456789)
    assert _unix_time("2024-01-02T05:04:05+02:00") == 1704164645
    assert _unix_time("0001-01-01T00:00:00Z") is None
    assert _unix_time(None) is None


def test_stop_start_restart_by_labels_alone_for_a_project_known_by_name():
    bare = Project(name="p")
    observed = Observed(containers=[
        ContainerInfo(id="a", name="p-web-1", service="web", number=1),
        ContainerInfo(id="b", name="p-db-1", service="db", number=1, state="exited"),
        ContainerInfo(id="c", name="p-web-2", service="web", number=2, state="paused")])
    assert str(plan_stop(bare, observed)) == "STOP_CONTAINER p-web-1: stop\nSTOP_CONTAINER p-web-2: stop\n"
    assert str(plan_stop(bare, observed, ["db"])) == ""
    assert str(plan_stop(bare, observed, op=Op.RESTART_CONTAINER)) == (
        "RESTART_CONTAINER p-web-1: restart\nRESTART_CONTAINER p-web-2: restart\n")
    assert str(plan_start(bare, observed)) == "START_CONTAINER p-db-1: exited\n"
    assert str(plan_start(bare, observed, ["web"])) == ""


IMAGE_VOLUMES = """
name: imgvol
services:
  app:
    image: busybox:local
    volumes:
      - {type: image, source: "reg.example:5000/data:1", target: /data}
      - {type: image, source: "imgvol-assets", target: /assets}
  assets:
    image: imgvol-assets
    build: .
"""


def test_image_volume_missing_is_pulled_before_the_create(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\n")
    project = _project(tmp_path, IMAGE_VOLUMES)
    plan = plan_up(project, Observed(images={**IMAGES, "imgvol-assets": "sha256:2"},
                                     networks={"imgvol_default": {}}))
    assert str(plan) == textwrap.dedent("""\
        PULL_IMAGE reg.example:5000/data:1: image volume missing
        CREATE_CONTAINER imgvol-app-1: missing <- PULL_IMAGE reg.example:5000/data:1
        CREATE_CONTAINER imgvol-assets-1: missing <- PULL_IMAGE reg.example:5000/data:1
        START_CONTAINER imgvol-app-1: created <- CREATE_CONTAINER imgvol-app-1
        START_CONTAINER imgvol-assets-1: created <- CREATE_CONTAINER imgvol-assets-1
        """)


def test_image_volume_present_is_not_pulled_and_a_built_one_waits_for_its_build(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\n")
    project = _project(tmp_path, IMAGE_VOLUMES)
    present = {**IMAGES, "reg.example:5000/data:1": "sha256:3", "imgvol-assets": "sha256:2"}
    assert "PULL_IMAGE" not in str(plan_up(project, Observed(images=present)))
    plan = plan_up(project, Observed(images=present), UpOptions(build=True))
    assert "CREATE_CONTAINER imgvol-app-1: missing <- BUILD_IMAGE imgvol-assets" in str(plan)
    assert "PULL_IMAGE" not in str(plan)  # an image the project builds is never pulled


def test_image_volume_missing_with_pull_never_names_the_volume(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\n")
    project = _project(tmp_path, IMAGE_VOLUMES)
    with pytest.raises(UserError, match="reg.example:5000/data:1 of a type: image volume of service app") as info:
        plan_up(project, Observed(images={**IMAGES, "imgvol-assets": "sha256:2"}), UpOptions(pull="never"))
    assert "services.app.volumes[0].source" in str(info.value)
