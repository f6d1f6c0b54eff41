"""include: short/long form, project_directory, env_file, recursion, path rebasing, conflicts, cycles."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import UserError
from compose.loader import LoadOptions, load


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _load(tmp_path: Path, environ: dict | None = None):
    return load(LoadOptions(cwd=tmp_path, environ=environ or {}))


def test_short_form_brings_resources_with_absolute_paths(tmp_path):
    _write(tmp_path / "db" / "compose.yaml", """
services:
  db:
    image: postgres
    build: .
    volumes: ["./init:/init", "data:/var/lib/postgresql"]
    env_file: [db.env]
volumes: {data: {}}
secrets: {pw: {file: ./pw.txt}}
""")
    _write(tmp_path / "compose.yaml", """
include: [db/compose.yaml]
services:
  web: {image: nginx, depends_on: [db]}
""")
    config = _load(tmp_path).config
    db = tmp_path / "db"
    assert "include" not in config
    assert config["services"]["db"] == {
        "image": "postgres", "build": str(db), "volumes": [f"{db}/init:/init", "data:/var/lib/postgresql"],
        "env_file": [str(db / "db.env")]}
    assert config["services"]["web"] == {"image": "nginx", "depends_on": ["db"]}
    assert config["volumes"] == {"data": {}}
    assert config["secrets"] == {"pw": {"file": str(db / "pw.txt")}}


def test_long_form_env_file_and_project_directory(tmp_path):
    _write(tmp_path / "parts" / "a.yaml", "services: {a: {image: '${IMG}', build: ./src}}\n")
    _write(tmp_path / "parts" / "a.override.yaml", "services: {a: {user: '${WHO:-nobody}'}}\n")
    _write(tmp_path / "vars.env", "IMG=from-env-file\nWHO=included\n")
    _write(tmp_path / "compose.yaml", """
include:
  - path: [parts/a.yaml, parts/a.override.yaml]
    project_directory: proj
    env_file: vars.env
