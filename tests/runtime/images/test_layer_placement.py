"""The layer directory carries the Orlov "top directory" flag where the file system has it (ext2/3/4), so each
layer's tree is placed in a block group of its own; elsewhere the store works without it."""
from __future__ import annotations

import fcntl
import os
import struct
import tempfile
from pathlib import Path

import pytest

from runtime.fsflags import mark_top_directory
from runtime.images.layers import LayerStore

_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_TOPDIR_FL = 0x00020000


def _flags(path: Path) -> int | None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 4))[0]
    except OSError:
        return None  # no inode flags on this file system
    finally:
        os.close(fd)


def _supports_topdir(scratch: Path) -> bool:
    scratch.mkdir()
    fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("i", _FS_TOPDIR_FL))
    except OSError:
        return False
    finally:
        os.close(fd)
    return bool((_flags(scratch) or 0) & _FS_TOPDIR_FL)


def test_layers_directory_is_a_top_directory(tmp_path):
    if not _supports_topdir(tmp_path / "probe"):
        pytest.skip(f"{tmp_path} is on a file system without the top-directory flag (not ext2/3/4)")
    store = LayerStore(tmp_path / "store")
    flags = _flags(store.dir)
    assert flags is not None and flags & _FS_TOPDIR_FL
    assert mark_top_directory(store.dir) is True  # idempotent
    assert _flags(store.dir) == flags
    assert not (_flags(tmp_path) or 0) & _FS_TOPDIR_FL  # only the layers directory itself


def test_file_system_without_flags_is_no_error():
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm")
    with tempfile.TemporaryDirectory(dir="/dev/shm", prefix="pct-layers-") as where:
        path = Path(where)
        marked = mark_top_directory(path)  # tmpfs: no flags at all, or flags without this one (Linux >= 6.0)
        assert marked is bool((_flags(path) or 0) & _FS_TOPDIR_FL)
        assert marked is False
        store = LayerStore(path)
        assert store.dir.is_dir()


def test_containers_directory_is_a_top_directory(tmp_path):
    """Each container's state dir (overlay dirs, managed files: made on every create) gets a block group of its
    own, as each layer does."""
    from runtime.containers import ContainerService

    if not _supports_topdir(tmp_path / "probe"):
        pytest.skip(f"{tmp_path} is on a file system without the top-directory flag (not ext2/3/4)")
    svc = ContainerService(tmp_path / "root")
    try:
        assert (_flags(svc.dir) or 0) & _FS_TOPDIR_FL
        assert not (_flags(svc.root) or 0) & _FS_TOPDIR_FL
    finally:
        svc.close()
