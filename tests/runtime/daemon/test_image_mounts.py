"""``Mounts[].Type = "image"`` (Engine API 1.47+): an image's filesystem, all its layers, read-only at the target
(or one directory of it: ``ImageOptions.Subpath``); 404 for a missing image; the image is in use while the
container exists."""
from __future__ import annotations

import docker
import pytest

from tests.runtime.build.conftest import tar_of

pytestmark = pytest.mark.root


@pytest.fixture
def layered(engine):
    """``layered:1``: two layers (an import, then a commit of a container that added a file)."""
    api = engine.client().api
    api.import_image_from_data(tar_of({"data/base.txt": b"base\n", "data/sub/deep.txt": b"deep\n"}),
                               repository="layered", tag="0")
    c = api.create_container("layered:0", ["/none"], host_config=api.create_host_config(network_mode="none"))
    try:
        api.put_archive(c["Id"], "/", tar_of({"data/top.txt": b"top\n"}))
        api.commit(c["Id"], repository="layered", tag="1")
    finally:
        api.remove_container(c, force=True)
    api.remove_image("layered:0")
    assert len(api.inspect_image("layered:1")["RootFS"]["Layers"]) == 2
    return "layered:1"


def _run(engine, mounts: list[dict], cmd: str) -> tuple[int, str]:
    api = engine.client().api
    c = api.create_container("busybox:latest", ["sh", "-c", cmd],
                             host_config={"NetworkMode": "none", "Mounts": mounts})
    try:
        api.start(c)
        code = api.wait(c, timeout=30)["StatusCode"]
        return code, api.logs(c).decode()
    finally:
        api.remove_container(c, force=True)


def test_image_mount_shows_every_layer_read_only(engine, layered):
    code, out = _run(engine, [{"Type": "image", "Source": layered, "Target": "/mnt/img"}],
                     "cat /mnt/img/data/base.txt /mnt/img/data/top.txt /mnt/img/data/sub/deep.txt; "
                     "touch /mnt/img/new 2>&1; grep ' /mnt/img ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[:3] == ["base", "top", "deep"]
    assert "Read-only file system" in lines[3]
    assert lines[4] == "ro"


def test_image_mount_subpath(engine, layered):
    mounts = [{"Type": "image", "Source": layered, "Target": "/sub", "ImageOptions": {"Subpath": "data/sub"}}]
    code, out = _run(engine, mounts, "ls /sub; cat /sub/deep.txt")
    assert (code, out) == (0, "deep.txt\ndeep\n")


def test_image_mount_subpath_missing_fails_the_start(engine, layered):
    api = engine.client().api
    mounts = [{"Type": "image", "Source": layered, "Target": "/sub", "ImageOptions": {"Subpath": "no/such"}}]
    c = api.create_container("busybox:latest", ["true"], host_config={"NetworkMode": "none", "Mounts": mounts})
    try:
        with pytest.raises(docker.errors.APIError) as info:
            api.start(c)
        assert "no/such" in info.value.explanation
    finally:
        api.remove_container(c, force=True)


def test_image_mount_subpath_must_stay_inside(engine, layered):
    api = engine.client().api
    mounts = [{"Type": "image", "Source": layered, "Target": "/sub", "ImageOptions": {"Subpath": "../etc"}}]
    with pytest.raises(docker.errors.APIError) as info:
        api.create_container("busybox:latest", ["true"], host_config={"NetworkMode": "none", "Mounts": mounts})
    assert info.value.status_code == 400


def test_image_mount_of_a_missing_image_is_404(engine):
    api = engine.client().api
    with pytest.raises(docker.errors.APIError) as info:
        api.create_container("busybox:latest", ["true"], host_config={
            "NetworkMode": "none", "Mounts": [{"Type": "image", "Source": "nope:1", "Target": "/x"}]})
    assert info.value.status_code == 404
    assert info.value.explanation == "No such image: nope:1"


def test_mounted_image_is_in_use(engine, layered):
    api = engine.client().api
    image_id = api.inspect_image(layered)["Id"]
    c = api.create_container("busybox:latest", ["true"], host_config={
        "NetworkMode": "none", "Mounts": [{"Type": "image", "Source": layered, "Target": "/x"}]})
    try:
        entry = [m for m in api.inspect_container(c)["Mounts"] if m["Destination"] == "/x"]
        assert entry and entry[0]["Type"] == "image" and entry[0]["RW"] is False
        with pytest.raises(docker.errors.APIError) as info:
            api.remove_image(image_id)
        assert info.value.status_code == 409
        assert "being used by container" in info.value.explanation
        api.remove_image(layered, force=True)  # untagged, kept (dangling) for the container
        assert api.inspect_image(image_id)["Id"] == image_id
        api.start(c)
        assert api.wait(c, timeout=30)["StatusCode"] == 0
    finally:
        api.remove_container(c, force=True)
    api.remove_image(image_id)
    with pytest.raises(docker.errors.ImageNotFound):
        api.inspect_image(image_id)


def test_docker_cli_mount_type_image(engine, layered):
    out = engine.cli("run", "--rm", "--network", "none", "--mount",
                     f"type=image,source={layered},target=/deep,image-subpath=data/sub", "busybox:latest",
                     "cat", "/deep/deep.txt")
    assert out.stdout == "deep\n"
    missing = engine.cli("run", "--rm", "--pull", "never", "--mount", "type=image,source=pcnope:1,target=/x",
                         "busybox:latest", "true", check=False)
    assert missing.returncode != 0 and "No such image: pcnope:1" in missing.stderr
