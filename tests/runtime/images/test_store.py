"""The image store: import, resolve, shared layers, tags, removal rules, prune, commit, overlay stacking."""
from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import tarfile

import pytest

from runtime import linux
from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.images import ImageStore
from runtime.images.digest import sha256_digest
from runtime.images.inspect import image_history, image_inspect, image_summary


@pytest.fixture
def store(tmp_path):
    return ImageStore(tmp_path / "images")


def _tar(files: dict[str, bytes | None]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_import_busybox_and_resolve(store, busybox_tar):
    image = store.import_rootfs(busybox_tar, "busybox", ['CMD ["sh"]', "ENV PATH=/bin:/usr/bin", "WORKDIR /root",
                                                         "EXPOSE 80", "LABEL a=b", "STOPSIGNAL SIGTERM"])
    assert image.id == sha256_digest(store.blobs.read(image.id))
    assert image.config == {"Cmd": ["sh"], "Env": ["PATH=/bin:/usr/bin"], "WorkingDir": "/root",
                            "ExposedPorts": {"80/tcp": {}}, "Labels": {"a": "b"}, "StopSignal": "SIGTERM"}
    assert image.references == ("docker.io/library/busybox:latest",)
    (lower,) = image.layer_dirs()
    assert (lower / "bin/busybox").stat().st_size == os.stat("/bin/busybox").st_size
    assert "root:x:0:0" in (lower / "etc/passwd").read_text()
    for name in ("busybox", "busybox:latest", "docker.io/library/busybox", image.id, image.id[7:], image.id[7:19]):
        assert store.resolve(name).id == image.id
    with pytest.raises(NotFound, match="^No such image: nope$"):
        store.resolve("nope")
    with pytest.raises(NotFound, match="No such image: busybox:2"):
        store.resolve("busybox:2")
    cfg = json.loads(store.blobs.read(image.id))
    assert cfg["rootfs"]["diff_ids"] == [image.layers[0].diff_id] and cfg["os"] == "linux"


def test_same_content_shares_one_layer(store, busybox_tar):
    a = store.import_rootfs(busybox_tar, "a")
    b = store.import_rootfs(busybox_tar, "b", {"Cmd": ["true"]})
    assert a.id != b.id
    assert a.layer_dirs() == b.layer_dirs()
    assert len(list(store.layers.chain_ids())) == 1
    store.remove("a")
    assert b.layer_dirs()[0].is_dir()  # still used by b
    store.remove("b")
    assert list(store.layers.chain_ids()) == [] and list(store.blobs.digests()) == []


def test_tags_and_remove_semantics(store, busybox_tar):
    image = store.import_rootfs(busybox_tar, "app:1")
    store.tag("app:1", "app:2")
    store.tag(image.id, "other/app:x")
    assert sorted(store.resolve("app:1").repo_tags) == ["app:1", "app:2", "other/app:x"]
    with pytest.raises(InvalidArgument, match="must be lowercase"):
        store.tag("app:1", "Bad:tag")
    with pytest.raises(NotFound):
        store.tag("nope", "good:tag")
    assert store.remove("app:2") == [{"Untagged": "app:2"}]
    with pytest.raises(Conflict, match="referenced in multiple repositories"):
        store.remove(image.id[7:19])
    out = store.remove(image.id[7:19], force=True)
    assert {"Deleted": image.id} in out and {"Untagged": "app:1"} in out
    assert store.list() == []


def test_remove_refused_while_in_use(tmp_path, busybox_tar):
    users: dict[str, str] = {}
    store = ImageStore(tmp_path / "images", in_use=lambda image_id: users.get(image_id))
    image = store.import_rootfs(busybox_tar, "busybox")
    users[image.id] = "c0ffee" * 10
    with pytest.raises(Conflict, match=r'unable to remove repository reference "busybox" \(must force\) - '
                                       r"container c0ffeec0ffee is using its referenced image"):
        store.remove("busybox")
    with pytest.raises(Conflict, match="being used by container c0ffeec0ffee"):
        store.remove(image.id)
    assert store.resolve("busybox").id == image.id
    # forced: untagged, but kept (dangling) for the container, like Docker
    assert store.remove("busybox", force=True) == [{"Untagged": "busybox:latest"}]
    assert store.get(image.id).layer_dirs()[0].is_dir()
    assert store.prune()["ImagesDeleted"] is None  # in use: not pruned either
    del users[image.id]
    report = store.prune()
    assert report["ImagesDeleted"] == [{"Deleted": image.id}] and report["SpaceReclaimed"] > 0
    assert list(store.layers.chain_ids()) == []


def test_prune_dangling_keeps_tagged(store, busybox_tar):
    kept = store.import_rootfs(busybox_tar, "kept")
    dangling = store.import_rootfs(_tar({"only": b"x"}))
    assert dangling.references == ()
    report = store.prune()
    assert report["ImagesDeleted"] == [{"Deleted": dangling.id}]
    assert [i.id for i in store.list()] == [kept.id]
    assert store.prune(dangling_only=False)["ImagesDeleted"] == [{"Untagged": "kept:latest"}, {"Deleted": kept.id}]


def test_commit_layer_and_config_changes(store, busybox_tar):
    base = store.import_rootfs(busybox_tar, "base", {"Env": ["A=1"], "Labels": {"x": "1"}})
    child = store.commit("base", _tar({"app": None, "app/run.sh": b"echo hi\n"}),
                         {"Env": ["B=2"], "Labels": {"y": "2"}, "Cmd": ["/app/run.sh"]}, "child:v1",
                         created_by="COPY run.sh /app/")
    assert child.config["Env"] == ["A=1", "B=2"] and child.config["Labels"] == {"x": "1", "y": "2"}
    assert len(child.layers) == 2 and child.layers[0] == base.layers[0]
    assert child.layers[1].parent == base.layers[0].chain_id
    assert (child.layer_dirs()[1] / "app/run.sh").read_bytes() == b"echo hi\n"
    meta = store.commit(child, None, ["USER nobody"], "child:meta")
    assert meta.layers == child.layers and meta.config["User"] == "nobody"
    assert meta.history[-1]["empty_layer"] is True
    hist = image_history(meta)
    assert hist[0]["Id"] == meta.id and hist[0]["Tags"] == ["child:meta"] and hist[1]["CreatedBy"] == "COPY run.sh /app/"
    inspect = image_inspect(child)
    assert inspect["Id"] == child.id and inspect["RepoTags"] == ["child:v1"]
    assert inspect["RootFS"] == {"Type": "layers", "Layers": child.diff_ids}
    assert inspect["Config"]["Cmd"] == ["/app/run.sh"] and inspect["Size"] == child.size
    assert image_summary(child)["RepoTags"] == ["child:v1"]


def test_bad_changes_rejected(store, busybox_tar):
    with pytest.raises(InvalidArgument, match="FROB is not a valid change command"):
        store.import_rootfs(busybox_tar, "x", ["FROB 1"])
    assert store.list() == []


def test_traversal_tar_import_rejected_and_nothing_kept(store, tmp_path):
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        info = tarfile.TarInfo("../../escaped")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    evil.seek(0)
    with pytest.raises(InvalidArgument, match="escapes the layer"):
        store.import_rootfs(evil, "evil")
    assert store.list() == [] and list(store.layers.chain_ids()) == [] and list(store.blobs.digests()) == []
    assert [p.name for p in store.layers.dir.iterdir()] == []
    assert not (tmp_path / "escaped").exists()


def test_bad_entry_after_megabytes_stops_both_threads_and_keeps_nothing(store, tmp_path):
    """``add_layer`` unpacks in one thread and compresses in another: a refusal deep in the tar ends both."""
    import threading

    big = io.BytesIO()
    with tarfile.open(fileobj=big, mode="w") as tar:
        for i in range(6):
            info = tarfile.TarInfo(f"data/f{i}")
            info.size = 1 << 20
            tar.addfile(info, io.BytesIO(os.urandom(1 << 20)))
        link = tarfile.TarInfo("data/escape")
        link.type, link.linkname = tarfile.LNKTYPE, "../../../etc/passwd"
        tar.addfile(link)
    big.seek(0)
    with pytest.raises(InvalidArgument, match="refusing to unpack"):
        store.import_rootfs(big, "bad:1")
    assert store.list() == [] and list(store.layers.chain_ids()) == [] and list(store.blobs.digests()) == []
    assert [p.name for p in store.layers.dir.iterdir()] == []
    assert not any((store.root / "ingest").iterdir())
    assert [t.name for t in threading.enumerate() if t.name == "layer-unpack"] == []
    # and a good multi-MiB layer through the same two threads round-trips byte for byte
    big.seek(0)
    good = io.BytesIO(big.getvalue()[: (1 + 1 + 2 * 2048) * 512])  # the first two files, end blocks cut
    image = store.import_rootfs(good, "good:1")
    with tarfile.open(fileobj=io.BytesIO(big.getvalue())) as tar:
        first = tar.extractfile("data/f0").read()
    assert (image.layer_dirs()[0] / "data/f0").read_bytes() == first
    with store.blobs.open(image.blobs[0].digest) as fh:
        import gzip

        assert sha256_digest(gzip.decompress(fh.read())) == image.layers[0].diff_id


@contextlib.contextmanager
def _overlay(lowers, target):
    target.mkdir()
    linux.mount("overlay", str(target), "overlay", linux.MS_RDONLY,
                "lowerdir=" + ":".join(str(p) for p in reversed(lowers)))
    try:
        yield target
    finally:
        linux.umount(str(target), linux.MNT_DETACH)


@pytest.mark.root
def test_whiteouts_honoured_in_overlay_mount(store, busybox_tar, tmp_path):
    base = store.import_rootfs(busybox_tar, "base")
    mid = store.commit(base, _tar({"data": None, "data/old1": b"1", "data/old2": b"2", "keep": b"k"}))
    # an upper dir as overlayfs leaves it: a whiteout for /keep's sibling and an opaque /data
    upper = tmp_path / "upper"
    (upper / "data").mkdir(parents=True)
    os.setxattr(upper / "data", "trusted.overlay.opaque", b"y")
    (upper / "data/new").write_text("n")
    os.mknod(upper / "etc", 0o020000, os.makedev(0, 0))  # whiteout: delete /etc of the base
    top = store.commit(mid, upper, None, "top")
    # and one more layer from a tar with AUFS whiteouts
    top2 = store.commit(top, _tar({".wh.keep": b""}), None, "top2")
    assert len(top2.layer_dirs()) == 4
    with _overlay(top2.layer_dirs(), tmp_path / f"merged-{secrets.token_hex(3)}") as merged:
        assert sorted(os.listdir(merged / "data")) == ["new"]
        assert not (merged / "etc").exists()
        assert not (merged / "keep").exists()
        assert (merged / "bin/busybox").is_file()
    with _overlay(mid.layer_dirs(), tmp_path / f"merged-{secrets.token_hex(3)}") as merged:
        assert sorted(os.listdir(merged / "data")) == ["old1", "old2"] and (merged / "etc/passwd").exists()


def test_empty_rootfs_and_scratch_commit(store):
    image = store.commit(None, None, {"Cmd": ["x"]}, "scratchy")
    assert image.layer_dirs() == [] and image.config == {"Cmd": ["x"]}
    assert store.resolve("scratchy").id == image.id


def test_lease_protects_new_layer_from_garbage_collection(store):
    with store.lease() as lease:
        layer, blob = store.add_layer(None, _tar({"f": b"x"}), lease=lease)
        store.collect_garbage()  # e.g. another client's rmi, while this layer waits for its image record
        assert store.layers.has(layer.chain_id) and store.blobs.has(blob.digest)
    store.collect_garbage()
    assert not store.layers.has(layer.chain_id) and not store.blobs.has(blob.digest)


def test_default_root_follows_pycompose_root(tmp_path, monkeypatch):
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(tmp_path / "engine"))
    assert ImageStore().root == tmp_path / "engine" / "images"
    assert (tmp_path / "engine/images/blobs/sha256").is_dir()
