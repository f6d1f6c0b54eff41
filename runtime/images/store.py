"""The image store under ``<data_root>/images``: blobs, unpacked layers, image records, the repositories index.

Layout (OCI image-layout-like)::

    blobs/sha256/<hex>      configs, manifests, compressed layer blobs (content-addressed, verified)
    layers/<chain hex>/     one unpacked layer: diff/ (overlay lower dir) + layer.json
    imagedb/<id hex>.json   per image: its layer blobs, registry manifest descriptor, sources
    repositories.json       full reference -> image id

Image id = sha256 of the config blob, as Docker. Mutations hold one lock; every file is written atomically.
"""
from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path
import builtins
from typing import Any, BinaryIO, Callable, Collection, Iterable, Mapping

from runtime.errors import InvalidArgument, NotFound
from runtime.paths import data_root
from runtime.images._atomic import read_json, write_json_atomic
from runtime.images.blobs import BlobStore
from runtime.images.config import apply_changes, config_bytes, new_config, now_rfc3339
from runtime.images.digest import Reader, TeeReader, Writer, chain_ids, digest_hex, sha256_digest, short_id
from runtime.images.image import Image, LayerBlob
from runtime.images.layers import Layer, LayerStore, pid_alive
from runtime.images.layertar import write_layer_tar
from runtime.images.lease import Lease, Pins, StoreLock
from runtime.images.pipe import ChunkPipe, run_two_stages
from runtime.images.reference import Reference, is_image_id, normalize_id, parse_reference
from runtime.images.removal import prune_images, remove_image
from runtime.images.tags import TagIndex
from runtime.images.unpack import open_decompressed

__all__ = ["ImageStore", "InUse", "MEDIA_LAYER_GZIP", "MEDIA_CONFIG"]

MEDIA_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MEDIA_CONFIG = "application/vnd.docker.container.image.v1+json"
_GZIP_LEVEL = 1  # ISA-L level 1 compresses as well as zlib's 6 here (0.56 vs 0.55) at 10x the speed
InUse = Callable[[str], "bool | str | None"]  # image id -> truthy (e.g. a container id) when a container uses it


def _gzip_writer(sink: Writer) -> Any:
    """A gzip compressor writing into ``sink`` (mtime 0: the same layer gives the same blob)."""
    try:
        from isal import igzip
    except ImportError:  # pragma: no cover - isal is a dependency
        return gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6, mtime=0)  # type: ignore[call-overload]
    return igzip.IGzipFile(fileobj=sink, mode="wb", compresslevel=_GZIP_LEVEL, mtime=0)


