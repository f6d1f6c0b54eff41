"""Push to and pull from a real registry (Debian's docker-registry on 127.0.0.1), with and without auth."""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
import requests

from runtime.errors import NotFound
from runtime.images import ImageStore
from runtime.images.registry import (BadContent, ManifestUnknown, RegistryConfig, Unauthorized, login, pull,
                                     push)


@pytest.fixture
def config(tmp_path) -> RegistryConfig:
    return RegistryConfig(auth_file=tmp_path / "docker-config" / "config.json")


@pytest.fixture
def store(tmp_path) -> ImageStore:
    return ImageStore(tmp_path / "images")


def _tree(root: Path) -> dict[str, tuple]:
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        content = os.readlink(path) if path.is_symlink() else (path.read_bytes() if path.is_file() else None)
        out[str(path.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, content)
    return out


def test_push_remove_pull_roundtrip(store, registry, config, busybox_tar, tmp_path):
    ref = f"{registry.host}/pc/busybox:1.0"
    image = store.import_rootfs(busybox_tar, ref, {"Cmd": ["sh"]})
    before = _tree(image.layer_dirs()[0])
    events: list[dict] = []
    digest = push(store, ref, config=config, progress=events.append)
    assert digest.startswith("sha256:")
    assert any(e.get("status") == "Pushed" for e in events)
    assert events[-1]["aux"]["Digest"] == digest
    # the registry serves exactly what we pushed
    resp = requests.get(f"http://{registry.host}/v2/pc/busybox/manifests/1.0",
                        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert resp.headers["Docker-Content-Digest"] == digest

    store.remove(ref)
    assert store.list() == []
    with pytest.raises(NotFound):
        store.resolve(ref)
    assert list(store.layers.chain_ids()) == []

    events.clear()
    pulled = pull(store, ref, config=config, progress=events.append)
    assert pulled.id == image.id
    assert f"{registry.host}/pc/busybox@{digest}" in pulled.repo_digests
    assert pulled.config["Cmd"] == ["sh"]
    assert _tree(pulled.layer_dirs()[0]) == before
    statuses = [e.get("status") for e in events]
    assert "Pull complete" in statuses and f"Digest: {digest}" in statuses
    assert statuses[-1].startswith("Status: Downloaded newer image for")

    # pulling again downloads nothing
    events.clear()
    again = pull(store, ref, config=config, progress=events.append)
    assert again.id == image.id
    assert events[-1]["status"].startswith("Status: Image is up to date for")
    # push again: every blob already there, same manifest digest
    events.clear()
    assert push(store, ref, config=config, progress=events.append) == digest
    assert any(e.get("status") == "Layer already exists" for e in events)


def test_chunked_push_and_cross_repo_mount(store, registry, config, busybox_tar):
    first = f"{registry.host}/pc/one:latest"
    store.import_rootfs(busybox_tar, first)
    digest = push(store, first, config=config, chunk_size=256 * 1024)  # busybox layer is ~1 MB: 4+ PATCHes
    store.tag(first, f"{registry.host}/pc/two:latest")
    events: list[dict] = []
    assert push(store, f"{registry.host}/pc/two:latest", config=config, progress=events.append) == digest
    assert any(e.get("status", "").startswith("Mounted from pc/one") for e in events)
    fresh = ImageStore(store.root.parent / "fresh")
    assert pull(fresh, f"{registry.host}/pc/two", config=config).id == store.resolve(first).id


def test_pull_by_digest_and_unknown(store, registry, config, busybox_tar):
    ref = f"{registry.host}/pc/bb:latest"
    store.import_rootfs(busybox_tar, ref)
    digest = push(store, ref, config=config)
    fresh = ImageStore(store.root.parent / "fresh")
    image = pull(fresh, f"{registry.host}/pc/bb@{digest}", config=config)
    assert image.repo_tags == [] and image.repo_digests == [f"{registry.host}/pc/bb@{digest}"]
    with pytest.raises(ManifestUnknown, match="manifest for .*nope.* not found"):
        pull(fresh, f"{registry.host}/pc/bb:nope", config=config)


def test_corrupted_blob_detected_and_nothing_stored(store, registry, config, busybox_tar):
    ref = f"{registry.host}/pc/corrupt:latest"
    image = store.import_rootfs(busybox_tar, ref)
    push(store, ref, config=config)
    data = registry.blob_data("pc/corrupt", image.blobs[0].digest)
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))

    fresh = ImageStore(store.root.parent / "fresh")
    with pytest.raises(BadContent, match="digest mismatch"):
        pull(fresh, ref, config=config)
    assert fresh.list() == []
    assert list(fresh.layers.chain_ids()) == []
    assert list(fresh.blobs.digests()) == []
    assert [p.name for p in fresh.layers.dir.iterdir()] == []
    assert not any((fresh.root / "ingest").iterdir())


