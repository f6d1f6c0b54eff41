"""The image being built, between two steps: the whole config document and the layer blobs. Its id is the
sha256 of the config bytes, exactly the id the image gets when it is recorded, so a step is named the way Docker's
classic builder names its intermediate images."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from runtime.images.config import config_bytes, new_config
from runtime.images.digest import chain_ids, sha256_digest
from runtime.images.image import Image, LayerBlob

__all__ = ["BuildState"]


@dataclass(frozen=True)
class BuildState:
    image_config: dict[str, Any]
    blobs: tuple[LayerBlob, ...] = ()
    base_name: str = ""  # what FROM named (for messages)
    _id: list[str] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def scratch(cls) -> "BuildState":
        cfg = new_config([])
        cfg.pop("created", None)
        return cls(cfg, (), "scratch")

    @classmethod
    def of_image(cls, image: Image, name: str = "") -> "BuildState":
        return cls(copy.deepcopy(image.image_config), tuple(image.blobs), name or image.id)

    @property
    def id(self) -> str:
        if not self._id:
            self._id.append(sha256_digest(config_bytes(self.image_config)))
        return self._id[0]

    @property
    def config(self) -> dict[str, Any]:
        return self.image_config.get("config") or {}

    @property
    def diff_ids(self) -> list[str]:
        return list((self.image_config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def top_chain(self) -> str | None:
        chains = chain_ids(self.diff_ids)
        return chains[-1] if chains else None

    def with_config(self, section: dict[str, Any], history: dict[str, Any], *, diff_id: str | None = None,
                    blob: LayerBlob | None = None) -> "BuildState":
        """A new state: config section replaced, one history entry appended, maybe one layer added."""
        cfg = copy.deepcopy(self.image_config)
        cfg["config"] = section
        cfg["created"] = history["created"]
        cfg["history"] = list(cfg.get("history") or []) + [history]
        blobs = self.blobs
        if diff_id is not None and blob is not None:
            cfg["rootfs"] = {"type": "layers", "diff_ids": self.diff_ids + [diff_id]}
            blobs = blobs + (blob,)
        return BuildState(cfg, blobs, self.base_name)
