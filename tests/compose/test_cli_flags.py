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


def test_global_flags_go_where_the_client_reads_them():
    from compose.cli.globalflags import apply_global_flags

    env: dict[str, str] = {}
    assert apply_global_flags("up", ansi="never", parallel=3, compatibility=True, environ=env) == "plain"
    assert env == {"COMPOSE_ANSI": "never", "COMPOSE_PARALLEL_LIMIT": "3", "COMPOSE_COMPATIBILITY": "true"}
    assert apply_global_flags("up", ansi="always", environ={}) == "tty"
    assert apply_global_flags("up", ansi="always", progress="json", environ={}) == "json"
    env = {}
    assert apply_global_flags("up", parallel=-1, environ=env) is None and int(env["COMPOSE_PARALLEL_LIMIT"]) > 1000
    for kwargs, words in (({"ansi": "sometimes"}, "never, always or auto"), ({"parallel": 0}, "--parallel 0"),
                          ({"dry_run": True}, "does not support dry-run")):
        with pytest.raises(UserError) as err:
            apply_global_flags("exec" if "dry_run" in kwargs else "up", environ={}, **kwargs)
        assert words in str(err.value)
    assert apply_global_flags("up", dry_run=True, environ={}) is None


def test_compatibility_names_take_underscores(monkeypatch):
    from compose.naming import container_name, oneoff_name

    assert container_name("p", "web", 1) == "p-web-1"
    monkeypatch.setenv("COMPOSE_COMPATIBILITY", "true")
    assert container_name("p", "web", 1) == "p_web_1"
    assert oneoff_name("p", "web", "abcdef0123456789") == "p_web_run_abcdef012345"


def test_dry_run_rehearses_the_plan_in_order(tmp_path):
    from compose.events import Status
    from compose.execute import rehearse
    from compose.observe import Observed
    from compose.plan import plan_up
    from tests.compose.test_plan import IMAGES

    project = _project(tmp_path, HELLO)
    plan = plan_up(project, Observed(images=dict(IMAGES)))
    events = []
    rehearse(plan, events.append)
    assert len(events) == 2 * len(plan.steps)
    assert all(e.kind.startswith("DRY-RUN MODE -  ") for e in events)
    assert [(e.name, e.text) for e in events if e.status is Status.DONE][0] == ("hello_front", "Created")
    done = [e.text for e in events if e.status is Status.DONE and e.name == "hello-web-1"]
    assert done == ["Created", "Started", "Healthy"]


def test_all_resources_creates_the_unused_ones(tmp_path):
    from compose.observe import Observed
    from compose.plan import plan_up

    project = _project(tmp_path, """
name: spare
services:
  web:
    image: busybox:local
    networks: [front]
networks:
  front: {}
  spare: {}
  outside: {external: true}
volumes:
  unused: {}
""")
    images = {"busybox:local": "sha256:1"}
    assert str(plan_up(project, Observed(images=images))) == (
        "CREATE_NETWORK spare_front: missing\n"
        "CREATE_CONTAINER spare-web-1: missing <- CREATE_NETWORK spare_front\n"
        "START_CONTAINER spare-web-1: created <- CREATE_CONTAINER spare-web-1\n")
    full = str(plan_up(project, Observed(images=images), UpOptions(all_resources=True)))
    assert "CREATE_NETWORK spare_spare: declared (--all-resources)" in full
    assert "CREATE_VOLUME spare_unused: declared (--all-resources)" in full
    assert "outside" not in full


_LOOSE = """
name: loose
services:
  web:
    image: busybox
    ports: ["8080:80"]
    volumes: ["./data:/data"]
    networks: [nowhere]
    depends_on: [db]
  db:
    image: busybox
    environment: ["A=$$x"]
  other:
    image: busybox
"""


def test_config_no_consistency_and_no_normalize(tmp_path):
    import json

    from tests.compose._cli import pycompose

    (tmp_path / "compose.yaml").write_text(_LOOSE)
    refused = pycompose("config", cwd=tmp_path)
    assert refused.code == 1 and "'nowhere'" in refused.err
    loose = pycompose("config", "--no-consistency", "--format", "json", cwd=tmp_path)
    assert loose.code == 0 and "'nowhere'" in loose.err and "rendered anyway" in loose.err
    doc = json.loads(loose.out)
    assert doc["services"]["web"]["networks"] == {"nowhere": None}
    assert doc["services"]["web"]["ports"][0]["target"] == 80  # normalized: the long syntax
    assert doc["services"]["web"]["volumes"][0]["source"] == str(tmp_path / "data")
    raw = pycompose("config", "--no-normalize", "--no-consistency", "--format", "json", "web", cwd=tmp_path)
    doc = json.loads(raw.out)
    assert list(doc) == ["name", "services"] and sorted(doc["services"]) == ["db", "web"]
    assert doc["services"]["web"]["ports"] == ["8080:80"] and doc["services"]["web"]["depends_on"] == ["db"]
    assert doc["services"]["db"]["environment"] == ["A=$$x"]  # interpolated, then escaped again
    (tmp_path / "compose.yaml").write_text(_LOOSE.replace("    networks: [nowhere]\n", ""))
    plain = json.loads(pycompose("config", "--no-normalize", "--format", "json", cwd=tmp_path).out)
    assert plain["services"]["web"]["volumes"] == ["./data:/data"] and "networks" not in plain


@pytest.mark.parametrize("ref, expected", [
    ("busybox", ("docker.io/library/busybox", "latest")), ("busybox:1.36", ("docker.io/library/busybox", "1.36")),
    ("me/app:2", ("docker.io/me/app", "2")), ("localhost:5000/a/b", ("localhost:5000/a/b", "latest")),
    ("127.0.0.1:5000/x:t", ("127.0.0.1:5000/x", "t")), ("index.docker.io/library/nginx", ("docker.io/library/nginx", "latest")),
    ("reg.example/x@sha256:ab", ("reg.example/x", None)),
])
def test_image_references_normalized_as_compose(ref, expected):
    from compose.cli._digests import normalize_reference

    assert normalize_reference(ref) == expected


def test_config_no_path_resolution(tmp_path):
    import json

    from tests.compose._cli import pycompose

    (tmp_path / "compose.yaml").write_text("""
name: paths
services:
  web:
    image: busybox
    build: ./ctx
    env_file: ./e.env
    volumes: ["./data:/data"]
secrets:
  s:
    file: ./s.txt
""")
    (tmp_path / "e.env").write_text("FOO=bar\n")
    (tmp_path / "s.txt").write_text("secret\n")
    resolved = json.loads(pycompose("config", "--format", "json", cwd=tmp_path).out)
    assert resolved["services"]["web"]["build"]["context"] == str(tmp_path / "ctx")
    kept = json.loads(pycompose("config", "--no-path-resolution", "--format", "json", cwd=tmp_path).out)
    web = kept["services"]["web"]
    assert web["build"]["context"] == "./ctx" and web["volumes"][0]["source"] == "./data"
    assert web["env_file"][0]["path"] == "./e.env" and web["environment"] == {"FOO": "bar"}
    assert kept["secrets"]["s"]["file"] == "./s.txt"
    assert {k: v for k, v in web.items() if k not in ("build", "volumes", "env_file")} == \
        {k: v for k, v in resolved["services"]["web"].items() if k not in ("build", "volumes", "env_file")}
