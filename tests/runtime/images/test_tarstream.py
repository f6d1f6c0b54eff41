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
