"""A file named by ``extends.file`` that has an ``include:`` of its own: as in Docker Compose (compose-go loads
the extended file with ``SkipInclude``) the include is not processed: its services cannot be extended and
nothing it includes joins the project; an extended service that only the include defines is an error saying so.
The main file's own ``include`` still works beside ``extends``."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import UserError
from compose.loader import LoadOptions, load


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _setup(tmp_path: Path, target: str) -> None:
    _write(tmp_path / "lib/common.yaml", """
include: [extra/extra.yaml]
services:
  base:
    image: busybox
    environment: {FROM: common}
    env_file: [./common.env]
""")
    _write(tmp_path / "lib/common.env", "X=1\n")
    _write(tmp_path / "lib/extra/extra.yaml", """
services:
  hidden: {image: hidden-image}
volumes:
  extra-vol: {}
""")
    _write(tmp_path / "compose.yaml", f"""
services:
  web:
    extends: {{file: lib/common.yaml, service: {target}}}
    command: [run]
""")


def test_extended_file_include_is_not_processed(tmp_path):
    _setup(tmp_path, "base")
    config = load(LoadOptions(cwd=tmp_path, environ={})).config
    assert sorted(config["services"]) == ["web"]
    web = config["services"]["web"]
    assert web["image"] == "busybox" and web["command"] == ["run"]
    assert web["environment"] == {"FROM": "common"}
    assert [Path(str(e.get("path", e)) if isinstance(e, dict) else str(e)) for e in web["env_file"]] == [
        tmp_path / "lib/common.env"]  # paths of the extended file are still its own
    assert "extra-vol" not in (config.get("volumes") or {})


def test_service_only_in_the_extended_file_include_is_an_error(tmp_path):
    _setup(tmp_path, "hidden")
    with pytest.raises(UserError) as err:
        load(LoadOptions(cwd=tmp_path, environ={}))
    text = str(err.value)
    assert "services.web.extends" in text and "'hidden' not found in lib/common.yaml" in text
    assert "'include' are not searched" in text
    assert "compose.yaml:4:" in text


def test_main_file_include_and_extends_of_an_included_file(tmp_path):
    """The including file may extend a service from a file it also includes (each is loaded on its own)."""
    _write(tmp_path / "lib/common.yaml", """
services:
  base: {image: busybox, environment: {FROM: common}}
""")
    _write(tmp_path / "compose.yaml", """
include: [lib/common.yaml]
services:
  web:
    extends: {file: lib/common.yaml, service: base}
    command: [run]
""")
    services = load(LoadOptions(cwd=tmp_path, environ={})).config["services"]
    assert sorted(services) == ["base", "web"]
    assert services["web"]["environment"] == {"FROM": "common"} and services["web"]["command"] == ["run"]
