"""Images: reference parsing, the content-addressed store with shared unpacked layers, archives, registries.

Public surface for the rest of the engine::

    store = ImageStore(data_root() / "images", in_use=lambda image_id: container_id_or_None)
    image = store.resolve("busybox")        # NotFound("No such image: busybox")
    image.id, image.config, image.layer_dirs(), image.references   # layer_dirs(): lowest first

    store.import_rootfs(tar_path_or_fileobj, "app:1", ['CMD ["sh"]'])      # docker import
    store.commit(parent, layer_tar_or_upper_dir, {"Cmd": [...]}, "app:2")   # the builder's step
    store.tag(ref, new_ref); store.list(); store.remove(ref, force=False); store.prune()
    runtime.images.inspect: image_inspect / image_summary / image_history  (Engine API dicts)
    runtime.images.archive: save_images(store, names, out) / load_images(store, fileobj)
    runtime.images.registry: pull(store, ref, config, progress) / push(...) / login(...)
"""
from __future__ import annotations

from runtime.images.image import Image, LayerBlob
from runtime.images.layers import Layer
from runtime.images.reference import Reference, familiar, parse_reference
from runtime.images.store import ImageStore

__all__ = ["Image", "ImageStore", "Layer", "LayerBlob", "Reference", "familiar", "parse_reference"]
