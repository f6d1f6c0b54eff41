"""The forward-only tar reader used for unpacking: every header format tarfile writes, data across chunk
boundaries, and malformed archives refused."""
from __future__ import annotations

import io
import os
import tarfile

import pytest

from runtime.errors import InvalidArgument
from runtime.images.tarstream import TarStream
from runtime.images.unpack import unpack_layer


class _Trickle:
    """A source returning at most ``step`` bytes per read (as a network or decompressor may)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._buf = io.BytesIO(data)
        self._step = step

    def read(self, size: int = -1) -> bytes:
        return self._buf.read(min(self._step, size if size >= 0 else self._step))


def _archive(fmt: int) -> tuple[bytes, dict[str, bytes]]:
    files = {
        "small": b"hello\n",
        "exact-block": b"b" * 512,
        "big": os.urandom(3 * 512 + 17),
        "d/" + "long-name-" * 12: b"long\n",  # > 100 characters: GNU or PAX long name
        "empty": b"",
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        d = tarfile.TarInfo("d")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.uid, info.mtime = len(data), 0o7777777 + 5, 1_600_000_000  # uid needs base-256 / PAX
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("d/" + "long-link-" * 12)
        link.type, link.linkname = tarfile.SYMTYPE, "../" + "target-" * 20
        tar.addfile(link)
    return buf.getvalue(), files


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("step", [1, 100, 511, 4096, 1 << 20])
def test_members_and_data_match_tarfile(tmp_path, fmt, step):
    data, files = _archive(fmt)
    reader = TarStream(_Trickle(data, step))
    got: dict[str, bytes] = {}
    names = []
    for member in reader.members():
        names.append((member.name, member.type, member.uid, member.linkname))
        if member.isreg():
            path = tmp_path / f"out{len(got)}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                reader.copy_to(fd, member)
            finally:
                os.close(fd)
            got[member.name] = path.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        expected = [(m.name, m.type, m.uid, m.linkname) for m in tar.getmembers()]
    assert names == expected
    assert got == files


def test_unread_data_is_skipped():
    data, _ = _archive(tarfile.PAX_FORMAT)
    reader = TarStream(_Trickle(data, 300))
    assert len(list(reader.members())) == 7  # nothing copied: every member's data skipped


@pytest.mark.parametrize("cut", [100, 512 + 3, 2048])
def test_truncated_archives_refused(tmp_path, cut):
    data, _ = _archive(tarfile.PAX_FORMAT)
    dest = tmp_path / "layer"
    dest.mkdir()
    with pytest.raises(InvalidArgument, match="not a valid tar archive"):
        unpack_layer(io.BytesIO(data[:cut]), dest)


def test_empty_stream_and_bad_checksum_refused(tmp_path):
    dest = tmp_path / "layer"
    dest.mkdir()
    with pytest.raises(InvalidArgument, match="empty file"):
        unpack_layer(io.BytesIO(b""), dest)
    data = bytearray(_archive(tarfile.PAX_FORMAT)[0])
    data[0:4] = b"\xff\xff\xff\xff"
    with pytest.raises(InvalidArgument, match="not a valid tar archive"):
        unpack_layer(io.BytesIO(bytes(data)), dest)


def test_archive_without_end_marker_is_accepted(tmp_path):
    buf = io.BytesIO()
    info = tarfile.TarInfo("f")
    info.size = 3
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b"abc"))
    data = buf.getvalue()
    body = data[:1024]  # header + one data block, no zero blocks after
    dest = tmp_path / "layer"
    dest.mkdir()
    unpack_layer(io.BytesIO(body), dest)
    assert (dest / "f").read_bytes() == b"abc"


def test_sparse_members_refused(tmp_path):
    info = tarfile.TarInfo("sparse")
    info.type = tarfile.GNUTYPE_SPARSE
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    dest = tmp_path / "layer"
    dest.mkdir()
    with pytest.raises(InvalidArgument, match="sparse"):
        unpack_layer(io.BytesIO(header + b"\0" * 1024), dest)


# ---- the fast header path: every field as tarfile reads it --------------------------------------------------------
_FIELDS = ("name", "type", "mode", "uid", "gid", "size", "mtime", "linkname", "uname", "gname", "devmajor",
           "devminor", "offset", "offset_data", "pax_headers")


def _every_kind(fmt: int, **open_args) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, **open_args) as tar:
        def add(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **attrs) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.size, info.mtime, info.mode = kind, len(data), 1_650_000_000, 0o4755
            info.uid, info.gid, info.uname, info.gname = 1000, 100, "app", "users"
            for key, value in attrs.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data) if data else None)

        add("etc", tarfile.DIRTYPE)
        add("etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n")
        add("etc/" + "p" * 120 + "/deep-file", data=b"ustar prefix or long name")  # > 100: prefix / GNU / PAX
        add("etc/caf\u00e9-\u00fcber", data=b"utf-8 name: not ASCII, summed byte by byte")
        add("etc/link", tarfile.SYMTYPE, linkname="passwd")
        add("etc/hard", tarfile.LNKTYPE, linkname="etc/passwd")
        add("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3)
        add("dev/loop0", tarfile.BLKTYPE, devmajor=7, devminor=0)
        add("run/fifo", tarfile.FIFOTYPE)
        if fmt != tarfile.USTAR_FORMAT:
            add("big-uid", data=b"x", uid=0o7777777 + 1)  # base-256 (GNU) or a PAX record
        add("old-mtime", data=b"y" * 513, mtime=0)
    return buf.getvalue()


def _fields(members) -> list[tuple]:
    return [tuple(getattr(m, f) for f in _FIELDS) for m in members]


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_fast_headers_give_what_tarfile_gives(fmt):
    data = _every_kind(fmt)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        expected = _fields(tar.getmembers())
    assert _fields(TarStream(_Trickle(data, 700)).members()) == expected
    assert len(expected) >= 10


def test_global_pax_header_applies_to_later_members():
    data = _every_kind(tarfile.PAX_FORMAT, pax_headers={"comment": "global"})
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        expected = _fields(tar.getmembers())
    assert all(fields[-1].get("comment") == "global" for fields in expected)
    assert _fields(TarStream(io.BytesIO(data)).members()) == expected


def _with_checksum(header: bytearray, value: int) -> bytes:
    header[148:156] = b"%06o\0 " % value
    return bytes(header)


def test_signed_checksum_accepted_as_tarfile_does():
    info = tarfile.TarInfo("f")
    info.size = 0
    header = bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))
    header[200] = 0xE9  # a high byte in an unused field: signed and unsigned sums differ
    header[148:156] = b" " * 8
    signed = sum(b - 256 if b > 127 else b for b in header)
    data = _with_checksum(header, signed) + bytes(1024)
    member = next(TarStream(io.BytesIO(data)).members())
    assert (member.name, member.chksum) == ("f", signed)


def test_one_changed_ascii_byte_fails_the_checksum(tmp_path):
    data = bytearray(_every_kind(tarfile.GNU_FORMAT))
    data[1] = ord("x") if data[1] != ord("x") else ord("y")  # in the first member's name, still ASCII
    dest = tmp_path / "layer"
    dest.mkdir()
    with pytest.raises(InvalidArgument, match="not a valid tar archive: bad checksum"):
        unpack_layer(io.BytesIO(bytes(data)), dest)
    assert list(dest.iterdir()) == []


def test_v7_directory_with_trailing_slash():
    header = bytearray(512)
    header[0:4] = b"old/"
    header[100:108] = b"0000755\0"
    header[108:116] = header[116:124] = b"0000000\0"
    header[124:136] = header[136:148] = b"00000000000\0"
    header[156:157] = b"\0"  # AREGTYPE, no magic: a V7 header
    header[148:156] = b" " * 8
    data = _with_checksum(header, sum(header)) + bytes(1024)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        expected = _fields(tar.getmembers())
    assert _fields(TarStream(io.BytesIO(data)).members()) == expected
    assert expected[0][:2] == ("old", tarfile.DIRTYPE)


def test_gnu_header_times_are_not_a_name_prefix():
    """GNU headers keep atime/ctime where ustar has its prefix (tarfile would prepend them to the name; Go and
    GNU tar do not)."""
    info = tarfile.TarInfo("file")
    info.size = 0
    header = bytearray(info.tobuf(format=tarfile.GNU_FORMAT))
    header[345:357] = b"14500000000\0"  # atime
    header[148:156] = b" " * 8
    data = _with_checksum(header, sum(header)) + bytes(1024)
    assert next(TarStream(io.BytesIO(data)).members()).name == "file"
