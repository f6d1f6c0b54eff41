"""End to end against our engine: secrets and configs with uid/gid/mode from every source, a volume subpath,
service- and network-level ``mac_address``; checked from inside the containers (``stat``, ``cat``, sysfs)."""
from __future__ import annotations

import os
import secrets

import pytest

from tests.e2e.test_up_down import busybox_engine, compose

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def engine(tmp_path_factory, busybox_tar):
    if os.geteuid() != 0:
        pytest.skip("needs root (containers)")
    with busybox_engine(tmp_path_factory.mktemp("e2e-grants") / "engine", busybox_tar) as d:
        yield d


@pytest.fixture
def project(engine, tmp_path):
    """A project dir with a unique name; ``down -v`` after the test even on failure."""
    name = "pcg" + secrets.token_hex(3)
    try:
        yield tmp_path, name
    finally:
        compose(engine, tmp_path, "-p", name, "down", "-v", "-t", "0", check=False)


def _exec(engine, container: str, *cmd: str) -> str:
    result = engine.client().containers.get(container).exec_run(list(cmd))
    assert result.exit_code == 0, result.output
    return result.output.decode()


def test_secrets_and_configs_owner_and_mode(engine, project):
    tmp, name = project
    (tmp / "token.txt").write_text("file-token")
    (tmp / "plain.txt").write_text("plain")
    (tmp / "confdir").mkdir()
    (tmp / "confdir" / "a.conf").write_text("a")
    (tmp / "compose.yaml").write_text("""
services:
  app:
    image: busybox:local
    command: ["sleep", "600"]
    secrets:
      - {source: file_secret, uid: "1001", gid: "1002", mode: 0o400}
      - {source: env_secret, target: env.txt, uid: "33", gid: "34", mode: 0o440}
      - plain_secret
    configs:
      - {source: content_cfg, target: /etc/app/app.conf, uid: "7", gid: "8", mode: 0o604}
      - {source: env_cfg, target: /tmp/env.cfg}
      - {source: dir_cfg, target: /etc/confdir, uid: "5", mode: 0o440}
secrets:
  file_secret: {file: ./token.txt}
  env_secret: {environment: SECRET_VALUE}
  plain_secret: {file: ./plain.txt}
configs:
  content_cfg: {content: "hello ${SECRET_VALUE}"}
  env_cfg: {environment: SECRET_VALUE}
  dir_cfg: {file: ./confdir}
""")
    compose(engine, tmp, "-p", name, "up", "-d", env={"SECRET_VALUE": "s3cret"})
    c = f"{name}-app-1"
    fmt = "%u %g %a %n"
    out = _exec(engine, c, "stat", "-c", fmt, "/run/secrets/file_secret", "/run/secrets/env.txt",
                "/etc/app/app.conf", "/tmp/env.cfg", "/etc/confdir", "/etc/confdir/a.conf")
    assert out.splitlines() == [
        "1001 1002 400 /run/secrets/file_secret",
        "33 34 440 /run/secrets/env.txt",
        "7 8 604 /etc/app/app.conf",
        "0 0 444 /tmp/env.cfg",
        "5 0 550 /etc/confdir",
        "5 0 440 /etc/confdir/a.conf",
    ]
    assert _exec(engine, c, "cat", "/run/secrets/file_secret", "/run/secrets/env.txt", "/etc/app/app.conf",
                 "/etc/confdir/a.conf") == "file-tokens3crethello s3creta"
    # /tmp kept its own mode: only the file was written, not its parents
    assert _exec(engine, c, "stat", "-c", "%a", "/tmp").strip() == "1777"
    # a file source without uid/gid/mode is still a read-only bind of the host file (as Docker Compose)
    assert _exec(engine, c, "cat", "/run/secrets/plain_secret") == "plain"
    (tmp / "plain.txt").write_text("changed")
    assert _exec(engine, c, "cat", "/run/secrets/plain_secret") == "changed"


def test_bad_uid_is_a_user_error(engine, project):
    tmp, name = project
    (tmp / "compose.yaml").write_text("""
services:
  app:
    image: busybox:local
    configs: [{source: c, uid: "www-data"}]
configs:
  c: {content: x}
""")
    result = compose(engine, tmp, "-p", name, "up", "-d", check=False)
    assert result.code == 1
    assert "services.app.configs[0].uid" in result.err and "numeric" in result.err, result.err


def test_volume_subpath_and_nocopy(engine, project):
    """The reader starts after the writer made the subdirectory: the subpath is resolved at start, as Docker."""
    tmp, name = project
    (tmp / "compose.yaml").write_text("""
services:
  writer:
    image: busybox:local
    command: ["sh", "-c", "mkdir -p /data/conf && echo from-writer > /data/conf/app.txt && echo top > /data/top"]
    volumes: [data:/data]
  reader:
    image: busybox:local
    command: ["sh", "-c", "ls /conf; cat /conf/app.txt; ls -A /var/www | wc -l"]
    depends_on: {writer: {condition: service_completed_successfully}}
    volumes:
      - {type: volume, source: data, target: /conf, volume: {subpath: conf}}
      - {type: volume, source: empty, target: /var/www, volume: {nocopy: true}}
volumes:
  data: {}
  empty: {}
""")
    compose(engine, tmp, "-p", name, "up", "-d")
    reader = engine.client().containers.get(f"{name}-reader-1")
    assert reader.wait(timeout=60)["StatusCode"] == 0
    assert reader.logs().decode() == "app.txt\nfrom-writer\n0\n"


