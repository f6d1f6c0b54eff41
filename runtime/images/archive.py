"""``docker save`` / ``docker load`` archives and OCI image-layout archives.

``save_images`` writes what Docker 25+ writes: an OCI image layout (``oci-layout``, ``index.json``,
``blobs/sha256/...`` with uncompressed layer tars) plus the legacy ``manifest.json`` and ``repositories``, so
both old and new ``docker load`` read it. ``load_images`` reads the legacy layout (``manifest.json`` with
``<id>.json`` configs and ``<dir>/layer.tar``), Docker 25+'s, and plain OCI archives (``index.json`` only, layers
plain, gzip or zstd). Archive members are only read by name, never extracted to disk, so a hostile archive
cannot write outside the store; every layer is checked against the config's diff ids.
"""
from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
import time
from typing import Any, BinaryIO, Iterable

from runtime.errors import InvalidArgument
from runtime.images.config import host_platform
from runtime.images.digest import TeeReader, chain_ids, digest_hex, sha256_digest
from runtime.images.image import Image, LayerBlob
from runtime.images.reference import parse_reference
from runtime.images.lease import Lease
from runtime.images.store import ImageStore
from runtime.images.unpack import open_decompressed

__all__ = ["save_images", "load_images", "MEDIA_OCI_INDEX", "MEDIA_OCI_MANIFEST", "MEDIA_OCI_CONFIG",
           "MEDIA_OCI_LAYER"]

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
_INDEX_TYPES = {MEDIA_OCI_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json"}
_COMPRESSED_SUFFIXES = ("gzip", "zstd")


def save_images(store: ImageStore, names: Iterable[str], out: BinaryIO) -> None:
    """Write the images ``names`` (references or ids) as one archive to ``out`` (a tar stream)."""
    by_id: dict[str, tuple[Image, list[str]]] = {}
    for name in names:
        image = store.resolve(name)
        try:
            ref = parse_reference(name)
            tags = [str(ref)] if not ref.digest and str(ref) in image.references else []
        except InvalidArgument:
            tags = []
        if not tags and not name.startswith("sha256:") and not all(c in "0123456789abcdef" for c in name):
            tags = [r for r in image.references if "@" not in r]
        slot = by_id.setdefault(image.id, (image, []))
        slot[1].extend(t for t in tags if t not in slot[1])  # one entry per image, all its asked-for tags
    images = list(by_id.values())
    now = int(time.time())
    written: set[str] = set()
    manifest_json: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    index_entries: list[dict[str, Any]] = []
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "blobs/", None, now)
        _add_bytes(tar, "blobs/sha256/", None, now)
        for image, tags in images:
            config = store.blobs.read(image.id)
            _add_blob(tar, written, image.id, config, now)
            layer_descs = []
            for layer, blob in zip(image.layers, image.blobs):
                if layer.diff_id not in written:
                    with store.blobs.open(blob.digest) as fh:
                        info = tarfile.TarInfo(f"blobs/sha256/{digest_hex(layer.diff_id)}")
                        info.size, info.mtime, info.mode = layer.tar_size, now, 0o444
                        tar.addfile(info, open_decompressed(fh))
                    written.add(layer.diff_id)
                layer_descs.append({"mediaType": MEDIA_OCI_LAYER, "size": layer.tar_size, "digest": layer.diff_id})
            manifest = {"schemaVersion": 2, "mediaType": MEDIA_OCI_MANIFEST,
                        "config": {"mediaType": MEDIA_OCI_CONFIG, "size": len(config), "digest": image.id},
                        "layers": layer_descs}
            manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
            manifest_digest = sha256_digest(manifest_bytes)
            _add_blob(tar, written, manifest_digest, manifest_bytes, now)
            descriptor: dict[str, Any] = {"mediaType": MEDIA_OCI_MANIFEST, "digest": manifest_digest,
                                          "size": len(manifest_bytes)}
            for tag in tags or [""]:
                entry = dict(descriptor)
                if tag:
                    ref = parse_reference(tag)
                    entry["annotations"] = {"io.containerd.image.name": str(ref),
                                            "org.opencontainers.image.ref.name": ref.tag or ""}
                    top = image.diff_ids[-1] if image.diff_ids else image.id
                    repositories.setdefault(ref.familiar_name, {})[ref.tag or "latest"] = digest_hex(top)
                index_entries.append(entry)
            manifest_json.append({
                "Config": f"blobs/sha256/{digest_hex(image.id)}",
                "RepoTags": [parse_reference(t).familiar() for t in tags] or None,
                "Layers": [f"blobs/sha256/{digest_hex(d)}" for d in image.diff_ids],
            })
        _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}', now)
        index = {"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": index_entries}
        _add_bytes(tar, "index.json", json.dumps(index, separators=(",", ":")).encode(), now)
        _add_bytes(tar, "manifest.json", json.dumps(manifest_json, separators=(",", ":")).encode(), now)
        if repositories:
            _add_bytes(tar, "repositories", json.dumps(repositories, separators=(",", ":")).encode(), now)


