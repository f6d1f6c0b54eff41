"""runtime.state: the one atomic-write helper every engine store uses."""
from __future__ import annotations

import os

import pytest

from runtime.state import read_record, write_bytes, write_record


def test_record_round_trip_and_replace(tmp_path):
    path = tmp_path / "rec.json"
    assert read_record(path, {"none": True}) == {"none": True}
    write_record(path, {"a": 1})
    write_record(path, {"b": [1, 2]})
    assert read_record(path) == {"b": [1, 2]}
    assert os.listdir(tmp_path) == ["rec.json"]  # no temp file left beside it


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o640])
def test_mode_is_exact_whatever_the_umask(tmp_path, mode):
    old = os.umask(0o077)
    try:
        write_bytes(tmp_path / "f", b"x", mode=mode, durable=False)
    finally:
        os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o777 == mode


def test_failed_rename_leaves_old_content_and_no_temp(tmp_path):
    target = tmp_path / "dir-in-the-way"
    target.mkdir()
    (target / "child").write_text("keeps the directory non-empty")
    with pytest.raises(OSError):
        write_bytes(target, b"new")
    assert sorted(os.listdir(tmp_path)) == ["dir-in-the-way"]


def test_large_payload_written_whole(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    write_bytes(tmp_path / "big", data)
    assert (tmp_path / "big").read_bytes() == data


def _inodes(folder) -> set[int]:
    return {os.stat(folder / n).st_ino for n in os.listdir(folder)}


def test_recycled_records_reuse_their_files(tmp_path):
    """With ``recycle`` a rewrite swaps the new file in and keeps the old one as a hidden spare, a removal keeps
    the file as a spare too, and later writes in the directory take spares: no new inode once there are some."""
    from runtime.state import remove_record

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_record(a, {"v": 1}, durable=False, recycle=True)
    write_record(a, {"v": 2, "longer": "x" * 100}, durable=False, recycle=True)
    write_record(a, {"v": 3}, durable=False, recycle=True)  # shorter than the spare's old content: cut
    assert read_record(a) == {"v": 3}
    names = sorted(os.listdir(tmp_path))
    assert names[0].startswith(".spare-") and names[1:] == ["a.json"]
    assert (a.stat().st_mode & 0o777) == 0o600
    remove_record(a, recycle=True)
    assert not a.exists() and len(os.listdir(tmp_path)) == 2  # both files kept as spares
    for name in os.listdir(tmp_path):  # their content zeroed: no removed or replaced record stays readable
        assert set((tmp_path / name).read_bytes()) <= {0}
    seen = _inodes(tmp_path)
    for i in range(5):
        write_record(b, {"i": i}, durable=False, recycle=True)
        write_record(a, {"i": i}, durable=False, recycle=True)
        remove_record(a, recycle=True)
    assert read_record(b) == {"i": 4} and not a.exists()
    assert _inodes(tmp_path) == seen, "a recycled write allocated a new inode"
    remove_record(tmp_path / "missing.json", recycle=True)  # missing is fine


def test_claim_mountpoint_takes_a_spare(tmp_path):
    from runtime.state import claim_mountpoint, remove_record

    first = tmp_path / "ns1"
    claim_mountpoint(first)
    ino = first.stat().st_ino
    remove_record(first, recycle=True)
    second = tmp_path / "ns2"
    claim_mountpoint(second)
    assert second.stat().st_ino == ino and os.listdir(tmp_path) == ["ns2"]
    claim_mountpoint(second)  # one already there is kept
    assert second.stat().st_ino == ino
