"""``pycompose config`` end to end: output, every flag, errors with file:line:col and exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ._cli import REPO, pycompose

HELLO = REPO / "samples" / "hello"

PROJECT = """\
name: shop
services:
  web:
    image: nginx:${TAG:-latest}
    ports: ["8080:80"]
    depends_on: [api]
    networks: [front]
  api:
    build: ./api
    depends_on: [db]
    networks: [front, back]
    environment:
      DB_URL: postgres://db/${DB_NAME?}
  db:
    image: postgres:16
    volumes: ["data:/var/lib/postgresql/data"]
    networks: [back]
  debug:
    image: busybox
    profiles: [debug]
  ops:
    image: busybox
    profiles: [ops, debug]
networks:
  front: {}
  back: {}
volumes:
  data: {}
"""


def _yaml(text: str):
    return YAML(typ="safe", pure=True).load(text)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    (tmp_path / "compose.yaml").write_text(PROJECT)
    (tmp_path / ".env").write_text("DB_NAME=orders\n")
    return tmp_path


def test_help_lists_global_options_and_config():
    run = pycompose("--help", cwd=REPO)
    assert run.code == 0
    for word in ("--file", "--project-name", "--project-directory", "--env-file", "--profile", "config"):
        assert word in run.out


def test_help_imports_nothing_heavy():
    code = ("import sys; from compose.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('ruamel.yaml', 'jsonschema', 'networkx', 'docker', 'compose.loader', 'rich')"
            " if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert "HEAVY []" in out


def test_sample_renders_canonical_yaml(tmp_path):
    run = pycompose("config", cwd=HELLO)
    assert run.code == 0, run.err
    assert run.out.startswith("name: hello\nservices:\n")
    doc = _yaml(run.out)
    assert list(doc) == ["name", "services", "networks"]
    assert doc["services"]["client"]["environment"] == {"GREETING": "hello"}
    assert doc["services"]["web"]["ports"][0]["target"] == 8080
    # the output is itself a valid Compose file that renders the same
    (tmp_path / "compose.yaml").write_text(run.out)
    again = pycompose("config", cwd=tmp_path)
    assert again.code == 0, again.err
    assert _yaml(again.out)["services"] == doc["services"]


def test_output_escapes_dollars_so_it_round_trips(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  s:\n    image: busybox\n    command: echo $$HOME ${GREETING:-hi}\n")
    first = pycompose("config", cwd=tmp_path)
    assert first.code == 0, first.err
    assert _yaml(first.out)["services"]["s"]["command"] == ["echo", "$$HOME", "hi"]
    (tmp_path / "compose.yaml").write_text(first.out)
    again = pycompose("config", cwd=tmp_path, env={"HOME": "/should/not/appear"})
    assert _yaml(again.out)["services"] == _yaml(first.out)["services"]


def test_json_format(shop):
    run = pycompose("config", "--format", "json", cwd=shop)
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["name"] == "shop"
    assert set(doc["services"]) == {"web", "api", "db"}
    assert doc["services"]["web"]["image"] == "nginx:latest"
    assert doc["services"]["api"]["environment"]["DB_URL"] == "postgres://db/orders"


def test_quiet_validates_only(shop):
    run = pycompose("config", "-q", cwd=shop)
    assert (run.code, run.out) == (0, "")


def test_listing_flags(shop):
    assert pycompose("config", "--volumes", cwd=shop).out == "data\n"
    assert sorted(pycompose("config", "--networks", cwd=shop).out.split()) == ["back", "front"]
    assert pycompose("config", "--profiles", cwd=shop).out == "debug\nops\n"
    assert pycompose("config", "--services", cwd=shop).out == "db\napi\nweb\n"
    assert pycompose("--profile", "debug", "config", "--services", cwd=shop).out.split() == [
        "db", "debug", "ops", "api", "web"]


def test_images(shop):
    assert pycompose("config", "--images", cwd=shop).out.split() == ["postgres:16", "shop-api", "nginx:latest"]


def test_services_argument_selects_with_dependencies(shop):
    doc = _yaml(pycompose("config", "api", cwd=shop).out)
    assert set(doc["services"]) == {"api", "db"}
    run = pycompose("config", "nope", cwd=shop)
    assert run.code == 1 and "no such service: nope" in run.err


def test_hash(shop):
    run = pycompose("config", "--hash", "*", cwd=shop)
    assert run.code == 0, run.err
    lines = dict(line.split(" ") for line in run.out.splitlines())
    assert set(lines) == {"web", "api", "db"}
    assert all(len(h) == 64 for h in lines.values())
    assert pycompose("config", "--hash", "web", cwd=shop).out == f"web {lines['web']}\n"
    # stable across runs, changes when the service changes
    assert pycompose("config", "--hash", "web,db", cwd=shop).out == f"web {lines['web']}\ndb {lines['db']}\n"
    changed = pycompose("config", "--hash", "web", cwd=shop, env={"TAG": "1.27"}).out
    assert changed != f"web {lines['web']}\n"
    assert pycompose("config", "--hash", "nope", cwd=shop).code == 1


def test_variables(shop):
    run = pycompose("config", "--variables", cwd=shop)
    assert run.code == 0, run.err
    rows = [line.split() for line in run.out.splitlines()]
    assert rows[0] == ["NAME", "REQUIRED", "DEFAULT", "VALUE", "ALTERNATE", "VALUE"]
    assert rows[1:] == [["DB_NAME", "true"], ["TAG", "false", "latest"]]
    doc = json.loads(pycompose("config", "--variables", "--format", "json", cwd=shop).out)
    assert doc["TAG"] == {"Name": "TAG", "DefaultValue": "latest", "PresenceValue": "", "Required": False}


def test_no_interpolate(shop):
    doc = _yaml(pycompose("config", "--no-interpolate", cwd=shop).out)
    assert doc["name"] == "shop"
    assert doc["services"]["web"]["image"] == "nginx:${TAG:-latest}"
    assert doc["services"]["api"]["environment"]["DB_URL"] == "postgres://db/${DB_NAME?}"


def test_no_interpolate_keeps_short_syntax_templates(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  s:\n    image: a\n    ports: ['${P:-80}:80']\n"
                                           "    command: echo $$HOME\n")
    run = pycompose("config", "--no-interpolate", "--format", "json", cwd=tmp_path)
    assert run.code == 0, run.err
    assert json.loads(run.out)["services"]["s"] == {"image": "a", "ports": ["${P:-80}:80"],
                                                   "command": "echo $$HOME"}
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  s:\n    image: [a]\n")
    run = pycompose("config", "--no-interpolate", cwd=tmp_path)
    assert run.code == 1 and f"{bad}:3:5: services.s.image" in run.err


def test_output_file_and_environment(shop):
    assert pycompose("config", "-o", "out.yaml", cwd=shop).out == ""
    assert _yaml((shop / "out.yaml").read_text())["name"] == "shop"
    env = pycompose("config", "--environment", cwd=shop, env={"EXTRA": "1"}).out
    assert "DB_NAME=orders\n" in env and "EXTRA=1\n" in env


def test_global_options(shop, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "vars.env").write_text("DB_NAME=billing\nTAG=2\n")
    run = pycompose("-f", str(shop / "compose.yaml"), "-p", "custom", "--env-file", "vars.env",
                    "config", "--format", "json", cwd=other)
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert doc["name"] == "custom"
    assert doc["services"]["web"]["image"] == "nginx:2"


def test_stdin(tmp_path):
    run = pycompose("-f", "-", "config", "--format", "json", cwd=tmp_path,
                    stdin="services: {s: {image: busybox}}\n")
    assert run.code == 0, run.err
    assert json.loads(run.out)["services"]["s"]["image"] == "busybox"
    assert json.loads(run.out)["name"] == tmp_path.name.lower().replace(".", "")


def test_warnings_go_to_stderr(tmp_path):
    (tmp_path / "compose.yaml").write_text("services: {s: {image: busybox, environment: {X: 'a$NOPE'}}}\n")
    run = pycompose("config", "--format", "json", cwd=tmp_path)
    assert run.code == 0, run.err
    assert 'warning: ' in run.err and '"NOPE" variable is not set' in run.err
    assert json.loads(run.out)["services"]["s"]["environment"] == {"X": "a"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("services:\n  web:\n    image: [1, 2]\n", "compose.yaml:3:5: services.web.image: "),
        ("services:\n  web:\n    image: a\n    image: b\n",
         "compose.yaml:4:5: duplicate key 'image' (first defined at line 3)"),
        ("services:\n  web:\n    image: ${X:?X is needed}\n",
         "compose.yaml:3:5: services.web.image: required variable X is not set: X is needed"),
        ("services:\n  web:\n    image: a\n    depends_on: [ghost]\n", "compose.yaml:4:"),
        ("services:\n  web: {image: a\n", "compose.yaml:3:1: invalid YAML"),
        ("- a list\n", "compose.yaml:1:1: a Compose file must be a mapping"),
    ],
)
def test_errors_have_location_and_exit_1(tmp_path, text, expected):
    (tmp_path / "compose.yaml").write_text(text)
    run = pycompose("config", cwd=tmp_path)
    assert run.code == 1, (run.out, run.err)
    assert run.out == ""
    assert f"{tmp_path}/{expected}" in run.err, run.err


def test_several_errors_reported_together(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    image: [x]\n  b:\n    image: b\n    bogus_key: 1\n  c:\n    privileged: 3\n")
    run = pycompose("config", cwd=tmp_path)
    assert run.code == 1
    lines = run.err.strip().splitlines()
    assert len(lines) >= 3, run.err
    assert any(":3:5: services.a.image" in line for line in lines)
    assert any(":6:5: services.b.bogus_key" in line for line in lines)
    assert any(":8:5: services.c.privileged" in line for line in lines)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-p", "Bad Name", "config"], "is not a valid project name"),
        (["-f", "missing.yaml", "config"], "missing.yaml not found"),
        (["config", "--format", "xml"], "unsupported format"),
        (["config", "--bogus"], "No such option"),
        (["nonsense"], "No such command"),
    ],
)
def test_user_errors_exit_1(shop, args, fragment):
    run = pycompose(*args, cwd=shop)
    assert run.code == 1, (run.out, run.err)
    assert fragment in run.err


def test_no_compose_file(tmp_path):
    run = pycompose("config", cwd=tmp_path)
    assert run.code == 1 and "no Compose file found" in run.err


@pytest.mark.parametrize("sample", sorted(p.parent.name for p in (REPO / "samples").glob("*/compose.yaml")))
def test_every_sample_is_valid_without_warnings(sample):
    run = pycompose("config", "-q", cwd=REPO / "samples" / sample)
    assert (run.code, run.out, run.err) == (0, "", "")


def test_layered_sample_with_prod_overrides():
    layered = REPO / "samples" / "layered"
    doc = json.loads(pycompose("-f", "compose.yaml", "-f", "prod.yaml", "config", "--format", "json",
                               cwd=layered).out)
    web, worker, store = doc["services"]["web"], doc["services"]["worker"], doc["services"]["store"]
    assert "ports" not in web  # !reset
    assert web["environment"] == {"TZ": "Europe/Paris", "PORT": "8080"}  # extends chain + override
    assert worker["command"] == ["sh", "-c", "exec run-worker"]  # !override
    assert store["command"][-1] == "echo store primary && sleep 3600"  # include env_file
    assert store["volumes"][0]["source"] == str(layered / "db" / "data")  # include's own directory
    assert web["volumes"][0]["source"] == str(layered / "app" / "shared")  # extends file's directory


def test_webapp_sample_override_and_dotenv():
    doc = json.loads(pycompose("config", "--format", "json", cwd=REPO / "samples" / "webapp").out)
    api = doc["services"]["api"]
    assert api["image"] == "registry.local/webapp/api:2.1.0"
    assert api["environment"]["LOG_LEVEL"] == "debug"
    assert api["environment"]["DATABASE_URL"] == "postgres://app@db:5432/webapp"
    assert "debug" not in doc["services"]


def test_bare_command_prints_help_and_version_works():
    run = pycompose(cwd=REPO)
    assert run.code == 0 and run.out.startswith("Usage: pycompose")
    from importlib.metadata import version

    assert pycompose("version", "--short", cwd=REPO).out.strip() == version("pycompose")


def test_yaml_output_quotes_yaml11_booleans(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  s:\n    image: a\n    environment: {FLAG: 'yes', MODE: 'on'}\n")
    out = pycompose("config", cwd=tmp_path).out
    assert 'FLAG: "yes"' in out and 'MODE: "on"' in out
    assert _yaml(out)["services"]["s"]["environment"] == {"FLAG": "yes", "MODE": "on"}
