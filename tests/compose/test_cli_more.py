"""Pure parts of cp, scale, stats, attach and commit: docker cp's landing rules and tar renames on real local files,
the stats figures and formats, detach keys, argument parsing. (The e2e half is tests/e2e/test_cli_more.py.)"""
from __future__ import annotations

import io
import json
import os
import re
import tarfile

import pytest

from compose.cli._statsrow import bytes_binary, bytes_decimal, check_format, render, stats_row
from compose.cli._tarcopy import Landing, extract_tar, landing, local_tar
from compose.cli.attach import parse_bool
from compose.cli.commit import split_reference
from compose.cli.cp import split_target
from compose.cli.scale import parse_replicas
from compose.engine.attach import DetachMatcher, parse_detach_keys
from compose.errors import UserError


@pytest.mark.parametrize("arg, expected", [
    ("web:/etc/hosts", ("web", "/etc/hosts")), ("/tmp/a:b", (None, "/tmp/a:b")), ("./x:y", (None, "./x:y")),
    ("file.txt", (None, "file.txt")), ("-", (None, "-")), ("web:", ("web", ""))])
def test_split_target(arg, expected):
    assert split_target(arg) == expected


def test_landing_rules():
    assert landing("/dst", dst_is_dir=True, src_is_dir=False) == Landing("/dst")
    assert landing("/dst/file", dst_is_dir=False, src_is_dir=False) == Landing("/dst", "file")
    assert landing("/dst/new", dst_is_dir=None, src_is_dir=True) == Landing("/dst", "new")
    assert landing("/dst/new/", dst_is_dir=None, src_is_dir=True) == Landing("/dst", "new")
    assert landing("rel", dst_is_dir=None, src_is_dir=False) == Landing(".", "rel")
    with pytest.raises(UserError, match="cannot copy a directory to the file"):
        landing("/dst/file", dst_is_dir=False, src_is_dir=True)
    with pytest.raises(UserError, match="does not exist"):
        landing("/dst/nodir/", dst_is_dir=None, src_is_dir=False)


def _tree(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "leaf").write_bytes(b"leaf")
    (src / "top").write_bytes(b"top")
    os.symlink("top", src / "link")
    return src


def test_local_tar_names_owners_and_links(tmp_path):
    src = _tree(tmp_path)
    os.chown(src / "top", 4321, 4321) if os.geteuid() == 0 else None
    with local_tar(str(src), rename=None, follow_link=False, keep_owner=False) as fh, tarfile.open(fileobj=fh) as t:
        assert sorted(t.getnames()) == ["src", "src/link", "src/sub", "src/sub/leaf", "src/top"]
        assert {(m.uid, m.gid) for m in t.getmembers()} == {(0, 0)}
        assert t.getmember("src/link").issym()
    with local_tar(f"{src}/.", rename="renamed", follow_link=False, keep_owner=True) as fh, \
            tarfile.open(fileobj=fh) as t:
        assert sorted(t.getnames()) == ["renamed", "renamed/link", "renamed/sub", "renamed/sub/leaf", "renamed/top"]
        if os.geteuid() == 0:
            assert t.getmember("renamed/top").uid == 4321
    with local_tar(str(src / "link"), rename=None, follow_link=True, keep_owner=False) as fh, \
            tarfile.open(fileobj=fh) as t:
        member = t.getmember("link")  # the target's content under the link's name
        assert member.isfile() and t.extractfile(member).read() == b"top"
    with pytest.raises(UserError, match="could not find the file"):
        local_tar(str(tmp_path / "missing"), rename=None, follow_link=False, keep_owner=False)


def _chunks(fh, size=7):
    while chunk := fh.read(size):
        yield chunk


