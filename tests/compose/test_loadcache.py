"""``compose.loadcache``: the project summary the light commands (and ``config -q``) reuse is used only while
nothing the load read has changed: Compose file, ``.env``, env files, a new override file, the environment, the
command line. Errors in an edited file are reported with file:line:col as without the cache."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from compose import loadcache
from compose.loadcache import Summary
from tests.compose._cli import pycompose

_OLD_NS = (time.time_ns() - 3600 * 10**9)  # an hour ago: safely before any load (not "racy")

_COMPOSE = """name: cached
services:
  web:
    image: busybox
    env_file:
      - path: ./conf/web.env
        required: false
    environment:
      GREETING: ${GREETING:-hi}
"""


def _age(*paths: Path) -> None:
    """Set the paths' times an hour back, as for files not touched recently."""
    for path in paths:
        for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
            os.utime(p, ns=(_OLD_NS, _OLD_NS))


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    d.mkdir()
    (d / "compose.yaml").write_text(_COMPOSE)
    (d / ".env").write_text("GREETING=hello\n")
    (d / "conf").mkdir()
    _age(d)
    return d


@pytest.fixture
def cache(tmp_path: Path) -> dict[str, str]:
    return {"PYCOMPOSE_CACHE_DIR": str(tmp_path / "cache")}


def _entries(env: dict[str, str]) -> list[Path]:
    d = Path(env["PYCOMPOSE_CACHE_DIR"])
    return sorted(d.glob("*.json")) if d.exists() else []


def _hit(proj: Path, env: dict[str, str], *args: str) -> bool:
    """Runs ``config -q`` with PYCOMPOSE_TRACE=1: True when the summary came from the cache."""
    run = pycompose(*args, "config", "-q", cwd=proj, env={**env, "PYCOMPOSE_TRACE": "1"})
    assert run.code == 0, run.err
    return "project summary from the cache" in run.err


def test_second_run_hits_and_an_edit_of_the_compose_file_misses(proj, cache):
    assert not _hit(proj, cache)
    assert len(_entries(cache)) == 1
    assert _hit(proj, cache)
    (proj / "compose.yaml").write_text(_COMPOSE.replace("image: busybox", "image: busybox:1"))
    assert not _hit(proj, cache)


def test_error_after_edit_is_reported_with_its_location(proj, cache):
    assert not _hit(proj, cache)
    assert _hit(proj, cache)
    (proj / "compose.yaml").write_text(_COMPOSE.replace("image: busybox", "image: [busybox]"))
    run = pycompose("config", "-q", cwd=proj, env=cache)
    assert run.code == 1
    assert "compose.yaml:4:" in run.err and "services.web.image" in run.err, run.err


def test_dotenv_change_misses(proj, cache):
    assert not _hit(proj, cache)
    assert _hit(proj, cache)
    (proj / ".env").write_text("GREETING=changed\n")
    assert not _hit(proj, cache)


def test_optional_env_file_appearing_misses(proj, cache):
    assert not _hit(proj, cache)
    assert _hit(proj, cache)
    (proj / "conf" / "web.env").write_text("A=1\n")
    assert not _hit(proj, cache)


def test_new_override_file_misses(proj, cache):
    assert not _hit(proj, cache)
    assert _hit(proj, cache)
    (proj / "compose.override.yaml").write_text("services:\n  extra:\n    image: busybox\n")
    run = pycompose("config", "-q", "extra", cwd=proj, env=cache)
    assert run.code == 0, run.err


def test_unknown_service_still_an_error_on_a_hit(proj, cache):
    assert not _hit(proj, cache)
    assert _hit(proj, cache)
    run = pycompose("config", "-q", "nope", cwd=proj, env=cache)
    assert run.code == 1 and "no such service: nope" in run.err


def test_environment_and_options_are_part_of_the_key(proj, cache):
    assert not _hit(proj, cache)
    assert not _hit(proj, {**cache, "GREETING": "from-env"})
    assert not _hit(proj, cache, "-p", "other")
    assert _hit(proj, cache)
    assert _hit(proj, {**cache, "GREETING": "from-env"})


def test_warnings_printed_again_on_a_hit(proj, cache):
    (proj / "compose.yaml").write_text("version: '3'\n" + _COMPOSE)
    _age(proj)
    first = pycompose("config", "-q", cwd=proj, env=cache)
    second = pycompose("config", "-q", cwd=proj, env={**cache, "PYCOMPOSE_TRACE": "1"})
    assert "project summary from the cache" in second.err
    warnings = [line for line in first.err.splitlines() if line.startswith("warning:")]
    assert warnings and all(w in second.err for w in warnings)


def test_turned_off(proj, cache):
    off = {**cache, "PYCOMPOSE_PROJECT_CACHE": "0"}
    assert not _hit(proj, off)
    assert not _hit(proj, off)
    assert _entries(cache) == []


def test_recent_files_are_not_trusted(tmp_path, monkeypatch):
    """A file changed within the clock margin of the load may hold content the load never saw: not kept."""
    monkeypatch.setenv("PYCOMPOSE_CACHE_DIR", str(tmp_path / "cache"))  # outside the project: its own mtime
    d = tmp_path / "p"
    d.mkdir()
    monkeypatch.chdir(d)
    f = d / "compose.yaml"
    f.write_text("services: {}\n")
    summary = Summary(name="p", project_dir=str(d), files=[str(f)], services=[], disabled_services=[])
    fields = {"files": []}
    assert not loadcache.store(fields, summary, [str(f)], started_ns=time.time_ns())
    assert loadcache.lookup(fields) is None
    _age(d)
    assert loadcache.store(fields, summary, [str(f)], started_ns=time.time_ns())
    assert loadcache.lookup(fields) == summary
    f.write_text("services: {a: {image: x}}\n")
    assert loadcache.lookup(fields) is None


def test_record_sees_files_opened(tmp_path):
    f = tmp_path / "x.yaml"
    f.write_text("a: 1\n")
    with loadcache.record() as opened:
        f.read_text()
    f.read_text()
    assert opened == [str(f)]


def test_unwritable_cache_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("PYCOMPOSE_CACHE_DIR", str(blocker / "sub"))
    monkeypatch.chdir(tmp_path)
    _age(tmp_path)
    summary = Summary(name="p", project_dir=str(tmp_path), files=[], services=[], disabled_services=[])
    assert not loadcache.store({}, summary, [], started_ns=time.time_ns())
    assert loadcache.lookup({}) is None


def test_stdin_is_never_cached(proj, cache):
    text = (proj / "compose.yaml").read_text()
    for env in ({}, {"COMPOSE_FILE": "-"}):
        args = ("-f", "-") if not env else ()
        first = pycompose(*args, "config", "-q", cwd=proj, env={**cache, **env}, stdin=text)
        assert first.code == 0, first.err
        broken = pycompose(*args, "config", "-q", cwd=proj, env={**cache, **env}, stdin="services: [1]\n")
        assert broken.code == 1, broken.err
    assert _entries(cache) == []


def test_no_home_no_cache():
    env = {"HOME": "relative", "XDG_CACHE_HOME": ""}
    assert loadcache.cache_dir(env) == "" and not loadcache.enabled(env)
    assert loadcache.cache_dir({"XDG_CACHE_HOME": "/x"}) == "/x/pycompose/projects"
    assert loadcache.cache_dir({"PYCOMPOSE_CACHE_DIR": "/y", "XDG_CACHE_HOME": "/x"}) == "/y"
