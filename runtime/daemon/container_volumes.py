"""The volumes of a container being created: named and anonymous ones created and taken, mounted, filled from
the image (copy-up), handed to the container once it has an id, released at its removal."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from runtime.daemon.specconv import Conversion
from runtime.spec import Mount
from runtime.volumes import VolumeService

__all__ = ["prepare_volumes", "rehome_volumes", "release_volumes", "image_path"]


def prepare_volumes(vols: VolumeService, conv: Conversion, image: Any, holder: str
                    ) -> tuple[list[Mount], list[str], list[dict[str, Any]]]:
    """Mounts for the spec, the volume names taken under ``holder`` and the inspect ``Mounts`` entries."""
    mounts: list[Mount] = []
    names: list[str] = []
    inspect: list[dict[str, Any]] = []
    try:
        for use in conv.volumes:
            vol, _new = vols.create(use.name or None, use.driver, dict(use.driver_opts) or None,
                                    dict(use.labels) or None)
            vols.acquire(vol.name, holder)
            names.append(vol.name)
            path = vols.mount(vol.name, holder)
            if not use.nocopy:
                source = image_path(image, use.target)
                if source is not None:
                    vols.fill(vol.name, source)
            mounts.append(Mount("volume", use.target, str(path), use.read_only))
            inspect.append({"Type": "volume", "Name": vol.name, "Source": str(path), "Destination": use.target,
                            "Driver": vol.driver, "Mode": "" if not use.read_only else "ro",
                            "RW": not use.read_only, "Propagation": ""})
    except BaseException:
        release_volumes(vols, holder, names)
        raise
    return mounts, names, inspect


def rehome_volumes(vols: VolumeService, names: list[str], holder: str, cid: str) -> None:
    """Hand the volumes taken under ``holder`` to the container now that it has an id."""
    for name in names:
        vols.acquire(name, cid)
        vols.mount(name, cid)
        vols.release(name, holder)


def release_volumes(vols: VolumeService, holder: str, names: list[str]) -> None:
    for name in names:
        vols.release(name, holder)


def image_path(image: Any, target: str) -> Path | None:
    """The image's directory at ``target`` (top-most layer holding it) for a new volume's copy-up."""
    rel = target.strip("/")
    for layer_dir in reversed(list(image.layer_dirs())):
        candidate = Path(layer_dir) / rel
        if candidate.is_dir() and not candidate.is_symlink():
            return candidate
    return None
