"""The one-pass pull pipeline against a real registry: multi-MiB layers through the two-stage pipe, corruption found
while the download is still running, and a config that lies about a diff id - nothing is left behind."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import threading

import pytest
import requests

from runtime.images import ImageStore
from runtime.images.blobs import DigestMismatch
from runtime.images.registry import BadContent, RegistryConfig, pull

_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _text(seed: int, size: int) -> bytes:
    words = [hashlib.sha256(f"{seed}-{i}".encode()).hexdigest()[: 3 + i % 7] for i in range(500)]
    out = " ".join(words[(i * 7919 + seed) % 500] for i in range(size // 4)).encode()
    return out[:size]


def _push(host: str, repo: str, tars: list[bytes], diff_ids: list[str] | None = None,
          level: int = 6) -> tuple[str, list[bytes]]:
    blobs = [gzip.compress(t, compresslevel=level) for t in tars]

    def upload(data: bytes) -> str:
        resp = requests.post(f"http://{host}/v2/{repo}/blobs/uploads/")
        location = resp.headers["Location"]
        location = location if location.startswith("http") else f"http://{host}{location}"
        sep = "&" if "?" in location else "?"
        assert requests.put(f"{location}{sep}digest={_sha(data)}", data=data).status_code == 201
        return _sha(data)

    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids or [_sha(t) for t in tars]}}).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                           "digest": upload(config), "size": len(config)},
                "layers": [{"mediaType": _GZIP, "digest": upload(b), "size": len(b)} for b in blobs]}
    resp = requests.put(f"http://{host}/v2/{repo}/manifests/latest", data=json.dumps(manifest).encode(),
                        headers={"Content-Type": manifest["mediaType"]})
    assert resp.status_code == 201, resp.text
    return f"{host}/{repo}:latest", blobs


def _assert_nothing_stored(store: ImageStore) -> None:
    assert store.list() == []
    assert list(store.layers.chain_ids()) == []
    assert list(store.blobs.digests()) == []
    assert list(store.layers.dir.iterdir()) == []  # no half-unpacked .tmp-* layer either
    assert not any((store.root / "ingest").iterdir())
    assert [t.name for t in threading.enumerate() if t.name.startswith("pull-")] == []


@pytest.fixture
def config(tmp_path) -> RegistryConfig:
    return RegistryConfig(auth_file=tmp_path / "docker-config" / "config.json")


def test_multi_mib_layers_arrive_intact(registry, config, tmp_path):
    big = os.urandom(3 * (1 << 20) + 12345)  # spans several network and decompressor chunks
    small = {f"etc/f{i}": _text(i, 100 + 37 * i) for i in range(300)}
    tars = [_layer({"big.bin": big, "text.txt": _text(7, 5 << 20)}), _layer(small)]
    ref, blobs = _push(registry.host, "pc/pipeline", tars)
    store = ImageStore(tmp_path / "store")
    image = pull(store, ref, config=config)
    lower, upper = image.layer_dirs()
    assert (lower / "big.bin").read_bytes() == big
    assert (lower / "text.txt").read_bytes() == _text(7, 5 << 20)
    assert all((upper / name).read_bytes() == data for name, data in small.items())
    assert [layer.diff_id for layer in image.layers] == [_sha(t) for t in tars]
    for blob, data in zip(image.blobs, blobs):  # the compressed blobs are kept byte for byte (for push/save)
        assert store.blobs.path(blob.digest).read_bytes() == data
    assert not any((store.root / "ingest").iterdir())


def test_corruption_found_mid_download_leaves_nothing(registry, config, tmp_path):
    hexdata = os.urandom(12 << 20).hex().encode()  # Huffman-coded, ~2:1: a flipped byte breaks the inflate early
    tars = [_layer({"a.txt": _text(1, 1 << 20)}), _layer({"big.txt": hexdata})]
    ref, blobs = _push(registry.host, "pc/midway", tars, level=1)
    assert len(blobs[1]) > 10 << 20  # more than the pipe holds: the download is still running at the failure
    data_path = registry.blob_data("pc/midway", _sha(blobs[1]))
    raw = bytearray(data_path.read_bytes())
    for at in range(len(raw) // 8, len(raw) // 8 + 64):  # early in a multi-MiB blob: inflate or tar fails first
        raw[at] ^= 0x5A
    data_path.write_bytes(bytes(raw))
    store = ImageStore(tmp_path / "store")
    with pytest.raises(BadContent, match=f"digest mismatch: expected {_sha(blobs[1])}"):
        pull(store, ref, config=config)
    _assert_nothing_stored(store)


def test_config_lying_about_a_diff_id_leaves_nothing(registry, config, tmp_path):
    tars = [_layer({"a": b"1" * 5000}), _layer({"b": _text(3, 2 << 20)})]
    ref, _ = _push(registry.host, "pc/liar", tars, diff_ids=[_sha(tars[0]), _sha(b"something else")])
    store = ImageStore(tmp_path / "store")
    with pytest.raises(DigestMismatch, match="diff id"):
        pull(store, ref, config=config)
    _assert_nothing_stored(store)


def test_layer_present_under_another_blob_downloads_only_the_blob(registry, config, tmp_path):
    tar = _layer({"shared.txt": _text(5, 3 << 20)})
    ref, blobs = _push(registry.host, "pc/sameshared", [tar])
    store = ImageStore(tmp_path / "store")
    local = store.import_rootfs(io.BytesIO(tar))  # same diff id, our own gzip blob (another digest)
    assert local.blobs[0].digest != _sha(blobs[0])
    layer_dir = local.layer_dirs()[0]
    inode = layer_dir.stat().st_ino
    events: list[dict] = []
    image = pull(store, ref, config=config, progress=events.append)
    assert image.layer_dirs()[0] == layer_dir and layer_dir.stat().st_ino == inode  # not unpacked again
    assert store.blobs.path(_sha(blobs[0])).read_bytes() == blobs[0]
    assert list(store.layers.chain_ids()) == [local.layers[0].chain_id]

    # the same path with a corrupt blob: refused, and the bad blob is not kept
    other = ImageStore(tmp_path / "other")
    other.import_rootfs(io.BytesIO(tar))
    data = registry.blob_data("pc/sameshared", _sha(blobs[0]))
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 1
    data.write_bytes(bytes(raw))
    with pytest.raises(BadContent, match="digest mismatch"):
        pull(other, ref, config=config)
    assert not other.blobs.has(_sha(blobs[0]))
    assert not any((other.root / "ingest").iterdir())


def test_largest_layers_start_first_and_keep_their_order(registry, tmp_path):
    """With one download at a time the order is visible: largest blob first; the image still lists its layers in
    manifest order."""
    tars = [_layer({"small": b"s" * 1000}), _layer({"big": os.urandom(2 << 20)}), _layer({"mid": os.urandom(300_000)})]
    ref, blobs = _push(registry.host, "pc/order", tars)
    first_seen: list[str] = []

    def progress(message: dict) -> None:
        if message.get("status") == "Downloading" and message["id"] not in first_seen:
            first_seen.append(message["id"])

    config = RegistryConfig(auth_file=tmp_path / "docker-config" / "config.json", max_concurrent_downloads=1)
    image = pull(ImageStore(tmp_path / "store"), ref, config=config, progress=progress)
    short = [_sha(b)[7:19] for b in blobs]
    assert first_seen == [short[1], short[2], short[0]]
    assert [layer.diff_id for layer in image.layers] == [_sha(t) for t in tars]
    assert [(image.layer_dirs()[i] / name).is_file() for i, name in enumerate(("small", "big", "mid"))] == [True] * 3
