"""Create body and copied files for the keys engineer S2 wired: service-level ``mac_address`` (on the first
network's endpoint, as Docker Compose sends it for API >= 1.44), volume ``subpath``/``nocopy``, and which
secrets/configs are bind-mounted versus copied in with their uid, gid and mode (``compose.secretcopy``)."""
from __future__ import annotations

import io
import tarfile
import textwrap
from pathlib import Path

import pytest

from compose.engine.createbody import ContainerSpec, create_body
from compose.errors import UserError
from compose.loader import LoadOptions
from compose.project import load_project
from compose.secretcopy import grant_archive, grant_files


def _project(tmp_path: Path, text: str):
    (tmp_path / "compose.yaml").write_text(textwrap.dedent(text))
    return load_project(LoadOptions(files=[str(tmp_path / "compose.yaml")])).project


def _body(project, service: str = "s"):
    return create_body(project, project.services[service], ContainerSpec(1, "h4sh"))


def test_service_mac_goes_to_the_first_network(tmp_path):
    project = _project(tmp_path, """\
        name: p
        services:
          s: {image: busybox, mac_address: "02:42:ac:11:00:02", networks: {b: {priority: 10}, a: {}}}
          t: {image: busybox, mac_address: "02:42:ac:11:00:03"}
          u: {image: busybox, mac_address: "02:42:ac:11:00:04", network_mode: bridge}
          v: {image: busybox, mac_address: "02:42:ac:11:00:05", network_mode: host}
        networks: {a: {}, b: {}}
        """)
    body = _body(project)
    assert body["HostConfig"]["NetworkMode"] == "p_b"
    assert body["NetworkingConfig"]["EndpointsConfig"]["p_b"]["MacAddress"] == "02:42:ac:11:00:02"
    assert "MacAddress" not in body
    assert _body(project, "t")["NetworkingConfig"]["EndpointsConfig"]["p_default"]["MacAddress"] == \
        "02:42:ac:11:00:03"
    assert _body(project, "u")["NetworkingConfig"] == {"EndpointsConfig": {"bridge": {"MacAddress":
                                                                                       "02:42:ac:11:00:04"}}}
    assert "NetworkingConfig" not in _body(project, "v")


def test_service_mac_must_agree_with_its_network(tmp_path):
    same = _project(tmp_path, """\
        name: p
        services:
          s: {image: busybox, mac_address: "02:42:AC:11:00:02", networks: {n: {mac_address: "02:42:ac:11:00:02"}}}
        networks: {n: {}}
        """)
    assert _body(same)["NetworkingConfig"]["EndpointsConfig"]["p_n"]["MacAddress"].lower() == "02:42:ac:11:00:02"
    differ = _project(tmp_path, """\
        name: p
        services:
          s: {image: busybox, mac_address: "02:42:ac:11:00:02", networks: {n: {mac_address: "02:42:ac:11:00:09"}}}
        networks: {n: {}}
        """)
    with pytest.raises(UserError, match="should have the same value as network n") as err:
        _body(differ)
    assert err.value.problems[0].path == ("services", "s", "mac_address")


def test_volume_subpath_and_nocopy_sent(tmp_path):
    project = _project(tmp_path, """\
        name: p
        services:
          s:
            image: busybox
            volumes:
              - {type: volume, source: data, target: /a, volume: {subpath: conf/x, nocopy: true}}
              - data:/b:nocopy
        volumes: {data: {}}
        """)
    mounts = _body(project)["HostConfig"]["Mounts"]
    assert {"Type": "volume", "Target": "/a", "Source": "p_data",
            "VolumeOptions": {"NoCopy": True, "Subpath": "conf/x"}} in mounts
    assert {"Type": "volume", "Target": "/b", "Source": "p_data", "VolumeOptions": {"NoCopy": True}} in mounts


