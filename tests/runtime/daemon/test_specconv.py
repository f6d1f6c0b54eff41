"""Engine API create bodies become ContainerSpecs with Docker's rules."""
from __future__ import annotations

import pytest

from runtime.daemon.specconv import VolumeUse, convert, parse_binds
from runtime.errors import InvalidArgument

IMG = {"Env": ["PATH=/usr/bin:/bin", "A=image"], "Cmd": ["sh"], "Entrypoint": None, "WorkingDir": "/srv",
       "Volumes": {"/data": {}}, "Labels": {"from": "image"}, "StopSignal": "SIGQUIT"}
CID = "0123456789ab" + "c" * 52


def test_cmd_entrypoint_env_and_defaults():
    conv = convert({"Image": "bb", "Cmd": ["echo", "hi"], "Env": ["A=body", "B=2"], "Labels": {"x": "y"}},
                   IMG, container_id=CID, image="bb")
    spec = conv.spec
    assert spec.args == ("echo", "hi")
    assert spec.env == ("PATH=/usr/bin:/bin", "A=body", "B=2")  # HOSTNAME: added by the init at start
    assert spec.working_dir == "/srv" and spec.hostname == "0123456789ab"
    assert spec.labels == {"from": "image", "x": "y"} and spec.stop_signal == "SIGQUIT"
    assert conv.volumes == [VolumeUse("", "/data")]
    assert conv.restart == {"Name": "no", "MaximumRetryCount": 0}
    assert convert({"Image": "bb"}, IMG, container_id=CID, image="bb").spec.args == ("sh",)
    img = dict(IMG, Entrypoint=["/entry"])
    assert convert({"Entrypoint": ["/other"]}, img, container_id=CID, image="bb").spec.args == ("/other",)
    assert convert({"Cmd": ["x"]}, img, container_id=CID, image="bb").spec.args == ("/entry", "x")


def test_mounts_ports_and_host_settings():
    body = {"HostConfig": {"Binds": ["/srv/www:/www:ro", "named:/var/lib/x"],
                           "Mounts": [{"Type": "tmpfs", "Target": "/run/t", "TmpfsOptions": {"SizeBytes": 1024}}],
                           "Tmpfs": {"/cache": "size=1m,mode=700"},
                           "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
                           "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
                           "Memory": 64 << 20, "PidMode": "host", "SecurityOpt": ["no-new-privileges"],
                           "Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}],
                           "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}}},
            "Cmd": ["true"]}
    conv = convert(body, {}, container_id=CID, image="bb")
    by_target = {m.target: m for m in conv.spec.mounts}
    assert by_target["/www"].source == "/srv/www" and by_target["/www"].read_only
    assert by_target["/run/t"].tmpfs_size == 1024
    assert by_target["/cache"].tmpfs_size == 1 << 20 and by_target["/cache"].tmpfs_mode == 0o700
    assert conv.volumes == [VolumeUse("named", "/var/lib/x")]
    assert [(p.container_port, p.host_ip, p.host_port) for p in conv.ports] == [(80, "127.0.0.1", 8080)]
    assert conv.restart == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert "pid" not in conv.spec.namespaces and conv.spec.no_new_privs
    assert conv.spec.resources.memory == 64 << 20
    assert conv.spec.log.max_size == 1 << 20 and conv.spec.log.max_file == 2
    assert conv.spec.ulimits[0].soft == 100


@pytest.mark.parametrize("body,msg", [
    ({"Image": "bb", "Entrypoint": [""], "Cmd": None}, "no command"),
    ({"Cmd": ["x"], "HostConfig": {"Binds": ["relative"]}}, "invalid volume specification"),
    ({"Cmd": ["x"], "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}, "restart policy"),
    ({"Cmd": ["x"], "HostConfig": {"AutoRemove": True, "RestartPolicy": {"Name": "always"}}}, "--rm"),
    ({"Cmd": ["x"], "StopSignal": "SIGNOPE"}, "stop signal"),
    ({"Cmd": ["x"], "Healthcheck": {"Test": ["BOGUS"]}}, "Healthcheck"),
    ({"Cmd": ["x"], "HostConfig": {"Memory": 1000}}, "Minimum memory limit allowed is 6MB"),
])
def test_bad_bodies_refused(body, msg):
    with pytest.raises(InvalidArgument, match=msg):
        convert(body, {}, container_id=CID, image="bb")


def test_parse_binds_named_and_nocopy():
    mounts, vols = parse_binds(["v1:/a:ro,nocopy"])
    assert mounts == [] and vols == [VolumeUse("v1", "/a", True, True)]
