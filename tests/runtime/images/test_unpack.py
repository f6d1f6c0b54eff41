"""Layer unpacking: path traversal refused, whiteouts converted, file metadata kept, any compression."""
from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
import zstandard

from runtime.errors import InvalidArgument
from runtime.images.layertar import write_layer_tar
from runtime.images.unpack import OPAQUE_XATTR, unpack_layer


def _tar(*entries: tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            if isinstance(entry, tuple):
                info, data = entry
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(entry)
    return buf.getvalue()


def _info(name: str, kind: bytes = tarfile.REGTYPE, **attrs) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = attrs.pop("mode", 0o755 if kind == tarfile.DIRTYPE else 0o644)
    for k, v in attrs.items():
        setattr(info, k, v)
    return info


@pytest.fixture
def dirs(tmp_path):
    layer = tmp_path / "layer"
    layer.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("untouched")
    return layer, outside


def _outside_unchanged(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["victim"]
    assert (outside / "victim").read_text() == "untouched"


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "./../evil"])
def test_dotdot_rejected(dirs, name):
    layer, outside = dirs
    data = _tar((_info(name), b"x"))
    with pytest.raises(InvalidArgument, match=r"escapes the layer \('\.\.'\)"):
        unpack_layer(io.BytesIO(data), layer)
    assert not (layer.parent / "evil").exists()


def test_absolute_path_rejected(dirs):
    layer, outside = dirs
    data = _tar((_info(str(outside / "victim")), b"pwned"))
    with pytest.raises(InvalidArgument, match="absolute path"):
        unpack_layer(io.BytesIO(data), layer)
    _outside_unchanged(outside)


@pytest.mark.parametrize("target", ["ABS", "../../outside", "sub/../../../outside"])
def test_write_through_escaping_symlink_rejected(dirs, target):
    layer, outside = dirs
    linkname = str(outside) if target == "ABS" else target
    data = _tar(_info("sub", tarfile.DIRTYPE), _info("esc", tarfile.SYMTYPE, linkname=linkname),
                (_info("esc/victim"), b"pwned"))
    with pytest.raises(InvalidArgument, match="points outside the layer"):
        unpack_layer(io.BytesIO(data), layer)
    _outside_unchanged(outside)


def test_symlink_inside_layer_is_followed(dirs):
    layer, _ = dirs
    data = _tar(_info("real", tarfile.DIRTYPE), _info("alias", tarfile.SYMTYPE, linkname="real"),
                (_info("alias/f"), b"ok"))
    unpack_layer(io.BytesIO(data), layer)
    assert (layer / "real/f").read_bytes() == b"ok"
    assert os.readlink(layer / "alias") == "real"


def test_existing_symlink_is_replaced_not_followed(dirs):
    layer, outside = dirs
    data = _tar(_info("f", tarfile.SYMTYPE, linkname=str(outside / "victim")), (_info("f"), b"replaced"))
    unpack_layer(io.BytesIO(data), layer)
    assert not (layer / "f").is_symlink() and (layer / "f").read_bytes() == b"replaced"
    _outside_unchanged(outside)


@pytest.mark.parametrize("linkname, message", [
    ("../outside/victim", r"escapes the layer"),
    ("/etc/passwd", "absolute path"),
    ("esc/victim", "points outside the layer"),
    ("missing", "not in this layer"),
])
def test_hardlink_outside_rejected(dirs, linkname, message):
    layer, outside = dirs
    data = _tar(_info("esc", tarfile.SYMTYPE, linkname=str(outside)),
                _info("h", tarfile.LNKTYPE, linkname=linkname))
    with pytest.raises(InvalidArgument, match=message):
        unpack_layer(io.BytesIO(data), layer)
    assert os.stat(outside / "victim").st_nlink == 1
    _outside_unchanged(outside)