def test_file_grants_bind_unless_owner_or_mode_given(tmp_path):
    (tmp_path / "f.txt").write_text("data")
    project = _project(tmp_path, """\
        name: p
        services:
          s:
            image: busybox
            secrets: [plain, {source: owned, uid: "10", gid: "20", mode: 0o400}]
            configs: [{source: c, target: /etc/c.conf, mode: 0o640}, {source: e}]
        secrets: {plain: {file: ./f.txt}, owned: {file: ./f.txt}}
        configs: {c: {content: "hi"}, e: {environment: VALUE}}
        """)
    binds = [m for m in _body(project)["HostConfig"]["Mounts"] if m["Type"] == "bind"]
    assert binds == [{"Type": "bind", "Source": str(tmp_path / "f.txt"), "Target": "/run/secrets/plain",
                      "ReadOnly": True}]
    files = grant_files(project, project.services["s"], {"VALUE": "v"})
    assert [(f.path, f.uid, f.gid, oct(f.mode)) for f in files] == [
        ("/run/secrets/owned", 10, 20, "0o400"), ("/etc/c.conf", 0, 0, "0o640"), ("/e", 0, 0, "0o444")]
    with tarfile.open(fileobj=io.BytesIO(grant_archive(files))) as tar:
        members = {m.name: (m.uid, m.gid, oct(m.mode), tar.extractfile(m).read()) for m in tar.getmembers()}
    assert members == {"run/secrets/owned": (10, 20, "0o400", b"data"), "etc/c.conf": (0, 0, "0o640", b"hi"),
                       "e": (0, 0, "0o444", b"v")}  # files only: existing parent directories keep their modes
    with pytest.raises(UserError, match="VALUE is not set"):
        grant_files(project, project.services["s"], {})


def test_bind_selinux_label_sent_in_binds(tmp_path):
    project = _project(tmp_path, """\
        name: p
        services:
          s:
            image: busybox
            volumes: ["./a:/a:z", {type: bind, source: ./b, target: /b, bind: {selinux: Z, propagation: rshared}}]
        """)
    assert _body(project)["HostConfig"]["Binds"] == [f"{tmp_path}/a:/a:rw,z", f"{tmp_path}/b:/b:rw,rshared,Z"]


def test_bind_recursive_disabled_sent_as_non_recursive(tmp_path):
    project = _project(tmp_path, """\
        name: p
        services:
          s:
            image: busybox
            volumes: [{type: bind, source: /tmp, target: /t, bind: {recursive: disabled}}]
        """)
    assert _body(project)["HostConfig"]["Mounts"] == [
        {"Type": "bind", "Target": "/t", "Source": "/tmp",
         "BindOptions": {"CreateMountpoint": True, "NonRecursive": True}}]


@pytest.mark.parametrize("policy,restart,expected", [
    ("{condition: on-failure, max_attempts: 3}", None, {"Name": "on-failure", "MaximumRetryCount": 3}),
    ("{condition: any}", "no", {"Name": "always"}),
    ("{condition: none}", "always", {"Name": "no"}),
    ("{delay: 5s}", None, {"Name": "always"}),
    (None, "unless-stopped", {"Name": "unless-stopped"}),
])
def test_deploy_restart_policy_wins_over_restart(tmp_path, policy, restart, expected):
    lines = ["name: p", "services:", "  s:", "    image: busybox"]
    if restart:
        lines.append(f"    restart: {restart}")
    if policy:
        lines.append(f"    deploy: {{restart_policy: {policy}}}")
    project = _project(tmp_path, "\n".join(lines) + "\n")
    assert _body(project)["HostConfig"]["RestartPolicy"] == expected


def test_external_secret_refused_at_create_as_docker_compose(tmp_path):
    project = _project(tmp_path, """\
        name: p
        services:
          s: {image: busybox, secrets: [token]}
        secrets:
          token: {external: true, name: shared-token}
        """)
    with pytest.raises(UserError, match="unsupported external secret shared-token") as err:
        grant_files(project, project.services["s"], {})
    assert err.value.problems[0].path == ("services", "s", "secrets", 0)


def test_directory_source_copied_without_following_linked_directories(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.conf").write_text("a")
    (tmp_path / "d" / "sub" / "b.conf").write_text("b")
    (tmp_path / "d" / "sub" / "loop").symlink_to(tmp_path / "d")
    (tmp_path / "d" / "link.conf").symlink_to(tmp_path / "d" / "a.conf")
    project = _project(tmp_path, """\
        name: p
        services:
          s: {image: busybox, configs: [{source: c, target: /etc/d, gid: "3", mode: 0o640}]}
        configs: {c: {file: ./d}}
        """)
    files = grant_files(project, project.services["s"], {})
    with tarfile.open(fileobj=io.BytesIO(grant_archive(files))) as tar:
        members = {m.name: (m.type, m.uid, m.gid, oct(m.mode)) for m in tar.getmembers()}
    assert members == {"etc/d": (tarfile.DIRTYPE, 0, 3, "0o750"), "etc/d/a.conf": (tarfile.REGTYPE, 0, 3, "0o640"),
                       "etc/d/link.conf": (tarfile.REGTYPE, 0, 3, "0o640"),
                       "etc/d/sub": (tarfile.DIRTYPE, 0, 3, "0o750"),
                       "etc/d/sub/b.conf": (tarfile.REGTYPE, 0, 3, "0o640")}
