"""files + loader: discovery (names, parents, overrides, -f, stdin, COMPOSE_FILE), project dir and name, .env."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import UserError
from compose.files import find_files, normalize_project_name
from compose.loader import LoadOptions, load


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _load(cwd: Path, environ: dict | None = None, **kw):
    return load(LoadOptions(cwd=cwd, environ=environ or {}, **kw))


@pytest.mark.parametrize("name", ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"])
def test_each_default_name_is_found(tmp_path, name):
    _write(tmp_path / name, "services: {a: {image: x}}\n")
    files, warnings = find_files([], {}, tmp_path)
    assert files == [str(tmp_path / name)] and warnings == []


def test_preferred_name_wins_with_a_warning(tmp_path):
    _write(tmp_path / "docker-compose.yml", "services: {}\n")
    _write(tmp_path / "compose.yaml", "services: {}\n")
    files, warnings = find_files([], {}, tmp_path)
    assert files == [str(tmp_path / "compose.yaml")]
    assert "using compose.yaml" in warnings[0].message


def test_found_in_a_parent_with_its_override(tmp_path):
    _write(tmp_path / "compose.yaml", "services: {web: {image: a, ports: ['80:80']}}\n")
    _write(tmp_path / "compose.override.yaml", "services: {web: {image: b, ports: ['81:81']}}\n")
    deep = tmp_path / "x" / "y"
    deep.mkdir(parents=True)
    result = _load(deep)
    assert result.files == [str(tmp_path / "compose.yaml"), str(tmp_path / "compose.override.yaml")]
    assert result.project_dir == tmp_path
    assert result.config["services"]["web"] == {"image": "b", "ports": ["80:80", "81:81"]}


def test_no_file_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="no Compose file found in .*use -f FILE"):
        find_files([], {}, tmp_path / "missing-anywhere")


def test_explicit_files_merge_in_order_relative_to_cwd(tmp_path):
    _write(tmp_path / "a" / "one.yaml", "services: {web: {image: one, user: root}}\n")
    _write(tmp_path / "b" / "two.yaml", "services: {web: {image: two}}\n")
    result = _load(tmp_path, files=["a/one.yaml", "b/two.yaml"])
    assert result.config["services"]["web"] == {"image": "two", "user": "root"}
    assert result.project_dir == tmp_path / "a"
    assert result.project_name == "a"


def test_missing_explicit_file(tmp_path):
    with pytest.raises(UserError, match="nope.yaml not found"):
        _load(tmp_path, files=["nope.yaml"])


def test_stdin(tmp_path):
    result = _load(tmp_path / "proj", files=["-"], stdin=lambda: "services: {s: {image: from-stdin}}\n")
    assert result.config["services"]["s"]["image"] == "from-stdin"
    assert result.project_dir == tmp_path / "proj" and result.project_name == "proj"
    assert result.files == ["<stdin>"]


def test_stdin_errors_name_stdin(tmp_path):
    with pytest.raises(UserError) as info:
        _load(tmp_path, files=["-"], stdin=lambda: "services:\n  s: [\n")
    assert str(info.value).startswith("<stdin>:")


def test_compose_file_env_with_separator(tmp_path):
    _write(tmp_path / "a.yaml", "services: {web: {image: a}}\n")
    _write(tmp_path / "b.yaml", "services: {web: {image: b}}\n")
    result = _load(tmp_path, {"COMPOSE_FILE": "a.yaml;b.yaml", "COMPOSE_PATH_SEPARATOR": ";"})
    assert result.config["services"]["web"]["image"] == "b"
    result = _load(tmp_path, {"COMPOSE_FILE": "b.yaml:a.yaml"})
    assert result.config["services"]["web"]["image"] == "a"


def test_compose_file_from_dotenv(tmp_path):
    _write(tmp_path / "other.yaml", "services: {web: {image: other}}\n")
    _write(tmp_path / ".env", "COMPOSE_FILE=other.yaml\n")
    assert _load(tmp_path).config["services"]["web"]["image"] == "other"


def test_explicit_f_beats_compose_file(tmp_path):
    _write(tmp_path / "a.yaml", "services: {web: {image: a}}\n")
    _write(tmp_path / "b.yaml", "services: {web: {image: b}}\n")
    result = _load(tmp_path, {"COMPOSE_FILE": "a.yaml"}, files=["b.yaml"])
    assert result.config["services"]["web"]["image"] == "b"


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("MyApp", "myapp"), ("my app.v2", "myappv2"), ("_-x", "x"), ("a_b-c", "a_b-c"), ("Ünïcode", "ncode")],
)
def test_normalize_project_name(raw, normalized):
    assert normalize_project_name(raw) == normalized


def test_project_name_precedence(tmp_path):
    proj = tmp_path / "My Dir"
    _write(proj / "compose.yaml", "name: from-file\nservices: {}\n")
    assert _load(proj, {}).project_name == "from-file"
    assert _load(proj, {"COMPOSE_PROJECT_NAME": "from-env"}).project_name == "from-env"
    assert _load(proj, {"COMPOSE_PROJECT_NAME": "from-env"}, project_name="from-cli").project_name == "from-cli"
    _write(proj / "compose.yaml", "services: {}\n")
    assert _load(proj, {}).project_name == "mydir"
    _write(proj / ".env", "COMPOSE_PROJECT_NAME=dotenv-name\n")
    assert _load(proj, {}).project_name == "dotenv-name"


@pytest.mark.parametrize("bad", ["UPPER", "-lead", "has space", "dot.ted", ""])
def test_invalid_explicit_project_name_is_rejected(tmp_path, bad):
    _write(tmp_path / "compose.yaml", "services: {}\n")
    with pytest.raises(UserError, match="project name"):
        _load(tmp_path, project_name=bad)


def test_invalid_name_in_file_is_rejected(tmp_path):
    _write(tmp_path / "compose.yaml", "services: {}\nname: Bad Name\n")
    with pytest.raises(UserError, match="is not a valid project name") as info:
        _load(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}/compose.yaml:2:1: name: 'Bad Name'")


def test_name_in_file_is_interpolated(tmp_path):
    _write(tmp_path / "compose.yaml", "name: app-${STAGE}\nservices: {}\n")
    assert _load(tmp_path, {"STAGE": "dev"}).project_name == "app-dev"


def test_project_directory_option_moves_dotenv_and_name(tmp_path):
    _write(tmp_path / "files" / "compose.yaml", "services: {web: {image: '${IMG}'}}\n")
    _write(tmp_path / "elsewhere" / ".env", "IMG=from-elsewhere\n")
    _write(tmp_path / "files" / ".env", "IMG=from-files\n")
    result = _load(tmp_path, files=["files/compose.yaml"], project_directory="elsewhere")
    assert result.project_dir == tmp_path / "elsewhere" and result.project_name == "elsewhere"
    assert result.config["services"]["web"]["image"] == "from-elsewhere"


def test_environment_precedence(tmp_path):
    _write(tmp_path / "compose.yaml", "services: {web: {image: '$A-$B-$C'}}\n")
    _write(tmp_path / ".env", "A=dotenv\nB=dotenv\nC=dotenv\n")
    _write(tmp_path / "one.env", "A=one\nB=one\n")
    _write(tmp_path / "two.env", "B=two\n")
    assert _load(tmp_path, {}).config["services"]["web"]["image"] == "dotenv-dotenv-dotenv"
    # --env-file replaces .env; later files win; the process environment wins over all
    result = _load(tmp_path, {"A": "os"}, env_files=["one.env", "two.env"])
    assert result.config["services"]["web"]["image"] == "os-two-"
    assert result.environment["B"] == "two"


def test_missing_env_file_is_an_error(tmp_path):
    _write(tmp_path / "compose.yaml", "services: {}\n")
    with pytest.raises(UserError, match="env file .*nope.env not found"):
        _load(tmp_path, env_files=["nope.env"])


def test_non_utf8_file(tmp_path):
    (tmp_path / "compose.yaml").write_bytes(b"services: {a: {image: \xff}}\n")
    with pytest.raises(UserError, match="not UTF-8"):
        _load(tmp_path)


def test_interpolation_is_per_file_before_merge_with_its_locations(tmp_path):
    _write(tmp_path / "compose.yaml", "services: {web: {image: ok}}\n")
    _write(tmp_path / "compose.override.yaml", "services:\n  web:\n    image: ${NEED:?please set NEED}\n")
    with pytest.raises(UserError) as info:
        _load(tmp_path)
    assert str(info.value) == (f"{tmp_path}/compose.override.yaml:3:5: services.web.image: "
                               "required variable NEED is not set: please set NEED")


def test_unset_variable_warns_once_across_files(tmp_path):
    _write(tmp_path / "compose.yaml", "services: {web: {image: 'a$X'}}\n")
    _write(tmp_path / "compose.override.yaml", "services: {web: {user: '$X'}}\n")
    result = _load(tmp_path)
    assert [w.message for w in result.warnings] == ['the "X" variable is not set; defaulting to a blank string']


def test_no_interpolate_keeps_templates(tmp_path):
    _write(tmp_path / "compose.yaml", "services: {web: {image: '${IMG:-x}', command: 'echo $$HOME'}}\n")
    result = _load(tmp_path, interpolate=False)
    assert result.config["services"]["web"] == {"image": "${IMG:-x}", "command": "echo $$HOME"}


def test_result_is_plain_and_sources_locate(tmp_path):
    _write(tmp_path / "compose.yaml", "services:\n  web:\n    image: a\n")
    result = _load(tmp_path)
    assert type(result.config) is dict and type(result.config["services"]["web"]) is dict
    assert str(result.sources.locate(("services", "web", "image"))) == f"{tmp_path}/compose.yaml:3:5"


def test_project_directory_without_f_is_where_files_are_found(tmp_path):
    _write(tmp_path / "proj" / "compose.yaml", "services: {web: {image: '${IMG}'}}\n")
    _write(tmp_path / "proj" / ".env", "IMG=from-proj\n")
    result = _load(tmp_path, project_directory="proj")
    assert result.files == [str(tmp_path / "proj" / "compose.yaml")]
    assert result.config["services"]["web"]["image"] == "from-proj"


def test_compose_env_files_and_disable_env_file(tmp_path):
    _write(tmp_path / "compose.yaml", "services: {web: {image: '${A:-none}-${B:-none}'}}\n")
    _write(tmp_path / ".env", "A=dotenv\n")
    _write(tmp_path / "x.env", "A=x\n")
    _write(tmp_path / "y.env", "B=y\n")
    image = lambda env: _load(tmp_path, env).config["services"]["web"]["image"]  # noqa: E731
    assert image({}) == "dotenv-none"
    assert image({"COMPOSE_ENV_FILES": "x.env,y.env"}) == "x-y"
    assert image({"COMPOSE_DISABLE_ENV_FILE": "true"}) == "none-none"


def test_cli_project_name_is_visible_to_interpolation(tmp_path):
    _write(tmp_path / "compose.yaml", "services: {web: {image: 'img-${COMPOSE_PROJECT_NAME:-none}'}}\n")
    assert _load(tmp_path, {}, project_name="proj").config["services"]["web"]["image"] == "img-proj"
    assert _load(tmp_path, {"COMPOSE_PROJECT_NAME": "env"}).config["services"]["web"]["image"] == "img-env"
