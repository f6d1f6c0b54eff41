"""Mount and MAC options of the create body against the real engine (docker CLI and docker-py):
``VolumeOptions.Subpath`` (API 1.45) mounts only that part of the volume, bad subpaths are refused as Docker refuses
them (400 at create for a lexically bad one, at start for a missing one or one a symlink leads out of the volume);
``NoCopy``; bind sources made or refused at create; the container-wide ``MacAddress`` on the main endpoint."""
from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.root

_MOUNT = "type=volume,src=subvol,dst=/v"


def _seed(engine) -> None:
    engine.cli("volume", "create", "subvol")
    engine.cli("run", "--rm", "-v", "subvol:/data", "busybox", "sh", "-c",
               "mkdir -p /data/conf/inner && echo hello > /data/conf/inner/hello.txt && echo top > /data/top.txt"
               " && echo file > /data/one.txt && ln -s /etc /data/escape && ln -s conf /data/good")


def test_subpath_mounts_only_that_directory(engine):
    _seed(engine)
    out = engine.cli("run", "--rm", "--mount", _MOUNT + ",volume-subpath=conf", "busybox", "sh", "-c",
                     "ls /v; cat /v/inner/hello.txt; echo new > /v/written").stdout
    assert out == "inner\nhello\n"
    # writes land in the subdirectory of the volume, and nothing above it was visible
    out = engine.cli("run", "--rm", "-v", "subvol:/data", "busybox", "cat", "/data/conf/written").stdout
    assert out == "new\n"
    # a file, and a symlink that stays inside the volume, work too
    assert engine.cli("run", "--rm", "--mount", _MOUNT + ",volume-subpath=one.txt", "busybox",
                      "cat", "/v").stdout == "file\n"
    assert engine.cli("run", "--rm", "--mount", _MOUNT + ",volume-subpath=good/inner", "busybox",
                      "ls", "/v").stdout == "hello.txt\n"
    inspect = engine.client().api.inspect_volume("subvol")
    assert inspect["Name"] == "subvol"


def test_bad_subpaths_refused(engine):
    _seed(engine)
    for sub in ("/etc", "../../etc", "conf/../../x"):
        out = engine.cli("create", "--mount", f"{_MOUNT},volume-subpath={sub}", "busybox", check=False)
        assert out.returncode != 0
        assert "subpath must be a relative path within the volume" in out.stderr, out.stderr
    out = engine.cli("run", "--rm", "--mount", _MOUNT + ",volume-subpath=nope/deeper", "busybox", "true",
                     check=False)
    assert out.returncode != 0 and "cannot access path" in out.stderr and "does not exist" in out.stderr
    out = engine.cli("run", "--rm", "--mount", _MOUNT + ",volume-subpath=escape", "busybox", "true", check=False)
    assert out.returncode != 0 and "escapes the volume" in out.stderr, out.stderr


def test_missing_subpath_is_checked_at_start_not_create(engine):
    """As Docker: a container may be created before another one makes the subdirectory."""
    engine.cli("volume", "create", "subvol")
    cid = engine.cli("create", "--mount", _MOUNT + ",volume-subpath=later", "busybox", "ls", "/v").stdout.strip()
    out = engine.cli("start", cid, check=False)
    assert out.returncode != 0 and "does not exist" in out.stderr
    engine.cli("run", "--rm", "-v", "subvol:/data", "busybox", "sh", "-c", "mkdir /data/later; touch /data/later/x")
    engine.cli("start", "-a", cid)
    assert engine.cli("logs", cid).stdout == "x\n"


def test_anonymous_volume_with_subpath_refused(engine):
    client = engine.client()
    import docker

    with pytest.raises(docker.errors.APIError) as err:
        client.api.create_container("busybox", host_config={"Mounts": [
            {"Type": "volume", "Target": "/v", "VolumeOptions": {"Subpath": "x"}}]})
    assert err.value.status_code == 400 and "anonymous" in str(err.value)


