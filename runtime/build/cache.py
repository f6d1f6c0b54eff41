"""The build cache: content-addressed steps. The key of a step is the sha256 of the state it starts from (itself
content-addressed), the instruction after substitution and the checksums of what it copies; the value is the state it
produced. A hit is used only when every layer and blob it names is still in the image store."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runtime.build.state import BuildState
from runtime.images._atomic import read_json, write_json_atomic
from runtime.images.digest import chain_ids
from runtime.images.image import LayerBlob
from runtime.images.store import ImageStore

__all__ = ["BuildCache", "cache_key"]


def cache_key(parent: BuildState, instruction: str, extra: Iterable[str] = ()) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([parent.id, instruction, list(extra)]).encode())
    return h.hexdigest()


class BuildCache:
    def __init__(self, root: Path, store: ImageStore) -> None:
        self.dir = Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.store = store

    def get(self, key: str) -> BuildState | None:
        record: dict[str, Any] | None = read_json(self.dir / f"{key}.json")
        if not record:
            return None
        cfg = record["config"]
        blobs = tuple(LayerBlob(b["digest"], b["mediaType"], b["size"]) for b in record["blobs"])
        diff_ids = (cfg.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(blobs):
            return None
        if not all(self.store.layers.has(c) for c in chain_ids(diff_ids)):
            return None
        if not all(self.store.blobs.has(b.digest) for b in blobs):
            return None
        return BuildState(cfg, blobs, record.get("base_name", ""))

    def prune(self, everything: bool = False) -> tuple[list[str], int]:
        """Forget cached steps: all of them, or those whose layers are gone. (keys removed, bytes freed)"""
        removed: list[str] = []
        freed = 0
        for path in sorted(self.dir.glob("*.json")):
            key = path.stem
            if everything or self.get(key) is None:
                try:
                    freed += path.stat().st_size
                    path.unlink()
                except FileNotFoundError:
                    continue
                removed.append(key)
        return removed, freed

    def put(self, key: str, state: BuildState) -> None:
        write_json_atomic(self.dir / f"{key}.json", {"config": state.image_config,
                                                     "blobs": [b.descriptor() for b in state.blobs],
                                                     "base_name": state.base_name})
