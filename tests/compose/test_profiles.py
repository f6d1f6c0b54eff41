"""profiles: services without profiles always on; --profile / COMPOSE_PROFILES / '*' / explicit services."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.loader import LoadOptions, load
from compose.profiles import active_profiles, all_profiles

COMPOSE = """
services:
  web: {image: a}
  debug: {image: b, profiles: [debug]}
  tools: {image: c, profiles: [debug, ops]}
  ops: {image: d, profiles: [ops]}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    return tmp_path


@pytest.mark.parametrize(
    ("cli", "environ", "enabled"),
    [
        ([], {}, {"web"}),
        (["debug"], {}, {"web", "debug", "tools"}),
        (["ops"], {}, {"web", "tools", "ops"}),
        (["debug,ops"], {}, {"web", "debug", "tools", "ops"}),
        ([], {"COMPOSE_PROFILES": "ops"}, {"web", "tools", "ops"}),
        (["debug"], {"COMPOSE_PROFILES": "ops"}, {"web", "debug", "tools"}),  # --profile wins over env
        (["*"], {}, {"web", "debug", "tools", "ops"}),
        (["unknown"], {}, {"web"}),
    ],
)
def test_enabled_services(project, cli, environ, enabled):
    result = load(LoadOptions(cwd=project, environ=environ, profiles=cli))
    assert set(result.config["services"]) == enabled
    assert set(result.disabled_services) == {"web", "debug", "tools", "ops"} - enabled


def test_explicit_service_activates_its_profiles(project):
    result = load(LoadOptions(cwd=project, environ={}, services=["ops"]))
    assert set(result.config["services"]) == {"web", "ops", "tools"}  # tools is in profile ops too
    assert result.profiles == ["ops"]
    assert result.disabled_services == {"debug": {"image": "b", "profiles": ["debug"]}}
    result = load(LoadOptions(cwd=project, environ={}, profiles=["debug"], services=["ops", "nope"]))
    assert set(result.config["services"]) == {"web", "debug", "tools", "ops"}
    assert result.profiles == ["debug", "ops"]


def test_profiles_from_dotenv(project):
    (project / ".env").write_text("COMPOSE_PROFILES=debug\n")
    assert "debug" in load(LoadOptions(cwd=project, environ={})).config["services"]


def test_helpers():
    assert active_profiles(["a, b", "c"], {"COMPOSE_PROFILES": "x"}) == ["a", "b", "c"]
    assert active_profiles([], {"COMPOSE_PROFILES": "x,,y"}) == ["x", "y"]
    assert all_profiles({"services": {"a": {"profiles": ["z", "b"]}, "b": {}, "c": None}}) == ["b", "z"]


def test_disabled_services_keep_their_locations(project):
    result = load(LoadOptions(cwd=project, environ={}))
    assert "debug" not in result.config["services"]
    assert str(result.sources.locate(("services", "debug", "image"))) == f"{project}/compose.yaml:4:11"
