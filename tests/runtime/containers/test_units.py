"""Pure pieces of the container runtime: spec checks and JSON round trip, user resolution, path resolution inside
a rootfs, Docker's json-file format and rotation, atomic records."""
from __future__ import annotations

import json
import os

import pytest

from runtime.jsonlog import JsonLog, rfc3339nano
from runtime.rootfs import secure_join
from runtime.spec import ContainerSpec, Mount, Resources, Ulimit, parse_signal, spec_from_dict, spec_to_dict, validate
from runtime.state import read_record, write_record
from runtime.users import resolve_user


def test_spec_round_trip_and_checks():
    spec = ContainerSpec(args=("sh",), env=("A=1",), mounts=(Mount("bind", "/x", "/tmp", options=("nosuid",)),),
                         ulimits=(Ulimit("nofile", 1, 2),), resources=Resources(memory=64 << 20),
                         sysctls={"net.x": "1"})
    assert spec_from_dict(json.loads(json.dumps(spec_to_dict(spec)))) == spec
    assert validate(spec) == []
    bad = ContainerSpec(args=(), env=("NOEQUALS",), working_dir="rel", stop_signal="SIGNOPE",
                        mounts=(Mount("bind", "/a", "relative"), Mount("tmpfs", "/a")),
                        ulimits=(Ulimit("nofile", 5, 1),), sysctls={"kernel.panic": "1"}, oom_score_adj=5000)
    problems = validate(bad)
    for text in ("no command", "NOEQUALS", "working dir", "invalid signal", "absolute host path",
                 "duplicate mount point /a", "soft limit 5 is above hard limit 1", "not namespaced", "oom_score_adj"):
        assert any(text in p for p in problems), text


def test_parse_signal():
    assert parse_signal("SIGTERM") == parse_signal("TERM") == parse_signal("15") == parse_signal(15) == 15
    assert parse_signal("KILL") == 9
    with pytest.raises(ValueError):
        parse_signal("NOPE")


def test_resolve_user(tmp_path):
    passwd, group = tmp_path / "passwd", tmp_path / "group"
    passwd.write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    group.write_text("root:x:0:\napp:x:1000:\nwheel:x:10:app,other\nstaff:x:50:\n")
    r = resolve_user("app", str(passwd), str(group))
    assert (r.uid, r.gid, r.groups, r.home) == (1000, 1000, (10,), "/home/app")
    assert resolve_user("app:staff", str(passwd), str(group)).gid == 50
    assert resolve_user("", str(passwd), str(group)).uid == 0
    unknown = resolve_user("4242:7", str(passwd), str(group))
    assert (unknown.uid, unknown.gid, unknown.home) == (4242, 7, "/")
    with pytest.raises(LookupError, match="unable to find user ghost"):
        resolve_user("ghost", str(passwd), str(group))
    with pytest.raises(LookupError, match="unable to find group nogrp"):
        resolve_user("app:nogrp", str(passwd), str(group))


def test_secure_join_never_leaves_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../etc", root / "etc" / "rel")
    assert secure_join(str(root), "/abs/passwd") == str(root / "etc/passwd")
    assert secure_join(str(root), "/etc/rel/x") == str(root / "etc/x")
    assert secure_join(str(root), "/../../x") == str(root / "x")


def test_rfc3339nano_like_go():
    assert rfc3339nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    assert rfc3339nano(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert rfc3339nano(1_700_000_000_000_000_001) == "2023-11-14T22:13:20.000000001Z"


def test_json_log_lines_partials_escapes_and_rotation(tmp_path):
    path = str(tmp_path / "c-json.log")
    log = JsonLog(path, max_size=300, max_file=2)
    log.write("stdout", b"a<b>&c\n\x01par")
    log.write("stderr", b"err\n")
    log.write("stdout", b"tial\n" + b"\xff\n")
    log.close()
    lines = []
    for name in (path + ".1", path):
        if os.path.exists(name):
            with open(name, encoding="utf-8") as fh:
                lines += fh.read().splitlines()
    assert '"log":"a\\u003cb\\u003e\\u0026c\\n"' in lines[0]
    recs = [json.loads(line) for line in lines]
    assert [(r["log"], r["stream"]) for r in recs] == [
        ("a<b>&c\n", "stdout"), ("err\n", "stderr"), ("\x01partial\n", "stdout"), ("\ufffd\n", "stdout")]
    assert all(os.path.getsize(n) <= 300 for n in (path, path + ".1"))


def test_records_are_replaced_whole(tmp_path):
    path = tmp_path / "r.json"
    assert read_record(path, {"none": True}) == {"none": True}
    write_record(path, {"a": 1})
    write_record(path, {"a": 2}, durable=False)
    assert read_record(path) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


@pytest.mark.parametrize("chunk", [1000, 7000, 16384, 50000])
def test_long_lines_split_at_16k_whatever_the_chunks(tmp_path, chunk):
    data = b"y" * 20000 + b"\n" + b"z" * 40000 + b"\nend"
    log = JsonLog(str(tmp_path / "l"), 0, 1)
    for i in range(0, len(data), chunk):
        log.write("stdout", data[i:i + chunk])
    log.close()
    with open(tmp_path / "l") as fh:
        sizes = [len(json.loads(line)["log"]) for line in fh]
    assert sizes == [16384, 3617, 16384, 16384, 7233, 3]
