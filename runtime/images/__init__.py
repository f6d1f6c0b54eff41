"""Images: reference parsing, the content-addressed store with shared unpacked layers, archives, registries.

Public surface for the rest of the engine::

    store = ImageStore(data_root() / "images")
    image = store.resolve("busybox")        # NotFound("No such image: busybox")
    image.id, image.config, image.layer_dirs(), image.references
"""
from __future__ import annotations

from runtime.images.image import Image, LayerBlob
from runtime.images.layers import Layer
from runtime.images.reference import Reference, familiar, parse_reference
from runtime.images.store import ImageStore

__all__ = ["Image", "ImageStore", "Layer", "LayerBlob", "Reference", "familiar", "parse_reference"]