def test_htpasswd_auth_login_and_credentials_file(store, registry_factory, config, busybox_tar, tmp_path):
    registry = registry_factory(auth=True)
    ref = f"{registry.host}/pc/private:latest"
    store.import_rootfs(busybox_tar, ref)
    assert requests.get(f"http://{registry.host}/v2/").status_code == 401
    with pytest.raises(Unauthorized):
        push(store, ref, config=config)
    with pytest.raises(Unauthorized, match="incorrect username or password"):
        login(registry.host, registry.user, "wrong", config=config)
    assert not config.credentials_path.exists()

    assert login(registry.host, registry.user, registry.password, config=config) == "Login Succeeded"
    saved = json.loads(config.credentials_path.read_text())
    assert base64.b64decode(saved["auths"][registry.host]["auth"]).decode() == f"{registry.user}:{registry.password}"
    assert config.credentials_path.stat().st_mode & 0o777 == 0o600

    digest = push(store, ref, config=config)  # credentials come from the config file now
    fresh = ImageStore(tmp_path / "fresh")
    assert pull(fresh, ref, config=config).repo_digests == [f"{registry.host}/pc/private@{digest}"]
    with pytest.raises(Unauthorized, match="pull access denied for .*/pc/private, repository does not exist or "
                                           "may require 'docker login'"):
        pull(ImageStore(tmp_path / "anon"), ref, config=RegistryConfig(auth_file=tmp_path / "none.json"))


def test_mirror_serves_docker_hub_names(store, registry_factory, tmp_path, busybox_tar, monkeypatch):
    import runtime.images.registry.config as registry_config

    # should the mirror fail, the fallback must not leave this machine: Docker Hub's API host -> a closed port
    monkeypatch.setattr(registry_config, "_DOCKER_HUB_API", "127.0.0.1:9")
    mirror = registry_factory()
    cfg = RegistryConfig(auth_file=tmp_path / "c.json", mirrors={"docker.io": (f"http://{mirror.host}",)})
    store.import_rootfs(busybox_tar, f"{mirror.host}/library/busybox:latest")
    push(store, f"{mirror.host}/library/busybox:latest", config=cfg)
    fresh = ImageStore(tmp_path / "fresh")
    image = fresh_image = pull(fresh, "busybox", config=cfg)
    assert "busybox:latest" in image.repo_tags and fresh_image.id == store.resolve(f"{mirror.host}/library/busybox").id