def _add_blob(tar: tarfile.TarFile, written: set[str], digest: str, data: bytes, now: int) -> None:
    if digest not in written:
        _add_bytes(tar, f"blobs/sha256/{digest_hex(digest)}", data, now)
        written.add(digest)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes | None, now: int) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = now
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        return
    info.size, info.mode = len(data), 0o444
    tar.addfile(info, io.BytesIO(data))


def load_images(store: ImageStore, source: BinaryIO) -> list[str]:
    """Load every image of an archive into ``store``; returns Docker's messages (``Loaded image: busybox:latest``,
    ``Loaded image ID: sha256:...`` for untagged ones). A seekable ``source`` is read in place; a stream is
    spooled to a temporary file first (archive members are read out of order)."""
    if _seekable(source):
        return _load(store, source)
    with tempfile.TemporaryFile(dir=store.root) as spool:
        shutil.copyfileobj(source, spool, 1 << 20)
        spool.seek(0)
        return _load(store, spool)  # type: ignore[arg-type]


def _seekable(fh: BinaryIO) -> bool:
    try:
        return bool(fh.seekable()) and fh.tell() >= 0
    except (AttributeError, OSError, ValueError):
        return False


def _load(store: ImageStore, archive: BinaryIO) -> list[str]:
    try:
        tar = tarfile.open(fileobj=archive, mode="r:*")
    except tarfile.TarError as err:
        raise InvalidArgument(f"not a valid image archive: {err}") from err
    with tar, store.lease() as lease:
        reader = _ArchiveReader(tar)
        loader = _load_docker if reader.has("manifest.json") else _load_oci if reader.has("index.json") else None
        if loader is not None:
            try:
                return loader(store, reader, lease)
            except BaseException:
                lease.release()
                store.collect_garbage()  # drop the layers and blobs this failed load added
                raise
    raise InvalidArgument("not an image archive: neither manifest.json nor index.json found")


class _ArchiveReader:
    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.members = {_clean(m.name): m for m in tar.getmembers() if m.isfile() or m.islnk() or m.issym()}

    def has(self, name: str) -> bool:
        return _clean(name) in self.members

    def open(self, name: str) -> BinaryIO:
        member = self.members.get(_clean(name))
        if member is None:
            raise InvalidArgument(f"image archive: {name!r} is missing")
        fh = self.tar.extractfile(member)
        if fh is None:
            raise InvalidArgument(f"image archive: {name!r} is not a file")
        return fh  # type: ignore[return-value]

    def read(self, name: str) -> bytes:
        return self.open(name).read()

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except ValueError as err:
            raise InvalidArgument(f"image archive: {name!r} is not valid JSON: {err}") from err

    def blob(self, digest: str) -> str:
        return f"blobs/sha256/{digest_hex(digest)}"


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def _load_docker(store: ImageStore, reader: _ArchiveReader, lease: Lease) -> list[str]:
    messages: list[str] = []
    entries = reader.json("manifest.json")
    if not isinstance(entries, list):
        raise InvalidArgument("image archive: manifest.json is not a list")
    for entry in entries:
        config = reader.read(entry["Config"])
        cfg = json.loads(config)
        diff_ids = cfg.get("rootfs", {}).get("diff_ids") or []
        paths = entry.get("Layers") or []
        if len(paths) != len(diff_ids):
            raise InvalidArgument(f"image archive: {entry['Config']}: {len(paths)} layers for {len(diff_ids)} diff ids")
        lease.add(*chain_ids(diff_ids))
        blobs = [_ensure_layer(store, reader, parent, diff_id, path, None, lease)
                 for parent, diff_id, path in zip([None, *chain_ids(diff_ids)], diff_ids, paths)]
        tags = [parse_reference(t) for t in entry.get("RepoTags") or []]
        image = store.add_image(config, blobs, references=tags)
        messages += [f"Loaded image: {t.familiar()}" for t in tags] or [f"Loaded image ID: {image.id}"]
    return messages