def test_missing_subpath_fails_the_start(engine, project):
    tmp, name = project
    (tmp / "compose.yaml").write_text("""
services:
  app:
    image: busybox:local
    volumes: [{type: volume, source: data, target: /x, volume: {subpath: nowhere}}]
volumes:
  data: {}
""")
    result = compose(engine, tmp, "-p", name, "up", "-d", check=False)
    assert result.code != 0 and "nowhere" in result.err and "does not exist" in result.err, result.err


def _mac(engine, container: str, ifname: str) -> str:
    return _exec(engine, container, "cat", f"/sys/class/net/{ifname}/address").strip()


def test_mac_addresses(engine, project):
    tmp, name = project
    (tmp / "compose.yaml").write_text("""
services:
  one:
    image: busybox:local
    command: ["sleep", "600"]
    mac_address: 02:42:ac:11:00:aa
  two:
    image: busybox:local
    command: ["sleep", "600"]
    networks:
      front: {mac_address: "02:42:ac:11:00:bb"}
      back: {mac_address: "02:42:ac:11:00:cc"}
  three:
    image: busybox:local
    command: ["sleep", "600"]
    network_mode: bridge
    mac_address: 02:42:ac:11:00:dd
networks:
  front: {}
  back: {}
""")
    compose(engine, tmp, "-p", name, "up", "-d")
    assert _mac(engine, f"{name}-one-1", "eth0") == "02:42:ac:11:00:aa"
    two = engine.client().containers.get(f"{name}-two-1")
    nets = two.attrs["NetworkSettings"]["Networks"]
    assert nets[f"{name}_front"]["MacAddress"] == "02:42:ac:11:00:bb"
    assert nets[f"{name}_back"]["MacAddress"] == "02:42:ac:11:00:cc"
    macs = set(_exec(engine, f"{name}-two-1", "sh", "-c", "cat /sys/class/net/eth*/address").split())
    assert macs == {"02:42:ac:11:00:bb", "02:42:ac:11:00:cc"}
    assert _mac(engine, f"{name}-three-1", "eth0") == "02:42:ac:11:00:dd"  # the engine's default bridge


def test_service_mac_differing_from_its_network_refused(engine, project):
    tmp, name = project
    (tmp / "compose.yaml").write_text("""
services:
  one:
    image: busybox:local
    mac_address: 02:42:ac:11:00:aa
    networks: {default: {mac_address: "02:42:ac:11:00:ab"}}
""")
    result = compose(engine, tmp, "-p", name, "up", "-d", check=False)
    assert result.code == 1 and "should have the same value as network default" in result.err, result.err


def test_subpath_climbing_out_refused_by_the_engine(engine, project):
    tmp, name = project
    (tmp / "compose.yaml").write_text("""
services:
  app:
    image: busybox:local
    volumes: [{type: volume, source: data, target: /x, volume: {subpath: ../../etc}}]
volumes:
  data: {}
""")
    result = compose(engine, tmp, "-p", name, "up", "-d", check=False)
    assert result.code == 1 and "subpath must be a relative path within the volume" in result.err, result.err


def test_run_copies_secrets_and_configs_too(engine, project):
    """One-off ``run`` containers get the copied secrets and configs, as ``up``'s do (Docker Compose does both)."""
    tmp, name = project
    (tmp / "compose.yaml").write_text("""
services:
  app:
    image: busybox:local
    secrets: [{source: token, uid: "12", mode: 0o400}]
    configs: [{source: motd, target: /etc/motd}]
secrets:
  token: {environment: TOKEN}
configs:
  motd: {content: "hi from content"}
""")
    result = compose(engine, tmp, "-p", name, "run", "--rm", "-T", "app", "sh", "-c",
                     "stat -c '%u %a' /run/secrets/token; cat /run/secrets/token /etc/motd", env={"TOKEN": "tk"})
    assert result.out == "12 400\ntkhi from content", result.out


def test_bind_options_and_deploy_restart_policy(engine, project):
    tmp, name = project
    (tmp / "compose.yaml").write_text("""
services:
  app:
    image: busybox:local
    command: ["sleep", "600"]
    deploy: {restart_policy: {condition: on-failure, max_attempts: 2}}
    volumes:
      - ./made/here:/made
      - {type: bind, source: ./flat, target: /flat, bind: {recursive: disabled, create_host_path: true}}
      - ./z:/z:z
""")
    compose(engine, tmp, "-p", name, "up", "-d")
    assert (tmp / "made/here").is_dir() and (tmp / "flat").is_dir() and (tmp / "z").is_dir()
    app = engine.client().containers.get(f"{name}-app-1")
    assert app.attrs["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    _exec(engine, f"{name}-app-1", "touch", "/made/f", "/z/f")
    assert (tmp / "made/here/f").is_file() and (tmp / "z/f").is_file()
    compose(engine, tmp, "-p", name, "down", "-t", "0")
    (tmp / "compose.yaml").write_text("""
services:
  app:
    image: busybox:local
    volumes: [{type: bind, source: ./absent, target: /a, bind: {create_host_path: false}}]
""")
    result = compose(engine, tmp, "-p", name, "up", "-d", check=False)
    assert result.code == 1 and "bind source path does not exist" in result.err, result.err
    assert not (tmp / "absent").exists()
