"""compose.project.load_project: the whole client pipeline as later commands call it."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import UserError
from compose.loader import LoadOptions
from compose.project import load_project

REPO = Path(__file__).resolve().parents[2]


def test_webapp_sample_end_to_end():
    loaded = load_project(LoadOptions(cwd=REPO / "samples" / "webapp", environ={}))
    assert loaded.name == "webapp"
    assert set(loaded.project.services) == {"proxy", "api", "db", "cache"}
    assert set(loaded.load.disabled_services) == {"debug"}
    assert loaded.canonical["services"]["api"]["image"] == "registry.local/webapp/api:2.1.0"
    assert loaded.warnings == []


def test_profiles_and_explicit_services_reach_the_model():
    options = LoadOptions(cwd=REPO / "samples" / "webapp", environ={}, services=["debug"])
    assert "debug" in load_project(options).project.services


def test_schema_errors_come_all_at_once_before_semantic_ones(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    image: [x]\n  b:\n    image: b\n    depends_on: [ghost]\n  c:\n    privileged: 3\n")
    with pytest.raises(UserError) as info:
        load_project(LoadOptions(cwd=tmp_path, environ={}))
    lines = str(info.value).splitlines()
    assert any(line.startswith(f"{tmp_path}/compose.yaml:3:5: services.a.image:") for line in lines), lines
    assert any(line.startswith(f"{tmp_path}/compose.yaml:8:5: services.c.privileged:") for line in lines), lines


def test_semantic_errors_have_locations(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  b:\n    image: b\n    depends_on: [ghost]\n")
    with pytest.raises(UserError) as info:
        load_project(LoadOptions(cwd=tmp_path, environ={}))
    assert str(info.value).startswith(f"{tmp_path}/compose.yaml:4:")
    assert "ghost" in str(info.value)


def test_warnings_from_every_stage_are_collected(tmp_path):
    (tmp_path / "compose.yaml").write_text("version: '3'\nservices:\n  a:\n    image: 'busybox'\n"
                                           "    environment: {X: '$UNSET_VAR'}\n")
    warnings = [str(w) for w in load_project(LoadOptions(cwd=tmp_path, environ={})).warnings]
    assert any('"UNSET_VAR" variable is not set' in w for w in warnings), warnings
    assert any(w.startswith(f"{tmp_path}/compose.yaml:1:1: version:") for w in warnings), warnings


def test_env_files_fold_into_environment_and_missing_ones_are_located(tmp_path):
    (tmp_path / "app.env").write_text("FROM_FILE=1\nBOTH=file\n")
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    image: busybox\n    env_file: [app.env]\n    environment: {BOTH: own}\n")
    env = load_project(LoadOptions(cwd=tmp_path, environ={})).project.services["a"].to_dict()["environment"]
    assert env == {"FROM_FILE": "1", "BOTH": "own"}
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: busybox\n    env_file: [gone.env]\n")
    with pytest.raises(UserError) as info:
        load_project(LoadOptions(cwd=tmp_path, environ={}))
    assert str(info.value).startswith(f"{tmp_path}/compose.yaml:4:")
    assert "gone.env not found" in str(info.value)
