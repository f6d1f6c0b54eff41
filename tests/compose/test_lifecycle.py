"""Lifecycle pieces without an engine: hook normalisation, the device/blkio create fields, ``label_file`` contents
in the config hash, which services ``up`` attaches to, anonymous volumes carried over on a recreate, and the
keys that no longer warn."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from compose.cli.up import attached_services
from compose.confighash import service_hash
from compose.engine.createbody import ContainerSpec, create_body
from compose.errors import UserError
from compose.execute import inherit_anonymous_volumes
from compose.hooks import Hook, hooks_of
from compose.loader import LoadOptions
from compose.project import load_project
from compose.validate import check

from ._build import project_from_yaml


def _load(tmp_path: Path, services: str) -> Any:
    (tmp_path / "compose.yaml").write_text("name: p\nservices:\n" + textwrap.indent(textwrap.dedent(services), "  "))
    return load_project(LoadOptions(files=[str(tmp_path / "compose.yaml")])).project


def test_hooks_are_normalised_in_file_order():
    project = project_from_yaml("""
services:
  web:
    image: busybox
    post_start:
      - command: sh -c 'echo "a b" > /x'
        user: "1000"
        privileged: "true"
        working_dir: /tmp
        environment: [A=1, B=, BARE]
      - command: [touch, /y]
        environment: {C: "3", D: null}
    pre_stop:
      - command: ["true"]
""")
    web = project.services["web"]
    assert hooks_of(web, "post_start") == [
        Hook(("sh", "-c", 'echo "a b" > /x'), "1000", True, "/tmp", {"A": "1", "B": ""},
             ("services", "web", "post_start", 0)),
        Hook(("touch", "/y"), None, False, None, {"C": "3"}, ("services", "web", "post_start", 1)),
    ]
    assert hooks_of(web, "pre_stop") == [Hook(("true",), path=("services", "web", "pre_stop", 0))]
    assert hooks_of(project_from_yaml("services: {a: {image: x}}").services["a"], "post_start") == []


def test_bad_hook_fields_are_user_errors_with_the_key_path():
    web = project_from_yaml("services:\n  web:\n    image: x\n    pre_stop: [{command: \"a 'b\"}]\n").services["web"]
    with pytest.raises(UserError) as err:
        hooks_of(web, "pre_stop")
    assert err.value.problems[0].path == ("services", "web", "pre_stop", 0, "command")
    web = project_from_yaml("services:\n  web:\n    image: x\n    pre_stop: [{command: a, privileged: maybe}]\n"
                            ).services["web"]
    with pytest.raises(UserError) as err:
        hooks_of(web, "pre_stop")
    assert err.value.problems[0].path == ("services", "web", "pre_stop", 0, "privileged")


def test_device_cgroup_rules_and_blkio_devices_go_in_host_config(tmp_path):
    project = _load(tmp_path, """
        s:
          image: busybox
          device_cgroup_rules: ["c 1:3 mr", "b 7:* rmw"]
          blkio_config:
            weight: 300
            weight_device: [{path: /dev/sda, weight: 400}]
            device_read_bps: [{path: /dev/sda, rate: 1mb}]
            device_write_bps: [{path: /dev/sdb, rate: "512k"}]
            device_read_iops: [{path: /dev/sda, rate: 100}]
            device_write_iops: [{path: /dev/sda, rate: 50}]
    """)
    host = create_body(project, project.services["s"], ContainerSpec(1, "h"))["HostConfig"]
    assert host["DeviceCgroupRules"] == ["c 1:3 mr", "b 7:* rmw"]
    assert host["BlkioWeight"] == 300
    assert host["BlkioWeightDevice"] == [{"Path": "/dev/sda", "Weight": 400}]
    assert host["BlkioDeviceReadBps"] == [{"Path": "/dev/sda", "Rate": 1 << 20}]
    assert host["BlkioDeviceWriteBps"] == [{"Path": "/dev/sdb", "Rate": 512 << 10}]
    assert host["BlkioDeviceReadIOps"] == [{"Path": "/dev/sda", "Rate": 100}]
    assert host["BlkioDeviceWriteIOps"] == [{"Path": "/dev/sda", "Rate": 50}]
    plain = _load(tmp_path, "s: {image: busybox}\n")
    host = create_body(plain, plain.services["s"], ContainerSpec(1, "h"))["HostConfig"]
    assert not {"DeviceCgroupRules", "BlkioWeightDevice", "BlkioDeviceReadBps"} & set(host)


def test_keys_now_acted_on_do_not_warn():
    doc = {"services": {"a": {"image": "x", "device_cgroup_rules": ["c 1:3 r"], "post_start": [{"command": "true"}],
                              "pre_stop": [{"command": "true"}],
                              "blkio_config": {"device_read_bps": [{"path": "/dev/sda", "rate": 1}]}}}}
    errors, warnings = check(doc, None)
    assert errors == [] and warnings == []


def test_label_file_contents_change_the_hash(tmp_path):
    labels = tmp_path / "labels.env"
    labels.write_text("team=a\n")
    text = "services:\n  web:\n    image: x\n    label_file: ./labels.env\n"
    first = service_hash(project_from_yaml(text, project_dir=tmp_path), "web")
    assert service_hash(project_from_yaml(text, project_dir=tmp_path), "web") == first
    labels.write_text("team=b\n")
    second = service_hash(project_from_yaml(text, project_dir=tmp_path), "web")
    assert second != first
    labels.unlink()  # unreadable: still a hash (the create reports the missing file with its key path)
    assert service_hash(project_from_yaml(text, project_dir=tmp_path), "web") not in (first, second)


def test_attach_false_services_are_not_followed_unless_named():
    project = project_from_yaml("""
