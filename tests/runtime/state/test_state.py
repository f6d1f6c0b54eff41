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
