"""Named volumes through docker-py and the docker CLI, driver options, in-use refusal, prune, copy-up."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import docker
import pytest

from runtime.errors import Conflict, InvalidArgument
from runtime.volumes import VolumeService


def test_volume_lifecycle_docker_py(daemon):
    client = daemon.client()
    vol = client.volumes.create("data1", labels={"com.docker.compose.project": "p1"})
    assert vol.attrs["Mountpoint"] == str(daemon.root / "volumes/data1/_data")
    assert Path(vol.attrs["Mountpoint"]).is_dir()
    client.volumes.create("data2")
    names = {v.name for v in client.volumes.list(filters={"label": "com.docker.compose.project=p1"})}
    assert names == {"data1"}
    assert {v.name for v in client.volumes.list(filters={"name": "data"})} == {"data1", "data2"}
    assert client.volumes.get("data1").attrs["Labels"] == {"com.docker.compose.project": "p1"}
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("nope")
    with pytest.raises(docker.errors.APIError) as err:
        client.volumes.create("bad/name")
    assert err.value.status_code == 400
    vol.remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("data1")
    anon = client.api.create_volume()
    assert len(anon["Name"]) == 64
    pruned = client.volumes.prune()
    assert pruned["VolumesDeleted"] == [anon["Name"]]
    assert client.volumes.prune(filters={"all": "true"})["VolumesDeleted"] == ["data2"]


def test_volume_cli(daemon):
    assert daemon.cli("volume", "create", "clivol").stdout.strip() == "clivol"
    assert "clivol" in daemon.cli("volume", "ls", "-q").stdout.split()
    assert daemon.cli("volume", "inspect", "-f", "{{.Driver}}", "clivol").stdout.strip() == "local"
    daemon.cli("volume", "rm", "clivol")
    out = daemon.cli("volume", "rm", "clivol", check=False)
    assert out.returncode != 0 and "no such volume" in out.stderr


def test_bad_driver_options_refused(tmp_path):
    svc = VolumeService(tmp_path)
    with pytest.raises(InvalidArgument, match="invalid option key"):
        svc.create("vv", options={"colour": "blue"})
    with pytest.raises(InvalidArgument, match="device"):
        svc.create("vv", options={"type": "ext4"})


def test_in_use_volume_is_not_removed(tmp_path):
    svc = VolumeService(tmp_path)
    svc.create("shared")
    svc.acquire("shared", "c1")
    with pytest.raises(Conflict, match="in use"):
        svc.remove("shared")
    assert svc.prune(all_volumes=True) == ([], 0)
    svc.release("shared", "c1")
    svc.remove("shared")
    assert svc.list() == []


def test_copy_up_fills_only_an_empty_volume(tmp_path):
    image_dir = tmp_path / "image/var/lib/app"
    (image_dir / "sub").mkdir(parents=True)
    (image_dir / "seed.txt").write_text("seed")
    os.chmod(image_dir / "sub", 0o750)
    (image_dir / "link").symlink_to("seed.txt")
    svc = VolumeService(tmp_path / "root")
    svc.create("appdata")
    assert svc.fill("appdata", image_dir)
    data = svc.data_path("appdata")
    assert (data / "seed.txt").read_text() == "seed"
    assert os.readlink(data / "link") == "seed.txt"
    assert (os.stat(data / "sub").st_mode & 0o777) == 0o750
    (image_dir / "more.txt").write_text("x")
    assert not svc.fill("appdata", image_dir)
    assert not (data / "more.txt").exists()


def _mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == target for line in fh)


@pytest.mark.root
def test_tmpfs_volume_mounted_while_used(tmp_path):
    svc = VolumeService(tmp_path)
    name = "pct" + secrets.token_hex(3)
    svc.create(name, options={"type": "tmpfs", "device": "tmpfs", "o": "size=1m,nodev"})
    data = svc.data_path(name)
    try:
        svc.acquire(name, "c1")
        assert svc.mount(name, "c1") == data
        svc.mount(name, "c2")
        assert _mounted(data)
        (data / "f").write_text("in tmpfs")
        svc.unmount(name, "c1")
        assert _mounted(data)
        svc.unmount(name, "c2")
        assert not _mounted(data)
        assert not (data / "f").exists()
    finally:
        while _mounted(data):
            os.system(f"umount -l {data}")


@pytest.mark.root
def test_bind_volume(tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    (host / "hello").write_text("from host")
    svc = VolumeService(tmp_path / "root")
    svc.create("bindvol", options={"type": "none", "o": "bind", "device": str(host)})
    try:
        path = svc.mount("bindvol", "c1")
        assert (path / "hello").read_text() == "from host"
    finally:
        svc.unmount("bindvol", "c1")
    assert not _mounted(svc.data_path("bindvol"))


@pytest.mark.root
def test_tmpfs_volume_through_a_container(engine):
    engine.cli("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=2m", "tmpvol")
    out = engine.cli("run", "--rm", "-v", "tmpvol:/data", "busybox", "sh", "-c",
                     "grep ' /data ' /proc/mounts | cut -d' ' -f3; echo x > /data/f; cat /data/f").stdout
    assert out == "tmpfs\nx\n"
    data = engine.root / "volumes/tmpvol/_data"
    assert not _mounted(data)  # unmounted with its last user
    engine.cli("volume", "rm", "tmpvol")
