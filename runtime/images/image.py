"""An image as the rest of the engine sees it: id, config, references and its layers (lowest first)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.images.layers import Layer
from runtime.images.reference import familiar

__all__ = ["Image", "LayerBlob"]


@dataclass(frozen=True)
class LayerBlob:
    """The stored (usually compressed) form of a layer, as a registry or an archive carries it."""

    digest: str
    media_type: str
    size: int

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "size": self.size, "digest": self.digest}


@dataclass(frozen=True)
class Image:
    id: str  # sha256 of the config blob, as Docker
    image_config: dict[str, Any]  # the whole config document (architecture, os, config, rootfs, history...)
    references: tuple[str, ...]  # full references: tags and name@digest ones
    layers: tuple[Layer, ...]  # lowest first
    blobs: tuple[LayerBlob, ...] = ()  # the layers' stored blobs, same order
    manifest: dict[str, Any] | None = None  # descriptor of the registry manifest this image came from/went to
    last_tag_time: str | None = None
    sources: tuple[str, ...] = field(default=())  # repositories (full names) known to hold the blobs

    @property
    def config(self) -> dict[str, Any]:
        """The config section: Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels..."""
        return self.image_config.get("config") or {}

    def layer_dirs(self) -> list[Path]:
        """Directories to stack as overlay lowerdirs, LOWEST first (overlay's ``lowerdir=`` wants the reverse)."""
        return [layer.diff_dir for layer in self.layers]

    @property
    def diff_ids(self) -> list[str]:
        return list((self.image_config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def repo_tags(self) -> list[str]:
        return [familiar(r) for r in self.references if "@" not in r]

    @property
    def repo_digests(self) -> list[str]:
        return [familiar(r) for r in self.references if "@" in r]

    @property
    def created(self) -> str | None:
        return self.image_config.get("created")

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.image_config.get("history") or [])
