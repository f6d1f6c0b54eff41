"""The volumes of a container being created: named and anonymous ones created and taken, mounted, filled from
the image (copy-up), handed to the container once it has an id, released at its removal.

A ``VolumeOptions.Subpath`` mounts one directory (or file) of a named volume. It is checked twice, as Docker
does: lexically at create (relative, not climbing out with ``..``, not on an anonymous volume) and on disk at
every start (it must exist then, and its real path must stay inside the volume, so a symlink that a container
wrote into the volume cannot lead the mount to the host's files). At start the checked inode itself is
bind-mounted at a staging path beside the volume's data (``VolumeService.pin_subpath``), which is what the
container's spec names: a path component swapped for a symlink after the check changes nothing.

An image mount (``Mounts[].Type = "image"``) names an image that must be present (404 ``No such image`` at create,
as Docker); the spec gets its layer directories, stacked read-only at the target when the container starts. The
inspect entry names the image by id, so the image counts as in use (``docker rmi`` refused unless forced, and then
kept dangling) for as long as the container exists.
"""
from __future__ import annotations

import os
import posixpath
import secrets
from pathlib import Path
from typing import Any

from runtime.daemon.specconv import Conversion, VolumeUse
from runtime.errors import InvalidArgument, Unsupported
from runtime.spec import Mount
from runtime.volumes import VolumeService

__all__ = ["prepare_volumes", "prepare_binds", "rehome_volumes", "release_volumes", "image_path", "check_subpaths",
           "prepare_image_mounts", "image_mount_ids"]


def _clean_subpath(use: VolumeUse) -> str:
    """The subpath in normal form; ``InvalidArgument`` (400) for one that Docker refuses at create."""
    sub = use.subpath
    if not use.name:
        raise InvalidArgument("invalid mount config for type \"volume\": must not set Subpath when using "
                              "anonymous volumes")
    clean = posixpath.normpath(sub)
    if sub.startswith("/") or clean == ".." or clean.startswith("../") or "\0" in sub:
        raise InvalidArgument(f"invalid mount config for type \"volume\": subpath must be a relative path within "
                              f"the volume: {sub!r}")
    return "" if clean == "." else clean


def prepare_binds(host: dict[str, Any]) -> None:
    """Host paths of bind mounts, as Docker treats them at create: a ``Binds`` source that does not exist is made
    (a directory); a ``Mounts`` one is made only with ``BindOptions.CreateMountpoint``, else refused (400)."""
    for bind in host.get("Binds") or ():
        src = str(bind).split(":", 1)[0]
        if src.startswith("/") and ":" in str(bind) and not os.path.lexists(src):
            _make_dir(src)
    for m in host.get("Mounts") or ():
        if m.get("Type") != "bind" or not str(m.get("Source") or "").startswith("/"):
            continue
        src = str(m["Source"])
        if os.path.lexists(src):
            continue
        if (m.get("BindOptions") or {}).get("CreateMountpoint"):
            _make_dir(src)
        else:
            raise InvalidArgument(f"invalid mount config for type \"bind\": bind source path does not exist: {src}")


def _make_dir(path: str) -> None:
    try:
        os.makedirs(path, 0o755, exist_ok=True)
    except OSError as err:
        raise InvalidArgument(f"error while creating mount source path '{path}': {err.strerror}") from err


def prepare_image_mounts(images: Any, uses: list[Mount]) -> tuple[list[Mount], list[dict[str, Any]]]:
    """The spec's image mounts (``source``: the image's layer dirs, top first, as overlay's ``lowerdir``) and
    their inspect entries; ``NotFound`` for an image that is not there."""
    mounts: list[Mount] = []
    inspect: list[dict[str, Any]] = []
    for use in uses:
        if images is None:
            raise Unsupported("image mounts need the engine's image store")
        img = images.resolve(use.source)
        lowers = [str(d) for d in reversed(list(img.layer_dirs()))]
        if not lowers:
            raise InvalidArgument(f"invalid mount config for type \"image\": image {use.source} has no layers")
        if any(":" in d for d in lowers):
            raise Unsupported(f"image mount of {use.source}: the data root's path holds a ':', which overlayfs "
                              "cannot take in lowerdir")
        mounts.append(Mount("image", use.target, ":".join(lowers), True, subpath=use.subpath))
        inspect.append({"Type": "image", "Name": img.id, "Source": use.source, "Destination": use.target,
                        "Mode": "", "RW": False, "Propagation": "",
                        **({"Subpath": use.subpath} if use.subpath else {})})
    return mounts, inspect


