"""A create takes the name and makes the state dir while the network sandbox is made (``reserve``), then checks
the spec and writes the config: whatever fails on the way leaves no state dir and no taken name behind."""
from __future__ import annotations

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
    with pytest.raises(docker.errors.APIError):  # refused by the spec's checks, after the reservation
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