def test_extract_tar_renames_root_and_owns_files(tmp_path):
    src = _tree(tmp_path)
    with local_tar(str(src), rename=None, follow_link=False, keep_owner=False) as fh:
        extract_tar(_chunks(fh), Landing(str(tmp_path), "copy"), source_name="src")
    assert (tmp_path / "copy" / "sub" / "leaf").read_bytes() == b"leaf"
    assert os.readlink(tmp_path / "copy" / "link") == "top"
    assert os.stat(tmp_path / "copy" / "top").st_uid == os.getuid()  # the invoking user, not the tar's root
    into = tmp_path / "into"
    into.mkdir()
    with local_tar(f"{src}/.", rename=None, follow_link=False, keep_owner=False) as fh:
        extract_tar(_chunks(fh), Landing(str(into)), source_name=None)
    assert sorted(os.listdir(into)) == ["link", "sub", "top"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        bad = tarfile.TarInfo("../escape")
        t.addfile(bad, io.BytesIO(b""))
    with pytest.raises(UserError, match="refusing to unpack"):
        extract_tar([buf.getvalue()], Landing(str(into)), source_name=None)
    assert not (tmp_path / "escape").exists()


_SAMPLE = {
    "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000}, "system_cpu_usage": 20_000_000_000, "online_cpus": 2},
    "precpu_stats": {"cpu_usage": {"total_usage": 2_000_000_000}, "system_cpu_usage": 18_000_000_000},
    "memory_stats": {"usage": 10 * 1024 * 1024, "limit": 1024 ** 3, "stats": {"total_inactive_file": 2 * 1024 * 1024}},
    "networks": {"eth0": {"rx_bytes": 1234, "tx_bytes": 0}},
    "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4_500_000}, {"op": "write", "value": 12}]},
    "pids_stats": {"current": 3},
}


def test_stats_row_figures_and_units():
    row = stats_row("a" * 64, "p-web-1", _SAMPLE)
    assert row == {"Container": "a" * 12, "ID": "a" * 12, "Name": "p-web-1", "CPUPerc": "100.00%",
                   "MemUsage": "8MiB / 1GiB", "MemPerc": "0.78%", "NetIO": "1.23kB / 0B",
                   "BlockIO": "4.5MB / 12B", "PIDs": "3"}
    assert stats_row("a" * 64, "x", _SAMPLE, trunc=False)["ID"] == "a" * 64
    assert stats_row("b" * 64, "x", None)["CPUPerc"] == "--"
    assert bytes_binary(1_613_824) == "1.539MiB" and bytes_decimal(999) == "999B" and bytes_decimal(1500) == "1.5kB"


def test_stats_formats():
    rows = [stats_row("a" * 64, "p-web-1", _SAMPLE)]
    lines = render("table", rows).splitlines()
    assert re.split(r" {3,}", lines[0]) == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %",
                                           "NET I/O", "BLOCK I/O", "PIDS"]
    assert lines[1].startswith("aaaaaaaaaaaa   p-web-1")
    assert json.loads(render("json", rows)) == rows[0]
    assert render("{{.Name}} {{ .PIDs }}", rows) == "p-web-1 3\n"
    assert render("table {{.Name}}\t{{.MemPerc}}", rows).splitlines() == ["NAME      MEM %", "p-web-1   0.78%"]
    assert json.loads(render("{{json .}}", rows)) == rows[0]
    with pytest.raises(UserError, match="no field 'Cpu'"):
        check_format("{{.Cpu}}")


def test_detach_keys():
    assert parse_detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert parse_detach_keys("ctrl-@,ctrl-[,a") == b"\x00\x1ba"
    with pytest.raises(UserError, match="invalid key"):
        parse_detach_keys("ctrl-1")
    m = DetachMatcher(b"\x10\x11")
    assert m.feed(b"ab\x10") == (b"ab", False)  # a possible start: held back
    assert m.feed(b"c") == (b"\x10c", False)  # not the sequence after all: sent
    assert m.feed(b"x\x10") == (b"x", False)
    assert m.feed(b"\x11rest") == (b"", True)
    assert DetachMatcher(b"").feed(b"\x10\x11") == (b"\x10\x11", False)


def test_argument_parsers():
    assert parse_replicas(["web=3", "db=0"]) == {"web": 3, "db": 0}
    for bad in ("web", "web=x", "=2", "web=-1"):
        with pytest.raises(UserError, match="invalid scale specifier"):
            parse_replicas([bad])
    assert split_reference("repo/img:tag") == ("repo/img", "tag")
    assert split_reference("localhost:5000/img") == ("localhost:5000/img", None)
    assert split_reference("localhost:5000/img:v2") == ("localhost:5000/img", "v2")
    assert split_reference(None) == (None, None)
    assert parse_bool("--sig-proxy", "false") is False and parse_bool("--sig-proxy", "TRUE") is True
    with pytest.raises(UserError):
        parse_bool("--sig-proxy", "maybe")