def image_mount_ids(rec: dict[str, Any]) -> set[str]:
    """Ids of the images a container record mounts (``type: image``): they are in use while it exists."""
    return {str(m.get("Name")) for m in rec.get("Mounts") or () if m.get("Type") == "image"}


def prepare_volumes(vols: VolumeService, conv: Conversion, image: Any, holder: str, images: Any = None
                    ) -> tuple[list[Mount], list[str], list[dict[str, Any]]]:
    """Mounts for the spec, the volume names taken under ``holder`` and the inspect ``Mounts`` entries (bind
    sources are made or checked first: :func:`prepare_binds`; image mounts resolved in ``images``, the image
    store: :func:`prepare_image_mounts`)."""
    prepare_binds(conv.host_config)
    mounts, inspect = prepare_image_mounts(images, conv.images)
    names: list[str] = []
    subpaths = {use.target: _clean_subpath(use) for use in conv.volumes if use.subpath}
    try:
        for use in conv.volumes:
            vol, _new = vols.create(use.name or None, use.driver, dict(use.driver_opts) or None,
                                    dict(use.labels) or None)
            vols.acquire(vol.name, holder)
            names.append(vol.name)
            path = vols.mount(vol.name, holder)
            sub = subpaths.get(use.target, "")
            if not use.nocopy and not sub:
                source = image_path(image, use.target)
                if source is not None:
                    vols.fill(vol.name, source)
            if sub:  # the staging path, bound to the subpath at each start (check_subpaths)
                path = vols.pin_path(vol.name, secrets.token_hex(8))
            mounts.append(Mount("volume", use.target, str(path), use.read_only,
                                options=("nocopy",) if use.nocopy else ()))
            inspect.append({"Type": "volume", "Name": vol.name, "Source": str(path), "Destination": use.target,
                            "Driver": vol.driver, "Mode": "" if not use.read_only else "ro",
                            "RW": not use.read_only, "Propagation": ""})
    except BaseException:
        release_volumes(vols, holder, names)
        raise
    return mounts, names, inspect


def check_subpaths(vols: VolumeService, rec: dict[str, Any]) -> None:
    """Before a start: every volume subpath of the container exists, resolves inside its volume, and is bound at
    the staging path its spec mounts; ``InvalidArgument`` (400) otherwise."""
    wanted = {str(m.get("Target")): str((m.get("VolumeOptions") or {}).get("Subpath") or "")
              for m in (rec.get("HostConfig") or {}).get("Mounts") or () if m.get("Type", "volume") == "volume"}
    for entry in rec.get("Mounts") or ():
        sub = wanted.get(str(entry.get("Destination")))
        if entry.get("Type") != "volume" or not sub:
            continue
        name, source = str(entry.get("Name")), Path(str(entry.get("Source")))
        if source == vols.pin_path(name, source.name):
            vols.pin_subpath(name, posixpath.normpath(sub), source.name, str(rec.get("Id")))
            continue
        # a container made before subpaths were staged: its spec names <volume>/_data/<subpath> itself
        base = os.path.realpath(vols.data_path(str(entry.get("Name"))))
        path = os.path.join(base, posixpath.normpath(sub))
        if not os.path.lexists(path):
            raise InvalidArgument(f"cannot access path {path}: subpath {sub!r} does not exist in volume "
                                  f"{entry.get('Name')}")
        real = os.path.realpath(path)
        if real != base and not real.startswith(base + os.sep):
            raise InvalidArgument(f"cannot access path {path}: subpath {sub!r} of volume {entry.get('Name')} "
                                  f"escapes the volume (path concatenation escapes the base directory)")
        if not os.path.exists(real):
            raise InvalidArgument(f"cannot access path {path}: subpath {sub!r} of volume {entry.get('Name')} "
                                  f"is a dangling link")


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