""")
    config = _load(tmp_path, {"WHO": "parent-wins"}).config
    assert config["services"]["a"] == {"image": "from-env-file", "build": str(tmp_path / "proj" / "src"),
                                       "user": "parent-wins"}


def test_included_dotenv_gives_defaults(tmp_path):
    _write(tmp_path / "sub" / "compose.yaml", "services: {s: {image: '${TAG}'}}\n")
    _write(tmp_path / "sub" / ".env", "TAG=sub-default\n")
    _write(tmp_path / "compose.yaml", "include: [sub/compose.yaml]\n")
    assert _load(tmp_path).config["services"]["s"]["image"] == "sub-default"


def test_recursive_include(tmp_path):
    _write(tmp_path / "a" / "b" / "compose.yaml", "services: {deep: {image: d, build: .}}\n")
    _write(tmp_path / "a" / "compose.yaml", "include: [b/compose.yaml]\nservices: {mid: {image: m}}\n")
    _write(tmp_path / "compose.yaml", "include: [a/compose.yaml]\nservices: {top: {image: t}}\n")
    services = _load(tmp_path).config["services"]
    assert set(services) == {"top", "mid", "deep"}
    assert services["deep"]["build"] == str(tmp_path / "a" / "b")


def test_conflict_is_an_error_naming_both(tmp_path):
    _write(tmp_path / "other.yaml", "services: {web: {image: theirs}}\n")
    _write(tmp_path / "compose.yaml", "include:\n  - other.yaml\nservices: {web: {image: mine}}\n")
    with pytest.raises(UserError) as info:
        _load(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{tmp_path}/compose.yaml:2:5: include[0]: service 'web' is defined both here")
    assert "other.yaml:1:" in message


def test_identical_definition_is_not_a_conflict(tmp_path):
    _write(tmp_path / "other.yaml", "networks: {shared: {driver: bridge}}\n")
    _write(tmp_path / "compose.yaml", "include: [other.yaml]\nnetworks: {shared: {driver: bridge}}\n")
    assert _load(tmp_path).config["networks"] == {"shared": {"driver": "bridge"}}


def test_cycle(tmp_path):
    _write(tmp_path / "a.yaml", "include: [compose.yaml]\n")
    _write(tmp_path / "compose.yaml", "include: [a.yaml]\n")
    with pytest.raises(UserError, match="include cycle"):
        _load(tmp_path)


@pytest.mark.parametrize("bad", ["include: x.yaml", "include: [5]", "include: [{path: []}]",
                                 "include: [{path: a.yaml, bogus: 1}]"])
def test_malformed(tmp_path, bad):
    _write(tmp_path / "compose.yaml", bad + "\n")
    with pytest.raises(UserError, match="include"):
        _load(tmp_path)


def test_missing_included_file(tmp_path):
    _write(tmp_path / "compose.yaml", "include: [missing.yaml]\n")
    with pytest.raises(UserError, match="missing.yaml not found"):
        _load(tmp_path)


def test_cycle_through_dotdot_and_symlink(tmp_path):
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "compose.yaml", "include: [sub/../compose.yaml]\n")
    with pytest.raises(UserError, match="include cycle"):
        _load(tmp_path)
    (tmp_path / "link.yaml").symlink_to(tmp_path / "compose.yaml")
    _write(tmp_path / "compose.yaml", "include: [link.yaml]\n")
    with pytest.raises(UserError, match="include cycle"):
        _load(tmp_path)


def test_same_file_in_two_branches_is_not_a_cycle(tmp_path):
    _write(tmp_path / "common.yaml", "networks: {shared: {}}\n")
    _write(tmp_path / "a.yaml", "include: [common.yaml]\nservices: {a: {image: a}}\n")
    _write(tmp_path / "b.yaml", "include: [common.yaml]\nservices: {b: {image: b}}\n")
    _write(tmp_path / "compose.yaml", "include:\n  - path: [a.yaml, b.yaml]\n")
    config = _load(tmp_path).config
    assert set(config["services"]) == {"a", "b"} and config["networks"] == {"shared": {}}


def test_unset_variable_warns_once_across_included_projects(tmp_path):
    _write(tmp_path / "sub.yaml", "services: {s: {image: 'x$NOPE'}}\n")
    _write(tmp_path / "compose.yaml", "include: [sub.yaml]\nservices: {m: {image: 'y$NOPE'}}\n")
    assert [w.message for w in _load(tmp_path).warnings] == [
        'the "NOPE" variable is not set; defaulting to a blank string']


def test_locations_of_included_values_point_into_the_included_file(tmp_path):
    _write(tmp_path / "db" / "compose.yaml", "services:\n  db:\n    image: postgres\n")
    _write(tmp_path / "compose.yaml", "include: [db/compose.yaml]\nservices:\n  web:\n    image: nginx\n")
    sources = _load(tmp_path).sources
    assert str(sources.locate(("services", "db", "image"))) == f"{tmp_path}/db/compose.yaml:3:5"
    assert str(sources.locate(("services", "web", "image"))) == f"{tmp_path}/compose.yaml:4:5"


def test_watch_paths_and_bind_volume_devices_are_rebased(tmp_path):
    _write(tmp_path / "sub" / "compose.yaml", """
services:
  s:
    image: x
    develop:
      watch: [{path: ./src, action: sync, target: /app}]
volumes:
  data:
    driver_opts: {type: none, o: bind, device: ./data}
  other:
    driver_opts: {type: nfs, o: "addr=1.2.3.4", device: ":/export"}
""")
    _write(tmp_path / "compose.yaml", "include: [sub/compose.yaml]\n")
    config = _load(tmp_path).config
    assert config["services"]["s"]["develop"]["watch"][0]["path"] == str(tmp_path / "sub" / "src")
    assert config["volumes"]["data"]["driver_opts"]["device"] == str(tmp_path / "sub" / "data")
    assert config["volumes"]["other"]["driver_opts"]["device"] == ":/export"