services:
  web: {image: x}
  db: {image: x, attach: false}
  cache: {image: x, attach: true}
""")
    every = ["cache", "db", "web"]
    assert attached_services(project, every, [], None, None, False) == ["cache", "web"]
    assert attached_services(project, every, [], ["db"], None, False) == ["db"]
    assert attached_services(project, every, ["db", "web"], None, None, False) == ["web"]
    assert attached_services(project, every, ["web"], None, None, True) == ["cache", "web"]
    assert attached_services(project, every, [], None, ["web"], False) == ["cache"]


ANON = "a" * 64
IMAGE_VOL = "b" * 64


def test_a_recreate_takes_the_old_anonymous_volumes():
    body = {"HostConfig": {"Mounts": [{"Type": "volume", "Target": "/data"},
                                      {"Type": "volume", "Source": "p_named", "Target": "/named"}],
                           "Binds": ["/host:/bound:rw"]}}
    old = {"Mounts": [
        {"Type": "volume", "Name": ANON, "Destination": "/data"},
        {"Type": "volume", "Name": "p_named", "Destination": "/named"},
        {"Type": "volume", "Name": IMAGE_VOL, "Destination": "/var/lib/image-volume/"},
        {"Type": "volume", "Name": "c" * 64, "Destination": "/bound"},  # now a bind: not carried
        {"Type": "bind", "Source": "/host", "Destination": "/elsewhere"},
    ]}
    inherit_anonymous_volumes(body, old)
    assert body["HostConfig"]["Mounts"] == [
        {"Type": "volume", "Target": "/data", "Source": ANON},
        {"Type": "volume", "Source": "p_named", "Target": "/named"},
        {"Type": "volume", "Source": IMAGE_VOL, "Target": "/var/lib/image-volume"},
    ]
    untouched = {"HostConfig": {}}
    inherit_anonymous_volumes(untouched, {"Mounts": [{"Type": "volume", "Name": "p_named", "Destination": "/x"}]})
    assert untouched == {"HostConfig": {}}


def test_force_recreate_is_for_the_named_services_and_not_their_dependencies(tmp_path):
    from compose.plan import UpOptions, plan_up

    from .test_plan import HELLO, _everything_up, _project

    project = _project(tmp_path, HELLO)
    observed = _everything_up(project)
    named = str(plan_up(project, observed, UpOptions(services=["client"], force_recreate=True)))
    assert "CREATE_CONTAINER hello-client-1: --force-recreate" in named
    assert "CREATE_CONTAINER hello-web-1" not in named and "STOP_CONTAINER hello-web-1" not in named  # a
    # dependency: recreated only when it changed, as Docker Compose
    both = str(plan_up(project, observed, UpOptions(services=["client"], force_recreate=True,
                                                    always_recreate_deps=True)))
    assert "CREATE_CONTAINER hello-web-1: --always-recreate-deps" in both
    assert "CREATE_CONTAINER hello-client-1: --force-recreate" in both
    every = str(plan_up(project, observed, UpOptions(force_recreate=True)))
    assert "CREATE_CONTAINER hello-web-1: --force-recreate" in every
