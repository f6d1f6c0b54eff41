"""A create checks the spec, takes the name and makes the state dir while the network sandbox is made
(``check``, ``reserve``), then writes the config: whatever fails on the way leaves no state dir and no taken name
behind."""
from __future__ import annotations

from pathlib import Path

import docker
import pytest

pytestmark = pytest.mark.root


def _state_dirs(engine) -> set[str]:
    return {p.name for p in (engine.root / "containers").iterdir() if len(p.name) == 64}


def _names(engine) -> set[str]:
    return {p.name for p in (engine.root / "containers" / ".names").iterdir()}


def test_failed_creates_leave_no_state_dir_or_name(engine):
    client = engine.client()
    kept = client.containers.create("busybox", ["true"], name="kept", network_mode="none")
    before_dirs, before_names = _state_dirs(engine), _names(engine)
    assert before_dirs == {kept.id} and before_names == {"kept"}
    with pytest.raises(docker.errors.APIError):  # refused by the spec's checks, before the reservation
        client.containers.create("busybox", ["true"], name="twice", cap_add=["NOT_A_CAP"], network_mode="none")
    with pytest.raises(docker.errors.NotFound):  # refused by the sandbox, while the reservation is made
        client.containers.create("busybox", ["true"], name="twice", network_mode="container:nosuchcontainer")
    with pytest.raises(docker.errors.APIError, match="already in use"):  # refused by the reservation
        client.containers.create("busybox", ["true"], name="kept", network_mode="none")
    assert _state_dirs(engine) == before_dirs and _names(engine) == before_names
    again = client.containers.create("busybox", ["true"], name="twice", network_mode="none")
    assert again.name == "twice" and _state_dirs(engine) == before_dirs | {again.id}
    again.start()
    assert again.wait(timeout=60)["StatusCode"] == 0
    again.remove()
    kept.remove()


def _sandboxes(where: Path) -> set[str]:
    from runtime.network.netns import is_netns_file

    return {p.name for p in where.iterdir() if is_netns_file(p)}


def test_sandbox_made_beside_a_create_that_fails_is_removed(engine, tmp_path):
    """The sandbox is made while the image is looked up and the body converted: a create refused there (no such
    image, a bind source that does not exist, a bad stop signal) leaves no sandbox, no state dir, no name."""
    client = engine.client()
    kept = client.containers.create("busybox", ["true"], name="kept", network_mode="none")
    where = Path(kept.attrs["NetworkSettings"]["SandboxKey"]).parent
    before = (_state_dirs(engine), _names(engine), _sandboxes(where))
    assert len(before[2]) == 1  # kept's
    with pytest.raises(docker.errors.ImageNotFound):
        client.containers.create("nosuchimage", ["true"], name="gone", network_mode="none")
    with pytest.raises(docker.errors.APIError):
        client.containers.create("busybox", ["true"], name="gone", network_mode="none",
                                 mounts=[docker.types.Mount("/x", str(tmp_path / "nosuchdir"), type="bind")])
    with pytest.raises(docker.errors.APIError, match="stop signal"):
        client.containers.create("busybox", ["true"], name="gone", network_mode="none", stop_signal="SIGNOPE")
    assert (_state_dirs(engine), _names(engine), _sandboxes(where)) == before
    kept.remove()


def test_volumes_taken_by_a_create_refused_later_are_free_again(engine):
    """Volumes are taken while the body is converted, before the name is reserved: a create refused at the
    reservation (name in use) or by the sandbox releases them in the same worker-thread hop."""
    client = engine.client()
    kept = client.containers.create("busybox", ["true"], name="kept", network_mode="none")
    before = (_state_dirs(engine), _names(engine))
    with pytest.raises(docker.errors.APIError, match="already in use"):
        client.containers.create("busybox", ["true"], name="kept", network_mode="none", volumes=["held1:/data"])
    with pytest.raises(docker.errors.NotFound):
        client.containers.create("busybox", ["true"], name="other", volumes=["held2:/data"],
                                 network_mode="container:nosuchcontainer")
    assert (_state_dirs(engine), _names(engine)) == before
    made = {v.name for v in client.volumes.list()} & {"held1", "held2"}
    for name in made:
        client.volumes.get(name).remove()  # free: a volume still held would be refused as in use
    kept.remove()