@pytest.mark.root
def test_whiteouts_become_overlay_whiteouts(dirs):
    layer, _ = dirs
    data = _tar(_info("dir", tarfile.DIRTYPE), (_info("dir/.wh..wh..opq"), b""), (_info("dir/new"), b"n"),
                (_info(".wh.gone"), b""), (_info("dir/.wh.old"), b""), (_info(".wh..wh.plnk"), b""))
    unpack_layer(io.BytesIO(data), layer)
    for path in (layer / "gone", layer / "dir/old"):
        st = os.lstat(path)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert os.getxattr(layer / "dir", OPAQUE_XATTR) == b"y"
    assert (layer / "dir/new").read_bytes() == b"n"
    assert sorted(p.name for p in layer.iterdir()) == ["dir", "gone"]


@pytest.mark.root
def test_metadata_preserved(dirs):
    layer, _ = dirs
    suid = _info("bin/suid", mode=0o4755, uid=1234, gid=5678, mtime=1_600_000_000)
    suid.pax_headers = {"SCHILY.xattr.user.note": "hello", "SCHILY.xattr.trusted.overlay.opaque": "y"}
    data = _tar(
        _info("bin", tarfile.DIRTYPE, mode=0o711, uid=7, gid=8, mtime=1_500_000_000),
        (suid, b"#!/bin/sh\n"),
        _info("bin/hard", tarfile.LNKTYPE, linkname="bin/suid"),
        _info("bin/sym", tarfile.SYMTYPE, linkname="suid", uid=3, gid=4),
        _info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
        _info("dev/loop9", tarfile.BLKTYPE, devmajor=7, devminor=9, mode=0o660),
        _info("run/fifo", tarfile.FIFOTYPE, mode=0o620),
    )
    result = unpack_layer(io.BytesIO(data), layer)
    st = os.lstat(layer / "bin/suid")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)) == (0o4755, 1234, 5678, 1_600_000_000)
    assert os.getxattr(layer / "bin/suid", "user.note") == b"hello"
    assert OPAQUE_XATTR not in os.listxattr(layer / "bin/suid")  # never trusted from a tar
    assert os.lstat(layer / "bin/hard").st_ino == st.st_ino
    sym = os.lstat(layer / "bin/sym")
    assert os.readlink(layer / "bin/sym") == "suid" and (sym.st_uid, sym.st_gid) == (3, 4)
    d = os.lstat(layer / "bin")
    assert (stat.S_IMODE(d.st_mode), d.st_uid, int(d.st_mtime)) == (0o711, 7, 1_500_000_000)
    null = os.lstat(layer / "dev/null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3) and stat.S_IMODE(null.st_mode) == 0o666
    assert stat.S_ISBLK(os.lstat(layer / "dev/loop9").st_mode)
    assert stat.S_ISFIFO(os.lstat(layer / "run/fifo").st_mode)
    assert result.size == len(b"#!/bin/sh\n")


def test_compressions_give_same_diff_id(tmp_path):
    data = _tar(_info("a", tarfile.DIRTYPE), (_info("a/b"), b"content" * 1000))
    ids = set()
    import bz2
    import lzma

    blobs = [data, gzip.compress(data), zstandard.ZstdCompressor().compress(data), lzma.compress(data),
             bz2.compress(data), gzip.compress(data[:5000]) + gzip.compress(data[5000:]),  # multi-member gzip
             gzip.compress(data) + b"\0" * 3000]  # zero padding after the gzip stream (some tools add it)
    for i, blob in enumerate(blobs):
        dest = tmp_path / f"l{i}"
        dest.mkdir()
        result = unpack_layer(io.BytesIO(blob), dest)
        assert (dest / "a/b").read_bytes() == b"content" * 1000
        assert result.tar_size == len(data)
        ids.add(result.diff_id)
    assert len(ids) == 1


def test_corrupt_and_garbage_streams_rejected(tmp_path):
    data = gzip.compress(_tar((_info("f"), os.urandom(200_000))))
    bad = [data[: len(data) // 2], b"\x1f\x8b" + b"\x00" * 100, b"not a tar at all" * 64, b"BZh9" + b"\x01" * 100,
           b"\xfd7zXZ\x00" + b"\x02" * 100, b"\x28\xb5\x2f\xfd" + b"\x03" * 100]
    for i, blob in enumerate(bad):
        dest = tmp_path / f"c{i}"
        dest.mkdir()
        with pytest.raises(InvalidArgument):
            unpack_layer(io.BytesIO(blob), dest)


@pytest.mark.root
def test_layer_tar_from_overlay_upper_dir_round_trips(tmp_path):
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    (upper / "etc/conf").write_text("v2")
    os.link(upper / "etc/conf", upper / "etc/conf.hard")
    os.mknod(upper / "etc/removed", stat.S_IFCHR, os.makedev(0, 0))
    (upper / "var").mkdir()
    os.setxattr(upper / "var", OPAQUE_XATTR, b"y")
    buf = io.BytesIO()
    write_layer_tar(upper, buf)
    names = tarfile.open(fileobj=io.BytesIO(buf.getvalue())).getnames()
    assert "etc/.wh.removed" in names and "var/.wh..wh..opq" in names and "etc/removed" not in names
    dest = tmp_path / "dest"
    dest.mkdir()
    unpack_layer(io.BytesIO(buf.getvalue()), dest)
    assert os.lstat(dest / "etc/removed").st_rdev == 0 and stat.S_ISCHR(os.lstat(dest / "etc/removed").st_mode)
    assert os.getxattr(dest / "var", OPAQUE_XATTR) == b"y"
    assert os.lstat(dest / "etc/conf").st_ino == os.lstat(dest / "etc/conf.hard").st_ino


def test_unwritable_entries_are_archive_errors(dirs):
    layer, _ = dirs
    data = _tar((_info("f"), b"file"), (_info("f/child"), b"x"))  # a file used as a directory
    with pytest.raises(InvalidArgument, match="parent is not a directory"):
        unpack_layer(io.BytesIO(data), layer)
    too_long = _tar((_info("d/" + "n" * 300), b"x"))
    with pytest.raises(InvalidArgument, match="File name too long"):
        unpack_layer(io.BytesIO(too_long), layer)


def _inflate_threads() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith("inflate-")]


@pytest.mark.parametrize("compress", [gzip.compress, zstandard.ZstdCompressor(write_checksum=True).compress])
def test_decompressing_thread_ends_with_every_outcome(tmp_path, compress):
    """Compressed layers are inflated in a thread of their own: it is gone after success, a corrupt stream, a
    truncated one and a bad entry deep in the archive - and each failure is still the archive's error."""
    payload = os.urandom(3 << 20)
    good = _tar(_info("a", tarfile.DIRTYPE), (_info("a/big"), payload), (_info("a/small"), b"x"))
    blob = compress(good)
    (tmp_path / "ok").mkdir()
    result = unpack_layer(io.BytesIO(blob), tmp_path / "ok")
    assert (tmp_path / "ok/a/big").read_bytes() == payload
    assert result.tar_size == len(good)
    assert _inflate_threads() == []

    corrupt = bytearray(blob)
    corrupt[len(corrupt) // 2] ^= 0xFF  # in the middle of the compressed data
    evil = compress(_tar((_info("big"), payload), (_info("../escape"), b"x")))
    cases = [(bytes(corrupt), "corrupt"), (blob[: len(blob) // 3], "truncated or corrupt|unexpected end of data"),
             (evil, r"escapes the layer")]
    for i, (data, message) in enumerate(cases):
        dest = tmp_path / f"bad{i}"
        dest.mkdir()
        with pytest.raises(InvalidArgument, match=message):
            unpack_layer(io.BytesIO(data), dest)
        assert _inflate_threads() == []
    assert not (tmp_path / "escape").exists()


def _snapshot(root: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISREG(st.st_mode):
                extra: object = (Path(path).read_bytes(), st.st_nlink)
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(path)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                extra = (os.major(st.st_rdev), os.minor(st.st_rdev))
            elif stat.S_ISDIR(st.st_mode):
                extra = OPAQUE_XATTR in os.listxattr(path) and os.getxattr(path, OPAQUE_XATTR)
            else:
                extra = None
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, extra)
    return out


@pytest.mark.root
@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("compressed", [False, True])
def test_every_entry_kind_in_every_header_format(tmp_path, fmt, compressed):
    """The same layer written as ustar, GNU and PAX (plain headers parsed in-house, extensions by tarfile), plain
    and gzip (inflated in a thread of its own) unpacks to the same tree."""
    long_dir = "usr/" + "long-directory-name-" * 6  # 124 characters: ustar prefix, GNU long name or PAX path
    entries = [
        _info("usr", tarfile.DIRTYPE, uid=0, gid=0),
        _info(long_dir, tarfile.DIRTYPE, mode=0o750, uid=11, gid=12),
        (_info(f"{long_dir}/file", mode=0o640, uid=11, gid=12), b"deep\n"),
        (_info("usr/opq/.wh..wh..opq"), b""),
        (_info("usr/opq/kept"), b"k"),
        (_info("usr/.wh.removed"), b""),
        (_info("usr/bin"), b"#!/bin/sh\n"),
        _info("usr/bin-hard", tarfile.LNKTYPE, linkname="usr/bin"),
        _info("usr/bin-sym", tarfile.SYMTYPE, linkname="bin"),
        _info("usr/long-sym", tarfile.SYMTYPE, linkname=f"{long_dir.split('/', 1)[1]}/file"),
        _info("dev/zero", tarfile.CHRTYPE, devmajor=1, devminor=5, mode=0o666),
        _info("run/fifo", tarfile.FIFOTYPE, mode=0o600),
        (_info("caf\u00e9"), "\u00e9t\u00e9".encode()),
    ]
    if fmt == tarfile.USTAR_FORMAT:  # ustar has no way to hold a link target over 100 characters
        entries = [e for e in entries if not (isinstance(e, tarfile.TarInfo) and e.name == "usr/long-sym")]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for entry in entries:
            if isinstance(entry, tuple):
                entry[0].size = len(entry[1])
                tar.addfile(entry[0], io.BytesIO(entry[1]))
            else:
                tar.addfile(entry)
    data = gzip.compress(buf.getvalue()) if compressed else buf.getvalue()
    layer = tmp_path / "layer"
    layer.mkdir()
    unpack_layer(io.BytesIO(data), layer)
    got = _snapshot(layer)
    assert got[f"{long_dir}/file"] == (stat.S_IFREG, 0o640, 11, 12, (b"deep\n", 1))
    assert got[long_dir][:4] == (stat.S_IFDIR, 0o750, 11, 12)
    assert got["usr/opq"][4] == b"y" and got["usr/opq/kept"][4] == (b"k", 1)
    assert got["usr/removed"][:2] == (stat.S_IFCHR, 0) and got["usr/removed"][4] == (0, 0)
    assert got["usr/bin"][4] == (b"#!/bin/sh\n", 2) and got["usr/bin-hard"] == got["usr/bin"]
    assert got["usr/bin-sym"][4] == "bin"
    assert got["dev/zero"][::4] == (stat.S_IFCHR, (1, 5))
    assert got["run/fifo"][0] == stat.S_IFIFO
    assert got["caf\u00e9"][4] == ("\u00e9t\u00e9".encode(), 1)
    if fmt != tarfile.USTAR_FORMAT:
        assert got["usr/long-sym"][4] == f"{long_dir.split('/', 1)[1]}/file"
        assert (layer / "usr/long-sym").read_bytes() == b"deep\n"
    assert not any(".wh." in name for name in got)
