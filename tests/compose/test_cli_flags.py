"""Client-side parts of the late ``docker compose`` flags: ``ps --filter``, ``run --env-from-file`` (Docker's
env-file format), ``run --remove-orphans`` in the run plan, and the flag combinations ``up`` refuses."""
from __future__ import annotations

import pytest

from compose.cli._envfile import read_env_files
from compose.cli.ps import parse_filter
from compose.errors import UserError
from compose.plan import UpOptions, plan_run
from tests.compose.test_plan import HELLO, _everything_up, _project, _running


def test_ps_filter_keys():
    assert parse_filter(None) == [] and parse_filter("status=running") == ["running"]
    for value, words in (("status", "KEY=VAL"), ("name=web", "unknown filter name"), ("source=x", "not implemented")):
        with pytest.raises(UserError) as err:
            parse_filter(value)
        assert words in str(err.value)


def test_env_from_file_is_docker_env_file_format(tmp_path):
    first = tmp_path / "a.env"
    first.write_text("\ufeff# comment\nPLAIN=1\n  QUOTED=\"kept as written\"\nSPACE=a b \nFROM_HOST\nUNSET_HERE\n"
                     "EMPTY=\nOVER=first\n")
    second = tmp_path / "b.env"
    second.write_text("OVER=second\n")
    got = read_env_files([str(first), str(second)], {"FROM_HOST": "host"})
    assert got == {"PLAIN": "1", "QUOTED": '"kept as written"', "SPACE": "a b ", "FROM_HOST": "host", "EMPTY": "",
                   "OVER": "second"}


@pytest.mark.parametrize("text, words", [("BAD KEY=1\n", "contains whitespaces"), ("=1\n", "no variable name")])
def test_env_from_file_bad_lines(tmp_path, text, words):
    path = tmp_path / "x.env"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        read_env_files([str(path)], {})
    assert words in str(err.value) and "x.env:1" in str(err.value)
    with pytest.raises(UserError) as err:
        read_env_files([str(tmp_path / "missing.env")], {})
    assert "missing.env" in str(err.value)


def test_run_remove_orphans_without_dependencies(tmp_path):
    project = _project(tmp_path, HELLO)
    observed = _everything_up(project)
    observed.containers.append(_running(project, "gone", digest="x"))
    assert "hello-gone-1" not in str(plan_run(project, observed, "web", UpOptions(no_deps=True)))
    removed = str(plan_run(project, observed, "web", UpOptions(no_deps=True, remove_orphans=True)))
    assert "REMOVE_CONTAINER hello-gone-1: orphan" in removed
    with_deps = str(plan_run(project, observed, "client", UpOptions(remove_orphans=True)))
    assert with_deps.count("REMOVE_CONTAINER hello-gone-1: orphan") == 1
