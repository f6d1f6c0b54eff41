"""Write a directory as a layer tar. Overlayfs whiteouts in the directory (0/0 character devices,
``trusted.overlay.opaque=y``) become AUFS ones (``.wh.x``, ``.wh..wh..opq``), so an overlay upper dir turns into a
layer that any registry and Docker understand. Entries are sorted; owners, modes, xattrs and hard links kept."""
from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO

from runtime.images.unpack import OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX

__all__ = ["write_layer_tar"]

_SKIP_XATTR_PREFIXES = ("trusted.overlay.",)


def write_layer_tar(source: Path, out: BinaryIO, leave_out: Collection[str] = frozenset()) -> None:
    """Write ``source``'s content (not ``source`` itself) to ``out`` as an uncompressed PAX tar. ``leave_out``:
    paths relative to ``source`` (``etc/hostname``) left out with all below them."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20) as tar:
        _add_tree(tar, str(source), "", leave_out)


def _add_tree(tar: tarfile.TarFile, path: str, arc: str, leave_out: Collection[str]) -> None:
    with os.scandir(path) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        name = f"{arc}{entry.name}"
        if name in leave_out:
            continue
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISSOCK(st.st_mode):
            continue  # a unix socket left by a RUN step cannot live in a tar; Docker leaves sockets out too
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            info = tarfile.TarInfo(_whiteout_name(arc, entry.name))
            info.mtime, info.mode = int(st.st_mtime), 0o600
            tar.addfile(info)
            continue
        info = tar.gettarinfo(entry.path, arcname=name)
        info.uname = info.gname = ""
        info.pax_headers = _xattrs(entry.path)
        if info.isreg():
            with open(entry.path, "rb") as fh:
                tar.addfile(info, fh)
        else:
            tar.addfile(info)
        if entry.is_dir(follow_symlinks=False):
            if _is_opaque(entry.path):
                marker = tarfile.TarInfo(f"{name}/{OPAQUE_MARKER}")
                marker.mtime, marker.mode = int(st.st_mtime), 0o600
                tar.addfile(marker)
            _add_tree(tar, entry.path, f"{name}/", leave_out)


def _whiteout_name(arc: str, name: str) -> str:
    return f"{arc}{WHITEOUT_PREFIX}{name}"


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _xattrs(path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in names:
        if name.startswith(_SKIP_XATTR_PREFIXES):
            continue
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        out[f"SCHILY.xattr.{name}"] = value.decode("utf-8", "surrogateescape")
    return out
