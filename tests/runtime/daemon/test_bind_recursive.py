"""Read-only binds and their submounts (``BindOptions.NonRecursive``, ``ReadOnlyNonRecursive``,
``ReadOnlyForceRecursive``): by default (Docker 25+) and when forced the submounts are read-only too
(mount_setattr(2) with AT_RECURSIVE); ``ReadOnlyNonRecursive`` leaves them writable; ``NonRecursive`` does not
bring them at all."""
from __future__ import annotations

import os
import subprocess

import docker
import pytest

pytestmark = pytest.mark.root


@pytest.fixture
def tree(tmp_path):
    """``<tmp>/src`` with a tmpfs mounted at ``src/sub`` (in the host's mount namespace: unmounted afterwards)."""
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "under-the-mount").write_text("hidden\n")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "pctrec", str(src / "sub")], check=True)
    try:
        (src / "sub" / "on-tmpfs").write_text("tmpfs\n")
        yield src
    finally:
        subprocess.run(["umount", "-l", str(src / "sub")], check=True)
    assert not os.path.ismount(src / "sub")


_PROBE = ("ls /m/sub; touch /m/top-file 2>/dev/null && echo top-rw || echo top-ro; "
          "touch /m/sub/f 2>/dev/null && echo sub-rw || echo sub-ro")


def _run(engine, bind: dict) -> list[str]:
    api = engine.client().api
    c = api.create_container("busybox:latest", ["sh", "-c", _PROBE],
                             host_config={"NetworkMode": "none", "Mounts": [bind]})
    try:
        api.start(c)
        assert api.wait(c, timeout=30)["StatusCode"] == 0
        return api.logs(c).decode().split()
    finally:
        api.remove_container(c, force=True)


def test_readonly_bind_makes_submounts_readonly_by_default(engine, tree):
    out = _run(engine, {"Type": "bind", "Source": str(tree), "Target": "/m", "ReadOnly": True})
    assert out == ["on-tmpfs", "top-ro", "sub-ro"]


def test_force_recursive(engine, tree):
    out = _run(engine, {"Type": "bind", "Source": str(tree), "Target": "/m", "ReadOnly": True,
                        "BindOptions": {"ReadOnlyForceRecursive": True}})
    assert out == ["on-tmpfs", "top-ro", "sub-ro"]


def test_readonly_non_recursive_leaves_submounts_writable(engine, tree):
    out = _run(engine, {"Type": "bind", "Source": str(tree), "Target": "/m", "ReadOnly": True,
                        "BindOptions": {"ReadOnlyNonRecursive": True}})
    assert out == ["on-tmpfs", "top-ro", "sub-rw"]
    assert (tree / "sub" / "f").exists()  # written through to the host's tmpfs


def test_non_recursive_bind_has_no_submounts(engine, tree):
    out = _run(engine, {"Type": "bind", "Source": str(tree), "Target": "/m", "ReadOnly": True,
                        "BindOptions": {"NonRecursive": True}})
    assert out == ["under-the-mount", "top-ro", "sub-ro"]


@pytest.mark.parametrize("opts", [{"ReadOnlyForceRecursive": True}, {"ReadOnlyNonRecursive": True},
                                  {"ReadOnlyForceRecursive": True, "Propagation": "rshared"}])
def test_bad_recursive_options_are_400(engine, tree, opts):
    api = engine.client().api
    ro = "Propagation" in opts
    with pytest.raises(docker.errors.APIError) as info:
        api.create_container("busybox:latest", ["true"], host_config={"NetworkMode": "none", "Mounts": [
            {"Type": "bind", "Source": str(tree), "Target": "/m", "ReadOnly": ro, "BindOptions": opts}]})
    assert info.value.status_code == 400
    assert "invalid mount config" in info.value.explanation
