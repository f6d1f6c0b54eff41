"""Docker's masked and read-only paths, and the child-side calls that apply them inside the container's mount
namespace (after ``pivot_root``, with /proc and /sys mounted). Standard library, ``runtime.linux`` and the spec's
defaults (``runtime.spec``) only.

A masked directory gets an empty read-only tmpfs over it, a masked file ``/dev/null``; a read-only path is bind
mounted onto itself and remounted read-only. Paths that do not exist are skipped, as runc does.
"""
from __future__ import annotations

import errno
import os
from collections.abc import Iterable

from runtime import linux
from runtime.spec import DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS  # Docker's defaults, the spec's own

__all__ = ["DEFAULT_MASKED_PATHS", "DEFAULT_READONLY_PATHS", "MASKED_PATH_GLOBS", "default_masked_paths",
           "mask_paths", "readonly_paths", "mask_path", "readonly_path"]

# Per-CPU entries, expanded on the host (thermal side channel, moby GHSA-6fw5-f8r9-fgfm).
MASKED_PATH_GLOBS = ("/sys/devices/system/cpu/cpu*/thermal_throttle",)

_ST_FLAGS = ((os.ST_NOSUID, linux.MS_NOSUID), (os.ST_NODEV, linux.MS_NODEV), (os.ST_NOEXEC, linux.MS_NOEXEC))


def default_masked_paths() -> tuple[str, ...]:
    """``DEFAULT_MASKED_PATHS`` plus this host's matches of ``MASKED_PATH_GLOBS`` (parent side)."""
    import glob

    extra = sorted(m for pattern in MASKED_PATH_GLOBS for m in glob.glob(pattern))
    return DEFAULT_MASKED_PATHS + tuple(extra)


def mask_path(path: str, mount_label: str = "") -> None:
    """Hide ``path``: an empty read-only tmpfs over a directory, ``/dev/null`` over anything else."""
    try:
        is_dir = os.path.isdir(path) and not os.path.islink(path)
        if is_dir:
            linux.mount("tmpfs", path, "tmpfs", linux.MS_RDONLY, mount_label or None)
        else:
            linux.mount("/dev/null", path, None, linux.MS_BIND)
    except OSError as err:
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            return
        raise


def readonly_path(path: str) -> None:
    """Make ``path`` (and everything mounted below it) read-only."""
    try:
        linux.mount(path, path, None, linux.MS_BIND | linux.MS_REC)
    except OSError as err:
        if err.errno == errno.ENOENT:
            return
        raise
    flags = linux.MS_BIND | linux.MS_REMOUNT | linux.MS_RDONLY
    st = os.statvfs(path)
    for st_flag, ms_flag in _ST_FLAGS:
        if st.f_flag & st_flag:
            flags |= ms_flag  # keep the locked flags of the underlying mount
    linux.mount(path, path, None, flags)


def mask_paths(paths: Iterable[str] = DEFAULT_MASKED_PATHS) -> None:
    for path in paths:
        mask_path(path)


def readonly_paths(paths: Iterable[str] = DEFAULT_READONLY_PATHS) -> None:
    for path in paths:
        readonly_path(path)
