"""extends: same file, other file (paths rebased), chains, merge rules, cycles and missing services."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import UserError
from compose.loader import LoadOptions, load


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _services(tmp_path: Path, environ: dict | None = None) -> dict:
    return load(LoadOptions(cwd=tmp_path, environ=environ or {})).config["services"]


def test_same_file_short_and_long_form(tmp_path):
    _write(tmp_path / "compose.yaml", """
services:
  base:
    image: busybox
    environment: {A: "1"}
    command: [base]
  short:
    extends: base
    environment: {B: "2"}
  long:
    extends: {service: base}
    command: [own]
""")
    services = _services(tmp_path)
    assert services["short"] == {"image": "busybox", "environment": {"A": "1", "B": "2"}, "command": ["base"]}
    assert services["long"] == {"image": "busybox", "environment": {"A": "1"}, "command": ["own"]}
    assert "extends" not in services["base"]


def test_chain_across_files_rebases_relative_paths(tmp_path):
    _write(tmp_path / "common" / "base.yaml", """
services:
  root:
    image: busybox
    env_file: root.env
    volumes: ["./data:/data", "named:/named"]
  mid:
    extends: root
    build: ./ctx
    ports: ["80:80"]
""")
    _write(tmp_path / "compose.yaml", """
services:
  app:
    extends: {file: common/base.yaml, service: mid}
    ports: ["81:81"]
    volumes: ["./mine:/mine"]
""")
    app = _services(tmp_path)["app"]
    common = tmp_path / "common"
    assert app == {
        "image": "busybox",
        "env_file": str(common / "root.env"),
        "volumes": [f"{common}/data:/data", "named:/named", "./mine:/mine"],
        "build": str(common / "ctx"),
        "ports": ["80:80", "81:81"],
    }


def test_extended_file_is_interpolated(tmp_path):
    _write(tmp_path / "base.yaml", "services: {b: {image: '${IMG:-dflt}'}}\n")
    _write(tmp_path / "compose.yaml", "services: {a: {extends: {file: base.yaml, service: b}}}\n")
    assert _services(tmp_path, {"IMG": "set"})["a"]["image"] == "set"


def test_cycle_is_named(tmp_path):
    _write(tmp_path / "compose.yaml", """
services:
  a: {extends: b}
  b: {extends: c}
  c: {extends: a}
""")
    with pytest.raises(UserError) as info:
        _services(tmp_path)
    assert "extends cycle: a (" in str(info.value)
    assert str(info.value).startswith(f"{tmp_path}/compose.yaml:")


def test_missing_service_names_file_and_line(tmp_path):
    _write(tmp_path / "compose.yaml", "services:\n  a:\n    extends: nope\n")
    with pytest.raises(UserError) as info:
        _services(tmp_path)
    assert str(info.value) == (f"{tmp_path}/compose.yaml:3:5: services.a.extends: "
                               "extends: service 'nope' not found in this file")


def test_missing_file(tmp_path):
    _write(tmp_path / "compose.yaml", "services:\n  a:\n    extends: {file: gone.yaml, service: x}\n")
    with pytest.raises(UserError, match="gone.yaml not found"):
        _services(tmp_path)


@pytest.mark.parametrize("bad", ["extends: 5", "extends: {file: x.yaml}", "extends: {service: [a]}"])
def test_malformed_extends(tmp_path, bad):
    _write(tmp_path / "compose.yaml", f"services:\n  a:\n    {bad}\n")
    with pytest.raises(UserError, match="services.a.extends"):
        _services(tmp_path)


def test_reset_and_override_against_the_extended_service(tmp_path):
    _write(tmp_path / "compose.yaml", """
services:
  base:
    image: busybox
    ports: ["80:80"]
    environment: {A: "1", B: "2"}
  child:
    extends: base
    ports: !reset []
    environment: !override {C: "3"}
""")
    assert _services(tmp_path)["child"] == {"image": "busybox", "environment": {"C": "3"}}


def test_location_of_inherited_values_is_the_base_file(tmp_path):
    _write(tmp_path / "base.yaml", "services:\n  b:\n    image: [not-a-string]\n")
    _write(tmp_path / "compose.yaml", "services:\n  a:\n    extends: {file: base.yaml, service: b}\n")
    result = load(LoadOptions(cwd=tmp_path, environ={}))
    assert str(result.sources.locate(("services", "a", "image"))) == f"{tmp_path}/base.yaml:3:5"


def test_cycle_through_other_files_and_dotdot(tmp_path):
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "compose.yaml", "services:\n  a:\n    extends: {file: sub/../compose.yaml, service: a}\n")
    with pytest.raises(UserError, match="extends cycle"):
        _services(tmp_path)
    _write(tmp_path / "other.yaml", "services:\n  b:\n    extends: {file: compose.yaml, service: a}\n")
    _write(tmp_path / "compose.yaml", "services:\n  a:\n    extends: {file: other.yaml, service: b}\n")
    with pytest.raises(UserError, match="extends cycle"):
        _services(tmp_path)
