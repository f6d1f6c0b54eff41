"""Issue 6's loop end to end: an image built here (imported + a committed layer with a whiteout) is pushed,
removed, pulled back with the same digest, and run as a container of our runtime."""
from __future__ import annotations

import io
import json
import secrets
import tarfile

import pytest

from runtime.cgroups import remove_parent
from runtime.containers import ContainerService
from runtime.images import ImageStore
from runtime.images.registry import RegistryConfig, pull, push
from runtime.spec import ContainerSpec

pytestmark = pytest.mark.root


def _layer() -> io.BytesIO:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("etc/motd")
        info.size = len(b"pulled and running\n")
        tar.addfile(info, io.BytesIO(b"pulled and running\n"))
        tar.addfile(tarfile.TarInfo("etc/.wh.nsswitch.conf"))
    raw.seek(0)
    return raw


def _read_log(svc: ContainerService, cid: str) -> tuple[str, str]:
    """(stdout, stderr) from the container's json-file log."""
    out: dict[str, str] = {"stdout": "", "stderr": ""}
    for line in svc.log_path(cid).read_text().splitlines():
        rec = json.loads(line)
        out[rec["stream"]] += rec["log"]
    return out["stdout"], out["stderr"]


@pytest.fixture
def cgroup_parent():
    parent = f"pycompose-test-{secrets.token_hex(3)}"
    yield parent
    remove_parent(parent)


def test_push_remove_pull_run(registry, busybox_tar, tmp_path, cgroup_parent):
    config = RegistryConfig(auth_file=tmp_path / "config.json")
    images = ImageStore(tmp_path / "root" / "images")
    ref = f"{registry.host}/pc/runme:1"
    base = images.import_rootfs(busybox_tar, None)
    built = images.commit(base, _layer(), ["CMD [\"sh\", \"-c\", \"cat /etc/motd; ls /etc/nsswitch.conf\"]"], ref)
    digest = push(images, ref, config=config)
    images.remove(ref)
    images.remove(base.id)
    assert images.list() == []

    pulled = pull(images, ref, config=config)
    assert pulled.id == built.id and pulled.repo_digests == [f"{registry.host}/pc/runme@{digest}"]
    svc = ContainerService(tmp_path / "root", images=images, cgroup_parent=cgroup_parent)
    cid = None
    try:
        cid = svc.create(None, ContainerSpec(args=tuple(pulled.config["Cmd"]), image=ref))
        svc.start(cid)
        assert svc.wait(cid, 30) == 1  # ls of the whited-out file fails
        out, err = _read_log(svc, cid)
        assert out == "pulled and running\n" and "No such file" in err
    finally:
        if cid:
            svc.remove(cid, force=True)
        svc.close()
