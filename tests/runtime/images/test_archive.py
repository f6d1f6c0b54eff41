"""docker save / docker load archives (legacy and Docker 25+ layouts) and OCI archives."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

import pytest
import zstandard

from runtime.errors import InvalidArgument
from runtime.images import ImageStore
from runtime.images.archive import load_images, save_images
from runtime.images.blobs import DigestMismatch


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            _add(tar, name, data)
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _config(diff_ids: list[str], cmd: list[str]) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": cmd},
                       "rootfs": {"type": "layers", "diff_ids": diff_ids},
                       "history": [{"created_by": "x"} for _ in diff_ids]}).encode()


def test_save_load_round_trip_same_id(tmp_path, busybox_tar):
    store = ImageStore(tmp_path / "a")
    base = store.import_rootfs(busybox_tar, "busybox:1", {"Cmd": ["sh"]})
    child = store.commit(base, io.BytesIO(_layer({"hello": b"world"})), {"Env": ["X=1"]}, "localhost:5000/app:v2")
    archive = tmp_path / "out.tar"
    store.tag("busybox:1", "busybox:also")
    with open(archive, "wb") as fh:
        save_images(store, ["busybox:1", "localhost:5000/app:v2", "busybox:also"], fh)
    names = set(tarfile.open(archive).getnames())
    assert {"manifest.json", "index.json", "oci-layout", "repositories"} <= names
    manifest = json.loads(tarfile.open(archive).extractfile("manifest.json").read())
    assert [m["RepoTags"] for m in manifest] == [["busybox:1", "busybox:also"], ["localhost:5000/app:v2"]]

    fresh = ImageStore(tmp_path / "b")
    with open(archive, "rb") as fh:
        assert load_images(fresh, fh) == ["Loaded image: busybox:1", "Loaded image: busybox:also",
                                          "Loaded image: localhost:5000/app:v2"]
    assert fresh.resolve("busybox:1").id == base.id
    loaded = fresh.resolve("localhost:5000/app:v2")
    assert loaded.id == child.id and loaded.config["Env"] == ["X=1"]
    assert (loaded.layer_dirs()[1] / "hello").read_bytes() == b"world"
    assert loaded.layer_dirs()[0] == fresh.resolve("busybox:1").layer_dirs()[0]  # shared, unpacked once
    # loading again changes nothing
    with open(archive, "rb") as fh:
        load_images(fresh, fh)
    assert len(fresh.list()) == 2 and len(list(fresh.layers.chain_ids())) == 2


def test_load_legacy_docker_save_layout(tmp_path):
    layer1, layer2 = _layer({"a": b"1"}), _layer({"b": b"2"})
    config = _config([_sha(layer1), _sha(layer2)], ["/a"])
    image_id = _sha(config)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        _add(tar, f"{image_id[7:]}.json", config)
        for n, data in (("l1", layer1), ("l2", layer2)):
            _add(tar, f"{n}/VERSION", b"1.0")
            _add(tar, f"{n}/json", b"{}")
            _add(tar, f"{n}/layer.tar", data)
        _add(tar, "manifest.json", json.dumps([{"Config": f"{image_id[7:]}.json", "RepoTags": ["legacy:old"],
                                               "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode())
        _add(tar, "repositories", json.dumps({"legacy": {"old": "l2"}}).encode())
    archive.seek(0)
    store = ImageStore(tmp_path / "s")
    assert load_images(store, archive) == ["Loaded image: legacy:old"]
    image = store.resolve("legacy:old")
    assert image.id == image_id
    assert [(d / n).read_bytes() for d, n in zip(image.layer_dirs(), ("a", "b"))] == [b"1", b"2"]


def test_load_oci_archive_gzip_and_zstd_layers_through_index(tmp_path):
    layer1, layer2 = _layer({"g": b"gzip"}), _layer({"z": b"zstd"})
    blobs1, blobs2 = gzip.compress(layer1), zstandard.ZstdCompressor().compress(layer2)
    config = _config([_sha(layer1), _sha(layer2)], ["/z"])
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": _sha(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": _sha(blobs1), "size": len(blobs1)},
                                      {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
                                       "digest": _sha(blobs2), "size": len(blobs2)}]}).encode()
    nested = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                         "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                        "digest": _sha(manifest), "size": len(manifest),
                                        "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": _sha(nested), "size": len(nested),
         "annotations": {"org.opencontainers.image.ref.name": "example.com/oci/app:3"}}]}).encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add(tar, "index.json", index)
        for data in (config, manifest, nested, blobs1, blobs2):
            _add(tar, f"blobs/sha256/{_sha(data)[7:]}", data)
    archive.seek(0)
    store = ImageStore(tmp_path / "s")
    assert load_images(store, archive) == ["Loaded image: example.com/oci/app:3"]
    image = store.resolve("example.com/oci/app:3")
    assert image.id == _sha(config)
    assert [b.digest for b in image.blobs] == [_sha(blobs1), _sha(blobs2)]  # kept as shipped, for push
    assert (image.layer_dirs()[1] / "z").read_bytes() == b"zstd"


def test_load_rejects_layer_not_matching_config(tmp_path):
    layer = _layer({"a": b"1"})
    config = _config([_sha(_layer({"a": b"other"}))], ["/a"])
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        _add(tar, "c.json", config)
        _add(tar, "l/layer.tar", layer)
        _add(tar, "manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["x:y"],
                                               "Layers": ["l/layer.tar"]}]).encode())
    archive.seek(0)
    store = ImageStore(tmp_path / "s")
    with pytest.raises(DigestMismatch, match="diff id"):
        load_images(store, archive)
    assert store.list() == [] and list(store.layers.chain_ids()) == []


def test_load_rejects_non_archives(tmp_path):
    store = ImageStore(tmp_path / "s")
    with pytest.raises(InvalidArgument, match="not a valid image archive"):
        load_images(store, io.BytesIO(b"garbage" * 100))
    with pytest.raises(InvalidArgument, match="neither manifest.json nor index.json"):
        load_images(store, io.BytesIO(_layer({"x": b"y"})))


class _StreamOnly:
    """A body that can only be read forward (like a request body)."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._buf.read(size)


def test_load_from_a_forward_only_stream(tmp_path, busybox_tar):
    store = ImageStore(tmp_path / "a")
    image = store.import_rootfs(busybox_tar, "streamed:1")
    out = io.BytesIO()
    save_images(store, ["streamed:1"], out)
    fresh = ImageStore(tmp_path / "b")
    assert load_images(fresh, _StreamOnly(out.getvalue())) == ["Loaded image: streamed:1"]  # type: ignore[arg-type]
    assert fresh.resolve("streamed:1").id == image.id
