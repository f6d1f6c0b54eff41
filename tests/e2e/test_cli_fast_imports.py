"""The everyday commands (``ps``, ``logs``, ``exec``, ``top``, ``port``, ``images``, ``version``, ``ls``, ``config -q``,
``cp`` both ways, ``export``, ``kill``, ``pause``, ``unpause``, ``stop``, ``start``, ``restart``), run against our engine, do their work without
importing docker-py (requests, urllib3) or typer/click: each runs in a fresh interpreter that reports what it
loaded; its output is checked too."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.test_up_down import _environ, engine, project  # noqa: F401

pytestmark = pytest.mark.root

_HEAVY = ("docker", "requests", "urllib3", "typer", "click", "rich")
_RUN = """
import json, sys
from compose.cli.app import run
code = run(sys.argv[2:])
sys.stdout.flush()
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
with open(sys.argv[1], "w") as report:
    json.dump({{"code": code, "heavy": heavy}}, report)
""".format(heavy=_HEAVY)

_BOX = """
services:
  box:
    image: busybox:local
    command: ["sh", "-c", "echo hello from box; echo oops >&2; exec sleep 3600"]
    ports: ["127.0.0.1::80"]
"""


def _light(project, tmp_path, *args: str) -> tuple[int, str, str, list[str]]:
    """``pycompose ARGS`` in a fresh interpreter: (exit code, stdout, stderr, the heavy modules it loaded)."""
    report = tmp_path.parent / f"{tmp_path.name}.report.json"  # not in the project's directory: its mtime is
    # watched by the project cache, and stop/start/restart take the light path only on a cache hit
    report.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-c", _RUN, str(report), *args], cwd=project.dir,
                          env=_environ(project.engine), capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    found = json.loads(report.read_text())
    return found["code"], proc.stdout, proc.stderr, found["heavy"]


def test_everyday_commands_load_neither_docker_py_nor_typer(engine, project, tmp_path):  # noqa: F811
    project.write(_BOX)
    project.compose("up", "-d")
    name = project.name
    box = f"{name}-box-1"
    logs = _light(project, tmp_path, "logs", "box")  # (the first light command also fills the project cache)
    assert logs[0] == 0 and "hello from box" in logs[1] and "oops" in logs[1], logs

    local = tmp_path / "local.txt"
    local.write_bytes(b"copied in and out\n")
    checks = {
        ("ps",): lambda out: box in out and "Up" in out,
        ("ps", "-q"): lambda out: len(out.split()) == 1 and len(out.strip()) == 64,
        ("-p", name, "ps", "--format", "json"): lambda out: json.loads(out)["Name"] == box,
        ("logs", "--no-log-prefix", "--tail", "1", "box"): lambda out: out == "oops\n" or out == "hello from box\n",
        ("exec", "-T", "box", "echo", "in the box"): lambda out: out == "in the box\n",
        ("top",): lambda out: "sleep 3600" in out,
        ("port", "box", "80"): lambda out: out.startswith("127.0.0.1:") and int(out.strip().split(":")[1]) > 0,
        ("images",): lambda out: "busybox" in out and "local" in out,
        ("version", "--short"): lambda out: out.strip() != "",
        ("config", "-q"): lambda out: out == "",
        ("cp", str(local), "box:/tmp/local.txt"): lambda out: True,
        ("cp", "box:/tmp/local.txt", str(tmp_path / "back.txt")): lambda out: (
            (tmp_path / "back.txt").read_bytes() == b"copied in and out\n"),
        ("export", "-o", str(tmp_path / "fs.tar"), "box"): lambda out: b"tmp/local.txt" in (
            tmp_path / "fs.tar").read_bytes(),
        ("ls",): lambda out: name in out,
        ("kill", "-s", "SIGCONT", "box"): lambda out: True,  # (checked below: still running)
        ("pause", "box"): lambda out: True,
        ("unpause", "box"): lambda out: True,
        ("restart", "-t", "0", "box"): lambda out: True,  # (the order against the full path: test_stop_start_order)
        ("stop", "-t", "0", "box"): lambda out: True,
        ("start", "box"): lambda out: True,
        ("restart", "--no-deps", "-t", "0", "box"): lambda out: True,
    }
    for args, check in checks.items():
        code, out, err, heavy = _light(project, tmp_path, *args)
        assert code == 0, (args, err)
        assert heavy == [], f"pycompose {' '.join(args)} imported {heavy}"
        assert check(out), (args, out)
        if args[0] == "pause":
            assert project.container("box").attrs["State"]["Paused"] is True
        if args[0] == "stop":
            assert project.container("box").attrs["State"]["Status"] == "exited"
    assert project.container("box").attrs["State"]["Status"] == "running"


def test_engine_refusals_read_as_before(engine, project, tmp_path):  # noqa: F811
    """404/409 from the engine through the small client: exit 1, the engine's message, no traceback."""
    project.write(_BOX)
    project.compose("up", "-d")
    project.compose("pause", "box")
    try:
        code, _, err, heavy = _light(project, tmp_path, "exec", "-T", "box", "true")
        assert code == 1 and "is paused" in err, err  # the engine's 409 text
        assert heavy == []
    finally:
        project.compose("unpause", "box")
    code, out, err, _ = _light(project, tmp_path, "exec", "-T", "box", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (code, out) == (3, "out\n") and "err" in err
    code, _, err, _ = _light(project, tmp_path, "port", "nosuch", "80")
    assert code == 1 and "no such service: nosuch" in err
    project.compose("rm", "-f", "-s", "box")
    code, _, err, _ = _light(project, tmp_path, "exec", "-T", "box", "true")
    assert code == 1 and "not running" in err


def test_help_and_usage_errors_still_come_from_typer(engine, project, tmp_path):  # noqa: F811
    project.write(_BOX)
    code, out, _, heavy = _light(project, tmp_path, "ps", "--help")
    assert code == 0 and "--quiet" in out and "typer" in heavy
    code, _, err, _ = _light(project, tmp_path, "ps", "--nope")
    assert code == 1 and "No such option" in err and "--nope" in err
    code, _, err, _ = _light(project, tmp_path, "port", "box", "eighty")
    assert code == 1 and "eighty" in err
