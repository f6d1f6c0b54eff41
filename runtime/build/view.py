"""A read-only merged view of an image's layers, for the builder to read files from (``COPY --from``, where
``COPY`` lands, ``WORKDIR`` exists?, ``--chown`` names): no layer is an empty dir, one layer is its own directory,
more are a lower-dirs-only overlay mounted under the build's scratch directory and detached at exit."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from runtime import linux
from runtime.errors import Unsupported
from runtime.rootfs import secure_join

__all__ = ["merged_view", "lookup", "release_views"]

_MAX_OPTIONS = 4000  # overlay options must fit in one page


@contextlib.contextmanager
def merged_view(layer_dirs: Sequence[Path | str], scratch: Path) -> Iterator[Path]:
    """The union of ``layer_dirs`` (lowest first) as one read-only directory while the block runs."""
    dirs = [str(d) for d in layer_dirs]
    if len(dirs) == 1:
        yield Path(dirs[0])
        return
    scratch.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="view-", dir=scratch))
    try:
        if not dirs:
            yield target
            return
        data = "lowerdir=" + ":".join(reversed(dirs))  # overlay wants the top layer first
        if len(data) > _MAX_OPTIONS:
            raise Unsupported(f"an image of {len(dirs)} layers is too deep for the builder's overlay view")
        linux.mount("overlay", str(target), "overlay", linux.MS_RDONLY, data)
        try:
            yield target
        finally:
            linux.umount(str(target), linux.MNT_DETACH)
    finally:
        with contextlib.suppress(OSError):
            os.rmdir(target)


def lookup(view: Path, path: str) -> Path:
    """``path`` inside the view, symlinks followed as if the view were ``/``."""
    return Path(secure_join(str(view), path))


def release_views(scratch: Path) -> None:
    """Detach views a crashed build left mounted under ``scratch``."""
    for entry in scratch.glob("view-*"):
        if os.path.ismount(entry):
            with contextlib.suppress(OSError):
                linux.umount(str(entry), linux.MNT_DETACH)
