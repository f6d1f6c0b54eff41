"""Model -> ``POST /containers/create`` body, as Docker Compose sends it: one table row per Compose key."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from compose import labels as L
from compose.engine.createbody import ContainerSpec, create_body, endpoint_config, ordered_networks
from compose.errors import UserError
from compose.loader import LoadOptions
from compose.project import load_project


def _body(tmp_path: Path, service_yaml: str, top: str = "", number: int = 1) -> dict[str, Any]:
    text = "name: p\nservices:\n  s:\n" + textwrap.indent(textwrap.dedent(service_yaml), "    ") + top
    (tmp_path / "compose.yaml").write_text(text)
    project = load_project(LoadOptions(files=[str(tmp_path / "compose.yaml")])).project
    return create_body(project, project.services["s"], ContainerSpec(number, "h4sh", working_dir=str(tmp_path),
                                                                     config_files=(str(tmp_path / "x.yaml"),)))


def _at(body: dict[str, Any], path: str) -> Any:
    value: Any = body
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


BASE = "image: busybox:local\n"

CASES = [
    ("command: [a, b]", "Cmd", ["a", "b"]),
    ("command: echo hi there", "Cmd", ["echo", "hi", "there"]),
    ("entrypoint: [/bin/sh, -c]", "Entrypoint", ["/bin/sh", "-c"]),
    ("environment: {A: '1', B: ''}", "Env", ["A=1", "B="]),
    ("user: '1000:1000'", "User", "1000:1000"),
    ("working_dir: /srv", "WorkingDir", "/srv"),
    ("hostname: h1", "Hostname", "h1"),
    ("tty: true", "Tty", True),
    ("stdin_open: true", "OpenStdin", True),
    ("stop_signal: SIGINT", "StopSignal", "SIGINT"),
    ("stop_grace_period: 1m30s", "StopTimeout", 90),
    ("expose: ['3000', '53/udp']", "ExposedPorts", {"3000/tcp": {}, "53/udp": {}}),
    ("ports: ['127.0.0.1:8080:80']", "HostConfig.PortBindings", {"80/tcp": [{"HostIp": "127.0.0.1",
                                                                              "HostPort": "8080"}]}),
    ("ports: ['80']", "HostConfig.PortBindings", {"80/tcp": [{"HostIp": "", "HostPort": ""}]}),
    ("ports: ['80']", "ExposedPorts", {"80/tcp": {}}),
    ("healthcheck: {test: [CMD, 'true'], interval: 2s, timeout: 1s, retries: 4, start_period: 5s}",
     "Healthcheck", {"Test": ["CMD", "true"], "Interval": 2_000_000_000, "Timeout": 1_000_000_000,
                     "StartPeriod": 5_000_000_000, "Retries": 4}),
    ("healthcheck: {disable: true}", "Healthcheck", {"Test": ["NONE"]}),
    ("restart: on-failure:3", "HostConfig.RestartPolicy", {"Name": "on-failure", "MaximumRetryCount": 3}),
    ("restart: unless-stopped", "HostConfig.RestartPolicy", {"Name": "unless-stopped"}),
    ("", "HostConfig.RestartPolicy", {"Name": "no"}),
    ("cap_add: [NET_ADMIN]", "HostConfig.CapAdd", ["NET_ADMIN"]),
    ("cap_drop: [ALL]", "HostConfig.CapDrop", ["ALL"]),
    ("privileged: true", "HostConfig.Privileged", True),
    ("read_only: true", "HostConfig.ReadonlyRootfs", True),
    ("tmpfs: ['/run:size=64k']", "HostConfig.Tmpfs", {"/run": "size=64k"}),
    ("shm_size: 64m", "HostConfig.ShmSize", 64 * 1024 * 1024),
    ("mem_limit: 256m", "HostConfig.Memory", 256 * 1024 * 1024),
    ("cpus: 0.5", "HostConfig.NanoCpus", 500_000_000),
    ("pids_limit: 100", "HostConfig.PidsLimit", 100),
    ("deploy: {resources: {limits: {memory: 128M, cpus: '1.5'}}}", "HostConfig.Memory", 128 * 1024 * 1024),
    ("deploy: {resources: {limits: {memory: 128M, cpus: '1.5'}}}", "HostConfig.NanoCpus", 1_500_000_000),
    ("ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 64}", "HostConfig.Ulimits",
     [{"Name": "nofile", "Soft": 1024, "Hard": 2048}, {"Name": "nproc", "Soft": 64, "Hard": 64}]),
    ("sysctls: {net.core.somaxconn: '1024'}", "HostConfig.Sysctls", {"net.core.somaxconn": "1024"}),
    ("security_opt: [no-new-privileges:true]", "HostConfig.SecurityOpt", ["no-new-privileges:true"]),
    ("extra_hosts: ['db=10.0.0.2']", "HostConfig.ExtraHosts", ["db:10.0.0.2"]),
    ("dns: [1.1.1.1]", "HostConfig.Dns", ["1.1.1.1"]),
    ("dns_search: [example.com]", "HostConfig.DnsSearch", ["example.com"]),
    ("dns_opt: [ndots:2]", "HostConfig.DnsOptions", ["ndots:2"]),
    ("init: true", "HostConfig.Init", True),
    ("logging: {driver: json-file, options: {max-size: 1m}}", "HostConfig.LogConfig",
     {"Type": "json-file", "Config": {"max-size": "1m"}}),
    ("oom_score_adj: 500", "HostConfig.OomScoreAdj", 500),
    ("devices: ['/dev/null:/dev/mynull:r']", "HostConfig.Devices",
     [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "r"}]),
    ("annotations: {com.example.a: x, b: '1'}", "HostConfig.Annotations", {"com.example.a": "x", "b": "1"}),
    ("", "HostConfig.Annotations", None),
    ("external_links: [other-db, 'cache-1:cache']", "NetworkingConfig.EndpointsConfig.p_default.Links",
     ["other-db:other-db", "cache-1:cache"]),
    ("network_mode: host", "HostConfig.NetworkMode", "host"),
    ("network_mode: host", "NetworkingConfig", None),
    ("", "HostConfig.NetworkMode", "p_default"),
    ("", "NetworkingConfig.EndpointsConfig", {"p_default": {"Aliases": ["s"]}}),
]


@pytest.mark.parametrize(("snippet", "path", "expected"), CASES, ids=[f"{c[1]}:{c[0][:30]}" for c in CASES])
def test_service_key_to_body(tmp_path, snippet, path, expected):
    assert _at(_body(tmp_path, BASE + snippet + "\n"), path) == expected


def test_labels_as_docker_compose_sets_them(tmp_path):
    body = _body(tmp_path, BASE + "labels: {team: a}\ndepends_on: {d: {condition: service_healthy, restart: true}}\n",
                 "  d: {image: busybox:local}\n", number=2)
    labels = body["Labels"]
    assert labels["team"] == "a"
    assert labels[L.PROJECT] == "p"
    assert labels[L.SERVICE] == "s"
    assert labels[L.CONTAINER_NUMBER] == "2"
    assert labels[L.ONEOFF] == "False"
    assert labels[L.CONFIG_HASH] == "h4sh"
    assert labels[L.WORKING_DIR] == str(tmp_path)
    assert labels[L.CONFIG_FILES] == str(tmp_path / "x.yaml")
    assert labels[L.DEPENDS_ON] == "d:service_healthy:true"
    assert labels[L.IMAGE] == "busybox:local"


def test_mounts_binds_volumes_and_secrets(tmp_path):
    (tmp_path / "secret.txt").write_text("s3cret")
    body = _body(tmp_path, BASE + textwrap.dedent("""\
        volumes:
          - ./data:/data:ro
          - named:/named
          - type: tmpfs
            target: /scratch
            tmpfs: {size: 1m}
          - /anon
        secrets: [token]
        configs:
          - source: conf
            target: /etc/app.conf
        """), "volumes:\n  named: {}\nsecrets:\n  token: {file: ./secret.txt}\n"
              "configs:\n  conf: {file: ./secret.txt}\n")
    host = body["HostConfig"]
    assert host["Binds"] == [f"{tmp_path}/data:/data:ro"]
    assert {"Type": "volume", "Target": "/named", "Source": "p_named"} in host["Mounts"]
    assert {"Type": "tmpfs", "Target": "/scratch", "TmpfsOptions": {"SizeBytes": 1024 * 1024}} in host["Mounts"]
    assert {"Type": "volume", "Target": "/anon"} in host["Mounts"]
    assert {"Type": "bind", "Source": str(tmp_path / "secret.txt"), "Target": "/run/secrets/token",
            "ReadOnly": True} in host["Mounts"]
    assert {"Type": "bind", "Source": str(tmp_path / "secret.txt"), "Target": "/etc/app.conf",
            "ReadOnly": True} in host["Mounts"]


def test_first_network_at_create_others_connected_in_priority_order(tmp_path):
    text = textwrap.dedent("""\
        name: p
        services:
          s:
            image: busybox:local
            networks:
              back: {aliases: [api], ipv4_address: 10.5.0.9}
              front: {priority: 10}
            links: [d:database]
          d: {image: busybox:local, networks: [back]}
        networks:
          front: {}
          back:
            ipam: {config: [{subnet: 10.5.0.0/24}]}
        """)
    (tmp_path / "compose.yaml").write_text(text)
    project = load_project(LoadOptions(files=[str(tmp_path / "compose.yaml")])).project
    service = project.services["s"]
    assert ordered_networks(service) == ["front", "back"]
    body = create_body(project, service, ContainerSpec(1, "h"))
    assert body["HostConfig"]["NetworkMode"] == "p_front"
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"p_front": {"Aliases": ["s"],
                                                                        "Links": ["p-d-1:database"]}}}
    assert endpoint_config(service, "back", number=1, project="p") == {
        "IPAMConfig": {"IPv4Address": "10.5.0.9"}, "Aliases": ["s", "api"]}


def test_interface_name_and_link_local_ips_go_into_the_endpoint_settings(tmp_path):
    text = textwrap.dedent("""\
        name: p
        services:
          s:
            image: busybox:local
            networks:
              front:
                interface_name: lan0
                link_local_ips: [169.254.8.8, "fe80::8"]
                driver_opts: {com.example.x: "1"}
              back: {interface_name: wan0}
        networks:
          front: {}
          back: {}
        """)
    (tmp_path / "compose.yaml").write_text(text)
    service = load_project(LoadOptions(files=[str(tmp_path / "compose.yaml")])).project.services["s"]
    assert endpoint_config(service, "front", number=1, project="p") == {
        "IPAMConfig": {"LinkLocalIPs": ["169.254.8.8", "fe80::8"]},
        "DriverOpts": {"com.example.x": "1", "com.docker.network.endpoint.ifname": "lan0"}, "Aliases": ["s"]}
    assert endpoint_config(service, "back", number=1, project="p") == {
        "DriverOpts": {"com.docker.network.endpoint.ifname": "wan0"}, "Aliases": ["s"]}


def test_ipv6_only_network_create_request_carries_enable_ipv4(tmp_path):
    from compose.engine.networks import _create_request, network_body

    (tmp_path / "compose.yaml").write_text("name: p\nservices: {s: {image: x, networks: [v6, plain]}}\n"
                                           "networks:\n  v6: {enable_ipv4: false, enable_ipv6: true}\n"
                                           "  plain: {}\n")
    project = load_project(LoadOptions(files=[str(tmp_path / "compose.yaml")])).project
    body = network_body("p", project.networks["v6"])
    request = _create_request("p_v6", body)
    assert (request["EnableIPv4"], request["EnableIPv6"], request["Name"], request["Driver"]) == (
        False, True, "p_v6", "bridge")
    assert request["Labels"]["com.docker.compose.network"] == "v6"
    assert "enable_ipv4" not in network_body("p", project.networks["plain"])  # docker-py's own call, unchanged


def test_service_modes_point_at_the_first_container(tmp_path):
    body = _body(tmp_path, BASE + "network_mode: service:d\nipc: service:d\nvolumes_from: [d:ro]\n",
                 "  d: {image: busybox:local}\n")
    host = body["HostConfig"]
    assert host["NetworkMode"] == "container:p-d-1"
    assert host["IpcMode"] == "container:p-d-1"
    assert host["VolumesFrom"] == ["p-d-1:ro"]


def test_built_image_name(tmp_path):
    (tmp_path / "ctx").mkdir()
    body = _body(tmp_path, "build: ./ctx\n")
    assert body["Image"] == "p-s"


def test_label_file_is_read_and_labels_win(tmp_path):
    (tmp_path / "a.labels").write_text("# team labels\ncom.example.team=core\ncom.example.tier=back\n")
    (tmp_path / "b.labels").write_text("com.example.tier=front\n")
    body = _body(tmp_path, BASE + "label_file: [a.labels, b.labels]\nlabels: {com.example.team: web}\n")
    assert body["Labels"]["com.example.team"] == "web"
    assert body["Labels"]["com.example.tier"] == "front"


def test_missing_label_file_is_a_user_error_with_its_key_path(tmp_path):
    with pytest.raises(UserError) as err:
        _body(tmp_path, BASE + "label_file: nope.labels\n")
    assert "services.s.label_file[0]" in str(err.value) and "nope.labels" in str(err.value)


def test_use_api_socket_binds_the_engine_socket_and_sets_docker_host(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  s:\n    image: busybox:local\n    use_api_socket: true\n")
    project = load_project(LoadOptions(files=[str(path)], project_name="p")).project
    body = create_body(project, project.services["s"], ContainerSpec(1, "h", api_socket="/run/x/engine.sock"))
    assert "/run/x/engine.sock:/var/run/docker.sock" in body["HostConfig"]["Binds"]
    assert "DOCKER_HOST=unix:///var/run/docker.sock" in body["Env"]
    with pytest.raises(UserError, match="use_api_socket needs the engine on a unix socket"):
        create_body(project, project.services["s"], ContainerSpec(1, "h"))


def test_run_flags_laid_over_the_body(tmp_path):
    from compose.cli.run import apply_run_flags

    body = _body(tmp_path, BASE + "cap_add: [NET_ADMIN]\nports: ['8080:80']\nlabels: {a: '1'}\n")
    apply_run_flags(body, labels=["a=2", "b=x"], volumes=["./data:/data:ro", "named:/v"],
                    publish=["127.0.0.1:9000:90/udp", "91", "9002:92"], cap_add=["SYS_TIME"], cap_drop=["MKNOD"],
                    base=str(tmp_path))
    assert (body["Labels"]["a"], body["Labels"]["b"]) == ("2", "x")
    assert body["HostConfig"]["Binds"][-2:] == [f"{tmp_path}/data:/data:ro", "named:/v"]
    assert body["HostConfig"]["PortBindings"]["90/udp"] == [{"HostIp": "127.0.0.1", "HostPort": "9000"}]
    assert body["HostConfig"]["PortBindings"]["91/tcp"] == [{"HostIp": "", "HostPort": ""}]
    assert body["HostConfig"]["PortBindings"]["92/tcp"] == [{"HostIp": "", "HostPort": "9002"}]
    assert {"90/udp", "91/tcp", "92/tcp"} <= set(body["ExposedPorts"])
    assert body["HostConfig"]["CapAdd"] == ["NET_ADMIN", "SYS_TIME"]
    assert body["HostConfig"]["CapDrop"] == ["MKNOD"]
    with pytest.raises(UserError, match="--volume x: expected"):
        apply_run_flags(body, volumes=["x"])
    with pytest.raises(UserError, match="--publish a:b: expected"):
        apply_run_flags(body, publish=["a:b"])


def test_run_without_use_aliases_drops_the_service_aliases(tmp_path):
    from compose.cli.run import drop_aliases

    body = _body(tmp_path, BASE)
    assert body["NetworkingConfig"]["EndpointsConfig"]["p_default"]["Aliases"] == ["s"]
    drop_aliases(body)
    assert "Aliases" not in body["NetworkingConfig"]["EndpointsConfig"]["p_default"]