class ImageStore:
    def __init__(self, root: Path | str | None = None, in_use: InUse | None = None) -> None:
        """``root``: the store's directory (default ``<data_root>/images``). ``in_use(image_id)``: truthy (best a
        container id, for the message) while a container uses the image; removal is refused then."""
        self.root = Path(root) if root is not None else data_root() / "images"
        self.root.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(self.root)
        self.layers = LayerStore(self.root)
        self._db = self.root / "imagedb"
        self._db.mkdir(exist_ok=True)
        self.tags = TagIndex(self.root / "repositories.json")
        self.in_use: InUse = in_use or (lambda _id: False)
        self.lock = StoreLock(self.root / ".lock")
        self.pins = Pins()
        self.layers.cleanup_temporaries()
        self.blobs.cleanup_ingest(pid_alive)

    def lease(self) -> Lease:
        """Protect blobs and layers being added (by digest / chain id) from garbage collection until released."""
        return Lease(self.pins)

    # ---- lookup -------------------------------------------------------------------------------------------
    def get(self, image_id: str) -> Image:
        """The image with full id ``image_id`` (``sha256:<hex>``); ``NotFound`` otherwise."""
        record = read_json(self._db / f"{digest_hex(image_id)}.json")
        if record is None:
            raise NotFound(f"No such image: {image_id}")
        cfg = _json(self.blobs.read(image_id))
        diff_ids = (cfg.get("rootfs") or {}).get("diff_ids") or []
        return Image(
            id=image_id,
            image_config=cfg,
            references=tuple(self.tags.refs_of(image_id)),
            layers=tuple(self.layers.chain(diff_ids)),
            blobs=tuple(LayerBlob(b["digest"], b["mediaType"], b["size"]) for b in record.get("layers", [])),
            manifest=record.get("manifest"),
            last_tag_time=record.get("last_tag_time"),
            sources=tuple(record.get("sources", [])),
        )

    def exists(self, image_id: str) -> bool:
        return (self._db / f"{digest_hex(image_id)}.json").is_file()

    def resolve(self, ref_or_id: str) -> Image:
        """An image by full or short id, by tag (``busybox``, ``busybox:1``), or by ``name@sha256:digest``.

        Raises ``NotFound("No such image: <ref>")`` as Docker words it.
        """
        image_id = self.resolve_id(ref_or_id)
        return self.get(image_id)

    def resolve_id(self, ref_or_id: str) -> str:
        return self._lookup(ref_or_id)[0]

    def _lookup(self, ref_or_id: str) -> tuple[str, Reference | None]:
        """(image id, the reference that matched or None when matched by id)."""
        text = ref_or_id.strip()
        if is_image_id(text) and (text.startswith("sha256:") or self.exists(normalize_id(text))):
            image_id = normalize_id(text)
            if self.exists(image_id):
                return image_id, None
            raise NotFound(f"No such image: {ref_or_id}")
        try:
            ref: Reference | None = parse_reference(text)
        except InvalidArgument:
            ref = None
        if ref is not None:
            key = ref.with_digest(ref.digest) if ref.digest else ref
            found = self.tags.get(str(key))
            if found and self.exists(found):
                return found, key
        candidate = text.removeprefix("sha256:")
        if candidate and all(c in "0123456789abcdef" for c in candidate) and len(candidate) <= 64:
            matches = [n[:-5] for n in os.listdir(self._db) if n.startswith(candidate) and n.endswith(".json")]
            if len(matches) == 1:
                return "sha256:" + matches[0], None
            if len(matches) > 1:
                raise NotFound(f"No such image: {ref_or_id} (ambiguous short id, {len(matches)} images match)")
        raise NotFound(f"No such image: {ref_or_id}")

    def list(self) -> list[Image]:
        out = []
        for name in sorted(os.listdir(self._db)):
            if name.endswith(".json") and not name.startswith("."):
                try:
                    out.append(self.get("sha256:" + name[:-5]))
                except NotFound:
                    continue  # removed meanwhile
        return out

    # ---- adding images ----------------------------------------------------------------------------------------
    def add_image(self, config: bytes, blobs: Iterable[LayerBlob], *, references: Iterable[str | Reference] = (),
                  manifest: Mapping[str, Any] | None = None, sources: Iterable[str] = (),
                  extra_blobs: Iterable[str] = ()) -> Image:
        """Record an image whose config bytes, layer blobs and layers are all present. Returns it.

        ``config`` is stored verbatim (its sha256 is the image id). Existing records are merged, not replaced.
        """
        cfg = _json(config)
        image_id = sha256_digest(config)
        diff_ids = (cfg.get("rootfs") or {}).get("diff_ids") or []
        blobs = list(blobs)
        if len(blobs) != len(diff_ids):
            raise InvalidArgument(f"image {short_id(image_id)}: {len(blobs)} layer blobs for {len(diff_ids)} diff ids")
        with self.lock:  # garbage collection holds it too: nothing referenced below vanishes meanwhile
            for chain in chain_ids(diff_ids):
                if not self.layers.has(chain):
                    raise InvalidArgument(f"image {short_id(image_id)}: layer {chain} is not in the store")
            for blob in blobs:
                if not self.blobs.has(blob.digest):
                    raise InvalidArgument(f"image {short_id(image_id)}: layer blob {blob.digest} is not in the store")
            self.blobs.put(config, image_id, label="image config")
            path = self._db / f"{digest_hex(image_id)}.json"
            record = read_json(path, {}) or {}
            record["layers"] = [b.descriptor() for b in blobs]
            if manifest is not None:
                record["manifest"] = dict(manifest)
            record["manifest_blobs"] = sorted(set(record.get("manifest_blobs", [])) | set(extra_blobs))
            record["sources"] = sorted(set(record.get("sources", [])) | set(sources))
            record.setdefault("last_tag_time", now_rfc3339())
            write_json_atomic(path, record)
            for ref in references:
                self._set_ref(str(ref), image_id)
        return self.get(image_id)

    def _set_ref(self, ref: str, image_id: str) -> None:
        self.tags.set(ref, image_id)
        path = self._db / f"{digest_hex(image_id)}.json"
        record = read_json(path, {}) or {}
        record["last_tag_time"] = now_rfc3339()
        write_json_atomic(path, record)

    def add_layer(self, parent: str | None, tar_stream: Reader, *, label: str = "layer",
                  expected_diff_id: str | None = None, lease: Lease | None = None) -> tuple[Layer, LayerBlob]:
        """Unpack a (plain/gzip/zstd) layer tar above chain id ``parent`` and keep it gzip-compressed as a blob.

        Until an image references them, the new layer and blob are only safe from garbage collection under a
        ``lease`` (``import_rootfs`` and ``commit`` hold one)."""
        source = open_decompressed(tar_stream)
        pin = lease.add if lease is not None else None
        made: list[Layer] = []

        def _unpack(pipe: ChunkPipe) -> None:  # a thread of its own: unpack, passing each chunk on to ...
            made.append(self.layers.create(parent, TeeReader(source, pipe), label=label,
                                           expected_diff_id=expected_diff_id, pin=pin))

        def _compress(pipe: ChunkPipe, gz: Writer) -> None:  # ... this one, which compresses it into the blob
            while chunk := pipe.read(1 << 20):
                gz.write(chunk)

        with self.blobs.writer(label=label) as writer:
            with _gzip_writer(writer) as gz:
                run_two_stages(_unpack, lambda pipe: _compress(pipe, gz), name="layer-unpack")
            digest = writer.commit(pin)
            blob = LayerBlob(digest, MEDIA_LAYER_GZIP, writer.size)
        return made[0], blob

    def import_rootfs(self, source: str | os.PathLike[str] | BinaryIO, reference: str | None = None,
                      changes: Mapping[str, Any] | Iterable[str] | None = None, *, comment: str | None = None,
                      message: str = "") -> Image:
        """Like ``docker import``: a (plain/gzip/zstd) rootfs tarball becomes a one-layer image.

        ``changes``: config keys (``{"Cmd": ["sh"]}``) or ``--change`` lines (``['CMD ["sh"]', 'ENV A=1']``).
        """
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as fh:
                return self.import_rootfs(fh, reference, changes, comment=comment, message=message)
        ref = parse_reference(reference) if reference else None
        container_config = apply_changes({}, changes)
        with self.lease() as lease:
            layer, blob = self.add_layer(None, source, label="imported rootfs", lease=lease)
            created = now_rfc3339()
            history = [{"created": created, "created_by": "", "comment": comment or "Imported from -"}]
            cfg = new_config([layer.diff_id], container_config=container_config, history=history,
                             created=created, comment=comment or message or None)
            return self.add_image(config_bytes(cfg), [blob], references=[ref] if ref else [])

    def create_layer_from_dir(self, diff_dir: Path, parent: str | None = None) -> Layer:
        """A layer from a directory (e.g. an overlay upper dir; its whiteouts become ``.wh.`` entries), above the
        layer with chain id ``parent``. The layer is kept only while an image uses it: pass the directory to
        ``commit`` to make one."""
        return self._layer_from_dir(Path(diff_dir), parent)[0]

    def _layer_from_dir(self, diff_dir: Path, parent: str | None, lease: Lease | None = None,
                        leave_out: Collection[str] = frozenset()) -> tuple[Layer, LayerBlob]:
        with tempfile.TemporaryFile(dir=self.root) as spool:
            write_layer_tar(diff_dir, spool, leave_out)  # type: ignore[arg-type]
            spool.seek(0)
            return self.add_layer(parent, spool, label=f"layer from {diff_dir}", lease=lease)

    def commit(self, parent_image: str | Image | None, layer_tar: Reader | Path | None,
               config_changes: Mapping[str, Any] | Iterable[str] | None = None, reference: str | None = None, *,
               created_by: str = "", comment: str = "", author: str = "",
               leave_out: Collection[str] = frozenset()) -> Image:
        """A new image: ``parent_image`` (or scratch) + an optional layer (a tar stream with whiteouts, or a
        directory to diff, without its paths in ``leave_out``) + config changes. History gets one entry
        (``empty_layer`` when no layer).

        ``author`` and ``comment`` (``docker commit -a/-m``) are the new image's own, as Docker keeps them: in
        the config's ``author``/``comment`` (not inherited from the parent) and in the history entry."""
        parent = self.resolve(parent_image) if isinstance(parent_image, str) else parent_image
        base_cfg = dict(parent.image_config) if parent else new_config([])
        blobs = list(parent.blobs) if parent else []
        diff_ids = list(parent.diff_ids) if parent else []
        entry: dict[str, Any] = {"created": now_rfc3339(), "created_by": created_by}
        if author:
            entry["author"] = author
        if comment:
            entry["comment"] = comment
        cfg = {k: v for k, v in base_cfg.items() if k not in ("author", "comment")}
        cfg.update({k: v for k, v in (("author", author), ("comment", comment)) if v})
        cfg["config"] = apply_changes(base_cfg.get("config") or {}, config_changes)
        refs = [parse_reference(reference)] if reference else []
        with self.lease() as lease:
            if layer_tar is not None:
                top = parent.layers[-1].chain_id if parent and parent.layers else None
                if isinstance(layer_tar, Path) and layer_tar.is_dir():
                    layer, blob = self._layer_from_dir(layer_tar, top, lease, leave_out)
                elif isinstance(layer_tar, Path):
                    with open(layer_tar, "rb") as fh:
                        layer, blob = self.add_layer(top, fh, lease=lease)
                else:
                    layer, blob = self.add_layer(top, layer_tar, lease=lease)
                diff_ids.append(layer.diff_id)
                blobs.append(blob)
            else:
                entry["empty_layer"] = True
            cfg["created"] = entry["created"]
            cfg["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
            cfg["history"] = list(base_cfg.get("history") or []) + [entry]
            return self.add_image(config_bytes(cfg), blobs, references=refs)

    def find_layer_blob(self, diff_id: str) -> LayerBlob | None:
        """A stored blob of the layer with ``diff_id``, from any image that has it (to skip re-compressing)."""
        for name in os.listdir(self._db):
            if not name.endswith(".json") or name.startswith("."):
                continue
            record = read_json(self._db / name, {}) or {}
            try:
                cfg = _json(self.blobs.read("sha256:" + name[:-5]))
            except NotFound:
                continue
            for d, b in zip((cfg.get("rootfs") or {}).get("diff_ids") or [], record.get("layers", [])):
                if d == diff_id and self.blobs.has(b["digest"]):
                    return LayerBlob(b["digest"], b["mediaType"], b["size"])
        return None

    # ---- tags ---------------------------------------------------------------------------------------------
    def tag(self, ref_or_id: str, new_reference: str) -> Image:
        image_id = self.resolve_id(ref_or_id)
        ref = parse_reference(new_reference)
        if ref.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {new_reference}")
        with self.lock:
            self._set_ref(str(ref), image_id)
        return self.get(image_id)

    def add_reference(self, reference: str | Reference, image_id: str) -> None:
        with self.lock:
            self._set_ref(str(reference), image_id)

    def set_manifest(self, image_id: str, manifest: Mapping[str, Any], source: str | None = None) -> None:
        with self.lock:
            path = self._db / f"{digest_hex(image_id)}.json"
            record = read_json(path)
            if record is None:
                raise NotFound(f"No such image: {image_id}")
            record["manifest"] = dict(manifest)
            if source:
                record["sources"] = sorted(set(record.get("sources", [])) | {source})
            write_json_atomic(path, record)

    # ---- removal ------------------------------------------------------------------------------------------
    def remove(self, ref_or_id: str, *, force: bool = False) -> builtins.list[dict[str, str]]:
        """``docker rmi``; see ``runtime.images.removal.remove_image``."""
        return remove_image(self, ref_or_id, force=force)

    def prune(self, *, dangling_only: bool = True) -> dict[str, Any]:
        """``docker image prune [-a]``; see ``runtime.images.removal.prune_images``."""
        return prune_images(self, dangling_only=dangling_only)

    def lookup(self, ref_or_id: str) -> tuple[str, Reference | None]:
        """(image id, the reference that matched, or None when ``ref_or_id`` matched as an id)."""
        return self._lookup(ref_or_id)

    def delete_image(self, image_id: str) -> None:
        """Drop the image record (its references must be gone) and collect what nothing uses any more."""
        self._delete_image(image_id)

    def _delete_image(self, image_id: str) -> None:
        (self._db / f"{digest_hex(image_id)}.json").unlink(missing_ok=True)
        self.collect_garbage()

    def collect_garbage(self) -> None:
        """Remove layers and blobs that no image record references any more."""
        with self.lock:
            keep_blobs: set[str] = set()
            keep_layers: set[str] = set()
            for name in os.listdir(self._db):
                if not name.endswith(".json") or name.startswith("."):
                    continue
                image_id = "sha256:" + name[:-5]
                record = read_json(self._db / name, {}) or {}
                keep_blobs.add(image_id)
                keep_blobs.update(b["digest"] for b in record.get("layers", []))
                if record.get("manifest"):
                    keep_blobs.add(record["manifest"]["digest"])
                    keep_blobs.update(record.get("manifest_blobs", []))
                try:
                    cfg = _json(self.blobs.read(image_id))
                except NotFound:
                    continue
                keep_layers.update(chain_ids((cfg.get("rootfs") or {}).get("diff_ids") or []))
            pinned = self.pins.snapshot()
            for chain in list(self.layers.chain_ids()):
                if chain not in keep_layers and chain not in pinned:
                    self.layers.remove(chain)
            for digest in list(self.blobs.digests()):
                if digest not in keep_blobs and digest not in pinned:
                    self.blobs.delete(digest)

    def disk_usage(self) -> int:
        total = 0
        for base in (self.blobs.blob_dir, self.layers.dir):
            for dirpath, _dirs, files in os.walk(base):
                for f in files:
                    try:
                        total += os.lstat(os.path.join(dirpath, f)).st_size
                    except FileNotFoundError:
                        pass
        return total


def _json(data: bytes) -> dict[str, Any]:
    import json

    try:
        value = json.loads(data)
    except ValueError as err:
        raise InvalidArgument(f"image config is not valid JSON: {err}") from err
    if not isinstance(value, dict):
        raise InvalidArgument("image config is not a JSON object")
    return value