def _tar_bytes(files: dict[str, bytes]) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _sha(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _upload(host: str, repo: str, data: bytes) -> dict:
    resp = requests.post(f"http://{host}/v2/{repo}/blobs/uploads/")
    assert resp.status_code == 202
    location = resp.headers["Location"]
    location = location if location.startswith("http") else f"http://{host}{location}"
    sep = "&" if "?" in location else "?"
    assert requests.put(f"{location}{sep}digest={_sha(data)}", data=data).status_code == 201
    return {"digest": _sha(data), "size": len(data)}


def _put_manifest(host: str, repo: str, ref: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    resp = requests.put(f"http://{host}/v2/{repo}/manifests/{ref}", data=data,
                        headers={"Content-Type": body["mediaType"]})
    assert resp.status_code == 201, resp.text
    return data


def test_index_platform_selection_gzip_and_zstd(registry, config, tmp_path):
    import gzip

    import zstandard

    repo = "pc/multi"
    entries = []
    for arch, compress, media in (
            ("amd64", gzip.compress, "application/vnd.oci.image.layer.v1.tar+gzip"),
            ("arm64", zstandard.ZstdCompressor().compress, "application/vnd.oci.image.layer.v1.tar+zstd")):
        layer = _tar_bytes({"arch": arch.encode()})
        cfg = json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": ["cat", "/arch"]},
                          "rootfs": {"type": "layers", "diff_ids": [_sha(layer)]}}).encode()
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **_upload(registry.host, repo, cfg)},
                    "layers": [{"mediaType": media, **_upload(registry.host, repo, compress(layer))}]}
        data = _put_manifest(registry.host, repo, f"only-{arch}", manifest)
        entries.append({"mediaType": manifest["mediaType"], "digest": _sha(data), "size": len(data),
                        "platform": {"os": "linux", "architecture": arch, **({"variant": "v8"} if arch == "arm64" else {})}})
    index = _put_manifest(registry.host, repo, "multi", {"schemaVersion": 2,
                                                         "mediaType": "application/vnd.oci.image.index.v1+json",
                                                         "manifests": entries})
    ref = f"{registry.host}/{repo}:multi"
    amd = pull(ImageStore(tmp_path / "amd"), ref, config=config, platform="linux/amd64")
    assert (amd.layer_dirs()[0] / "arch").read_bytes() == b"amd64"
    assert amd.repo_digests == [f"{registry.host}/{repo}@{_sha(index)}"]  # the digest that was asked for
    arm_store = ImageStore(tmp_path / "arm")
    arm = pull(arm_store, ref, config=config, platform="linux/arm64/v8")
    assert (arm.layer_dirs()[0] / "arch").read_bytes() == b"arm64"
    assert arm.blobs[0].media_type.endswith("+zstd") and arm.image_config["architecture"] == "arm64"
    # the zstd image pushes back as it came: same manifest digest
    arm_store.tag(arm.id, f"{registry.host}/pc/copy:arm")
    assert push(arm_store, f"{registry.host}/pc/copy:arm", config=config) == entries[1]["digest"]
    # a new image over the zstd layer has no manifest yet: pushed with an OCI manifest (zstd is OCI-only)
    child = arm_store.commit(arm, None, ["USER nobody"], f"{registry.host}/pc/copy:child")
    child_digest = push(arm_store, f"{registry.host}/pc/copy:child", config=config)
    got = requests.get(f"http://{registry.host}/v2/pc/copy/manifests/{child_digest}",
                       headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert got.headers["Content-Type"] == "application/vnd.oci.image.manifest.v1+json"
    assert pull(ImageStore(tmp_path / "child"), f"{registry.host}/pc/copy:child", config=config,
                platform="linux/arm64").id == child.id
    with pytest.raises(ManifestUnknown, match="no matching manifest for linux/s390x"):
        pull(ImageStore(tmp_path / "s390x"), ref, config=config, platform="linux/s390x")


def test_shared_base_layer_already_exists_and_concurrent_pulls(store, registry, config, busybox_tar, tmp_path):
    import io
    import threading

    base_ref, app_ref = f"{registry.host}/pc/base:1", f"{registry.host}/pc/app:1"
    base = store.import_rootfs(busybox_tar, base_ref)
    app = store.commit(base, io.BytesIO(_tar_bytes({"app/run": b"#!/bin/sh\necho hi\n"})), {"Cmd": ["/app/run"]},
                       app_ref)
    push(store, base_ref, config=config)
    push(store, app_ref, config=config)

    fresh = ImageStore(tmp_path / "fresh")
    pull(fresh, base_ref, config=config)
    events: list[dict] = []
    pulled = pull(fresh, app_ref, config=config, progress=events.append)
    by_layer = {e["id"]: e["status"] for e in events if e.get("id") and e.get("status") in
                ("Already exists", "Pull complete")}
    assert by_layer == {base.blobs[0].digest[7:19]: "Already exists", app.blobs[1].digest[7:19]: "Pull complete"}
    assert pulled.id == app.id and pulled.layer_dirs()[0] == fresh.resolve(base_ref).layer_dirs()[0]

    # several threads pulling the same image into one store: all succeed, one copy of each layer
    shared = ImageStore(tmp_path / "shared")
    results, errors = [], []

    def worker() -> None:
        try:
            results.append(pull(shared, app_ref, config=config).id)
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == [] and results == [app.id] * 4
    assert len(list(shared.layers.chain_ids())) == 2
    assert [p.name for p in shared.layers.dir.iterdir() if p.name.startswith(".")] == []
    assert not any((shared.root / "ingest").iterdir())


class _CuttingProxy:
    """A TCP proxy to the registry that cuts the first response carrying ``needle``'s blob after ``cut`` bytes."""

    def __init__(self, upstream: str, needle: bytes, cut: int = 50_000) -> None:
        import socket
        import threading

        self.upstream = upstream.split(":")
        self.needle, self.cut, self.cuts = needle, cut, 0
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.host = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self.sockets: list = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection((self.upstream[0], int(self.upstream[1])))
            state = {"limit": None, "sent": 0}
            self.sockets += [client, upstream]
            for args in ((client, upstream, state, True), (upstream, client, state, False)):
                t = threading.Thread(target=self._pipe, args=args, daemon=True)
                t.start()
                self.threads.append(t)

    def _pipe(self, src, dst, state, to_server: bool) -> None:
        import socket

        try:
            while data := src.recv(65536):
                if to_server:
                    with self.lock:
                        if self.cuts == 0 and self.needle in data and state["limit"] is None:
                            state["limit"] = state["sent"] + self.cut
                            self.cuts += 1
                    dst.sendall(data)
                    continue
                limit = state["limit"]
                if limit is not None and state["sent"] + len(data) > limit:
                    dst.sendall(data[: max(0, limit - state["sent"])])
                    for s in (src, dst):
                        s.shutdown(socket.SHUT_RDWR)
                    return
                state["sent"] += len(data)
                dst.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        import socket

        for s in [self.server, *self.sockets]:  # shutdown wakes the threads blocked in accept()/recv()
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.accepter.join(timeout=5)
        for t in self.threads:
            t.join(timeout=5)


def test_interrupted_layer_download_is_retried(store, registry, config, busybox_tar, tmp_path):
    from dataclasses import replace

    ref = f"{registry.host}/pc/flaky:1"
    image = store.import_rootfs(busybox_tar, ref)
    push(store, ref, config=config)
    proxy = _CuttingProxy(registry.host, needle=f"/blobs/{image.blobs[0].digest}".encode())
    try:
        events: list[dict] = []
        fresh = ImageStore(tmp_path / "fresh")
        pulled = pull(fresh, f"{proxy.host}/pc/flaky:1", config=replace(config, retry_delay=0.01),
                      progress=events.append)
        assert proxy.cuts == 1
        assert any(e.get("status", "").startswith("Retrying in") for e in events)
        assert pulled.id == image.id
        assert not any((fresh.root / "ingest").iterdir())
        assert [p.name for p in fresh.layers.dir.iterdir() if p.name.startswith(".")] == []
    finally:
        proxy.close()