def _load_oci(store: ImageStore, reader: _ArchiveReader, lease: Lease) -> list[str]:
    messages: list[str] = []
    index = reader.json("index.json")
    for desc, name in _manifests(reader, index.get("manifests") or [], None):
        manifest_bytes = reader.read(reader.blob(desc["digest"]))
        if sha256_digest(manifest_bytes) != desc["digest"]:
            raise InvalidArgument(f"image archive: manifest {desc['digest']} does not match its digest")
        manifest = json.loads(manifest_bytes)
        config = reader.read(reader.blob(manifest["config"]["digest"]))
        if sha256_digest(config) != manifest["config"]["digest"]:
            raise InvalidArgument(f"image archive: config {manifest['config']['digest']} does not match its digest")
        cfg = json.loads(config)
        diff_ids = cfg.get("rootfs", {}).get("diff_ids") or []
        layers = manifest.get("layers") or []
        if len(layers) != len(diff_ids):
            raise InvalidArgument(f"image archive: manifest has {len(layers)} layers for {len(diff_ids)} diff ids")
        lease.add(*chain_ids(diff_ids), *(layer["digest"] for layer in layers))
        blobs = [_ensure_layer(store, reader, parent, diff_id, reader.blob(layer["digest"]), layer, lease)
                 for parent, diff_id, layer in zip([None, *chain_ids(diff_ids)], diff_ids, layers)]
        refs = [name] if name else []
        image = store.add_image(config, blobs, references=refs)
        messages += [f"Loaded image: {r.familiar()}" for r in refs] or [f"Loaded image ID: {image.id}"]
    return messages


def _manifests(reader: _ArchiveReader, descs: list[dict[str, Any]], name: Any):
    plat = host_platform()
    for desc in descs:
        annotations = desc.get("annotations") or {}
        ref_name = annotations.get("io.containerd.image.name") or name
        tag = annotations.get("org.opencontainers.image.ref.name")
        if not ref_name and tag and ("/" in tag or ":" in tag):
            ref_name = tag
        ref = None
        if ref_name:
            try:
                ref = parse_reference(ref_name)
            except InvalidArgument:
                ref = None
        if desc.get("mediaType") in _INDEX_TYPES:
            nested = reader.json(reader.blob(desc["digest"])).get("manifests") or []
            fitting = [d for d in nested if (d.get("platform") or {}).get("architecture") in (None, plat["architecture"])
                       and reader.has(reader.blob(d["digest"]))]
            yield from _manifests(reader, fitting[:1], ref_name)
        else:
            yield desc, ref


def _ensure_layer(store: ImageStore, reader: _ArchiveReader, parent: str | None, diff_id: str, path: str,
                  descriptor: dict[str, Any] | None, lease: Lease) -> LayerBlob:
    chain = diff_id if parent is None else sha256_digest(f"{parent} {diff_id}".encode())
    existing = store.find_layer_blob(diff_id) if store.layers.has(chain) else None
    if existing is not None:
        lease.add(existing.digest)
        return existing
    label = f"layer {diff_id[:19]}"
    media = (descriptor or {}).get("mediaType", "")
    if descriptor and media.endswith(_COMPRESSED_SUFFIXES):
        digest = descriptor["digest"]
        with store.blobs.writer(digest, label) as writer:
            store.layers.create(parent, TeeReader(reader.open(path), writer), expected_diff_id=diff_id,
                                label=label, verify=lambda: None if writer.commit() else None)
        return LayerBlob(digest, media, store.blobs.size(digest))
    _layer, blob = store.add_layer(parent, reader.open(path), label=label, expected_diff_id=diff_id, lease=lease)
    return blob