def test_nocopy_keeps_the_image_content_out(engine):
    """``nocopy``: a new volume over a non-empty image directory stays empty, at create and at start."""
    out = engine.cli("run", "--rm", "--mount", "type=volume,src=nocopyvol,dst=/var/www,volume-nocopy", "busybox",
                     "ls", "-A", "/var/www").stdout
    assert out == ""
    out = engine.cli("run", "--rm", "--mount", "type=volume,src=copyvol,dst=/var/www", "busybox",
                     "ls", "/var/www").stdout
    assert out == "index.html\n"


def test_bind_sources_made_or_refused_at_create(engine, tmp_path):
    """``Binds`` (``-v``) make a missing host directory; ``Mounts`` make it only with ``CreateMountpoint``
    (Compose's ``bind.create_host_path``), else the create is refused with Docker's message."""
    made = tmp_path / "made-by-binds" / "deep"
    engine.cli("run", "--rm", "-v", f"{made}:/x", "busybox", "touch", "/x/f")
    assert (made / "f").is_file()
    missing = tmp_path / "not-there"
    out = engine.cli("create", "--mount", f"type=bind,src={missing},dst=/x", "busybox", check=False)
    assert out.returncode != 0 and f"bind source path does not exist: {missing}" in out.stderr
    assert not missing.exists()
    client = engine.client()
    cid = client.api.create_container("busybox", "true", host_config={"Mounts": [
        {"Type": "bind", "Source": str(missing), "Target": "/x", "BindOptions": {"CreateMountpoint": True}}]})["Id"]
    client.api.remove_container(cid)
    assert missing.is_dir()


def test_container_wide_mac_address_moves_to_the_main_endpoint(engine):
    """``Config.MacAddress`` (docker-py's ``mac_address=``, API < 1.44 clients) lands on the main network's
    interface; a different endpoint MAC is refused as Docker refuses it."""
    import docker

    client = engine.client()
    cid = client.api.create_container("busybox", ["cat", "/sys/class/net/eth0/address"],
                                      mac_address="02:42:ac:11:00:7e")["Id"]
    try:
        client.api.start(cid)
        assert client.api.wait(cid, timeout=60)["StatusCode"] == 0
        assert client.api.logs(cid).decode() == "02:42:ac:11:00:7e\n"
    finally:
        client.api.remove_container(cid, force=True)
    with pytest.raises(docker.errors.APIError) as err:
        client.api.create_container("busybox", "true", mac_address="02:42:ac:11:00:7e", networking_config={
            "EndpointsConfig": {"bridge": {"MacAddress": "02:42:ac:11:00:7f"}}})
    assert err.value.status_code == 400 and "must match the endpoint-specific MAC address" in str(err.value)


def _mounted(path) -> bool:
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == str(path) for line in fh)


def test_pinned_subpath_is_the_checked_inode(tmp_path):
    """``pin_subpath`` mounts the inode it checked: a directory swapped for a symlink out of the volume afterwards
    changes nothing in the pinned mount; a symlink out is refused; release unmounts and removes the pin."""
    from runtime.errors import InvalidArgument
    from runtime.volumes import VolumeService

    svc = VolumeService(tmp_path / "root")
    svc.create("pinvol")
    data = svc.data_path("pinvol")
    (data / "conf").mkdir()
    (data / "conf" / "app.txt").write_text("original")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("host file")
    (data / "out").symlink_to(outside)
    pin = None
    try:
        pin = svc.pin_subpath("pinvol", "conf", "tok1", "c1")
        assert _mounted(pin) and (pin / "app.txt").read_text() == "original"
        (data / "conf").rename(data / "conf.old")
        (data / "conf").symlink_to(outside)  # what a container could do once the check passed
        assert sorted(p.name for p in pin.iterdir()) == ["app.txt"]
        with pytest.raises(InvalidArgument, match="escapes the volume"):
            svc.pin_subpath("pinvol", "out", "tok2", "c1")
        with pytest.raises(InvalidArgument, match="does not exist"):
            svc.pin_subpath("pinvol", "missing", "tok3", "c1")
        assert svc.get("pinvol").pins == {"tok1": "c1"}
        svc.release("pinvol", "c1")
        assert not _mounted(pin) and not pin.exists() and svc.get("pinvol").pins == {}
        assert (outside / "secret.txt").read_text() == "host file"
    finally:
        while pin is not None and _mounted(pin):
            os.system(f"umount -l {pin}")
