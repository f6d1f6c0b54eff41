"""Containers from images of the image store: layers stacked as overlay lower dirs, never written to."""
from __future__ import annotations

import io
import tarfile

import pytest

from runtime.containers import ContainerService
from runtime.images.store import ImageStore
from runtime.spec import ContainerSpec
from tests.runtime.containers.helpers import read_log

pytestmark = pytest.mark.root


def _layer(files: dict[str, bytes], whiteouts: tuple[str, ...] = ()) -> io.BytesIO:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name in whiteouts:
            tar.addfile(tarfile.TarInfo(name))
    raw.seek(0)
    return raw


def test_container_from_an_imported_image_with_a_second_layer(tmp_path, busybox_tar, cgroup_parent):
    images = ImageStore(tmp_path / "root" / "images")
    base = images.import_rootfs(str(busybox_tar), "local/busybox:1")
    top = images.commit(base, _layer({"etc/motd": b"layer two\n"}, whiteouts=("etc/.wh.nsswitch.conf",)))
    svc = ContainerService(tmp_path / "root", images=images, cgroup_parent=cgroup_parent)
    try:
        image_ref = top.id if hasattr(top, "id") else str(top)
        cid = svc.create(None, ContainerSpec(args=("sh", "-c", "cat /etc/motd; ls /etc/nsswitch.conf 2>&1; "
                                                   "echo x > /etc/motd"), image=image_ref))
        state = svc.inspect(cid)
        assert len(state.spec.rootfs) == 2 and state.image == images.resolve(image_ref).id
        assert svc.image_in_use(state.image)
        svc.start(cid)
        assert svc.wait(cid, 30) == 0
        out = read_log(svc, cid)[0]
        assert out.startswith("layer two\n") and "No such file" in out
        for layer_dir in state.spec.rootfs:  # the image stays as it was
            motd = tmp_path / layer_dir / "etc/motd"
            assert not motd.exists() or motd.read_text() == "layer two\n"
        svc.remove(cid)
        assert not svc.image_in_use(state.image)
    finally:
        svc.close()
