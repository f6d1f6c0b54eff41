"""End to end against our engine: ``type: image`` volumes (whole image and ``image.subpath``) and
``bind.recursive`` (``readonly``, ``writable``) in a compose file, checked from inside the container; the mounted
image is in use until ``down``; an image volume's image is pulled by ``up`` and ``pull`` from a real registry."""
from __future__ import annotations

import contextlib
import os
import secrets
import subprocess

import docker
import pytest

from tests.e2e.test_up_down import busybox_engine, compose
from tests.registry.conftest import registry_factory  # noqa: F401 - the fixture, used by name below
from tests.runtime.build.conftest import tar_of

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def engine(tmp_path_factory, busybox_tar):
    if os.geteuid() != 0:
        pytest.skip("needs root (containers)")
    with busybox_engine(tmp_path_factory.mktemp("e2e-imgmnt") / "engine", busybox_tar) as d:
        d.client().api.import_image_from_data(tar_of({"data/top.txt": b"top\n", "data/sub/deep.txt": b"deep\n"}),
                                              repository="pcdata", tag="1")
        yield d


@pytest.fixture
def project(engine, tmp_path):
    """A project dir with a unique name and a host tree ``tree/`` holding a tmpfs at ``tree/sub``; ``down -v`` and
    the unmount after the test even on failure."""
    name = "pci" + secrets.token_hex(3)
    sub = tmp_path / "tree" / "sub"
    sub.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "pcimnt", str(sub)], check=True)
    try:
        yield tmp_path, name
    finally:
        compose(engine, tmp_path, "-p", name, "down", "-v", "-t", "0", check=False)
        subprocess.run(["umount", "-l", str(sub)], check=True)


def _sh(engine, container: str, script: str) -> str:
    result = engine.client().containers.get(container).exec_run(["sh", "-c", script])
    assert result.exit_code == 0, result.output
    return result.output.decode()


def test_image_volumes_and_recursive_binds(engine, project):
    tmp, name = project
    (tmp / "compose.yaml").write_text("""
services:
  app:
    image: busybox:local
    command: ["sleep", "600"]
    volumes:
      - {type: image, source: "pcdata:1", target: /img}
      - {type: image, source: "pcdata:1", target: /deep, image: {subpath: data/sub}}
      - {type: bind, source: ./tree, target: /ro, read_only: true, bind: {recursive: readonly}}
      - {type: bind, source: ./tree, target: /rw, read_only: true, bind: {recursive: writable}}
""")
    compose(engine, tmp, "-p", name, "up", "-d")
    c = f"{name}-app-1"
    assert _sh(engine, c, "cat /img/data/top.txt /img/data/sub/deep.txt; ls /deep") == "top\ndeep\ndeep.txt\n"
    probe = ("for p in /img/x /deep/x /ro/x /ro/sub/x /rw/x /rw/sub/x; do "
             "touch $p 2>/dev/null && echo $p rw || echo $p ro; done")
    assert _sh(engine, c, probe).split("\n")[:-1] == [
        "/img/x ro", "/deep/x ro", "/ro/x ro", "/ro/sub/x ro", "/rw/x ro", "/rw/sub/x rw"]
    assert (tmp / "tree" / "sub" / "x").exists()  # the writable submount is the host's tmpfs

    api = engine.client().api
    with pytest.raises(docker.errors.APIError) as info:
        api.remove_image("pcdata:1")
    assert info.value.status_code == 409
    compose(engine, tmp, "-p", name, "down", "-t", "0")
    image_id = api.inspect_image("pcdata:1")["Id"]
    api.remove_image("pcdata:1")  # no container mounts it any more
    with pytest.raises(docker.errors.ImageNotFound):
        api.inspect_image(image_id)


def test_image_volume_is_pulled_from_a_registry_by_up_and_pull(engine, project, registry_factory):  # noqa: F811
    tmp, name = project
    reg = registry_factory()
    api = engine.client().api
    ref = f"{reg.host}/pc/data{name}:1"
    api.import_image_from_data(tar_of({"data/top.txt": b"top\n"}), repository=f"{reg.host}/pc/data{name}", tag="1")
    pushed = api.inspect_image(ref)["Id"]
    api.push(f"{reg.host}/pc/data{name}", "1")
    api.remove_image(ref)
    (tmp / "compose.yaml").write_text(f"""
services:
  app:
    image: busybox:local
    command: ["sleep", "600"]
    volumes:
      - {{type: image, source: "{ref}", target: /img, image: {{subpath: data}}}}
""")
    try:
        up = compose(engine, tmp, "-p", name, "up", "-d")
        assert ref in up.out + up.err  # the pull is shown as a step of its own
        assert _sh(engine, f"{name}-app-1", "cat /img/top.txt") == "top\n"
        assert api.inspect_image(ref)["Id"] == pushed
        compose(engine, tmp, "-p", name, "down", "-t", "0")
        api.remove_image(ref)
        compose(engine, tmp, "-p", name, "pull", "--policy", "missing")  # busybox:local is not in a registry
        assert api.inspect_image(ref)["Id"] == pushed
    finally:
        compose(engine, tmp, "-p", name, "down", "-t", "0", check=False)
        with contextlib.suppress(docker.errors.ImageNotFound):
            api.remove_image(ref)


def test_missing_image_for_an_image_volume_is_one_line(engine, project, registry_factory):  # noqa: F811
    tmp, name = project
    reg = registry_factory()
    (tmp / "compose.yaml").write_text(f"""
services:
  app:
    image: busybox:local
    command: ["true"]
    volumes:
      - {{type: image, source: "{reg.host}/pc/nope:1", target: /img}}
""")
    result = compose(engine, tmp, "-p", name, "up", "-d", check=False)
    assert result.code != 0
    assert f"{reg.host}/pc/nope:1" in result.err and "not found" in result.err.lower(), result.err
    never = compose(engine, tmp, "-p", name, "up", "-d", "--pull", "never", check=False)
    assert never.code == 1
    assert "services.app.volumes[0].source" in never.err and "--pull never" in never.err, never.err
