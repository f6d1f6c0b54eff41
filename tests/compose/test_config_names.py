"""Resource names in ``config`` output follow the resolved project name, also when the file has no ``name:``."""
from __future__ import annotations

import subprocess
import sys

import pytest

PYCOMPOSE = [sys.executable, "-m", "compose.cli.main"]


@pytest.mark.parametrize("args, project", [((), "myproj"), (("-p", "other"), "other")])
def test_default_network_and_volume_names(tmp_path, args, project):
    workdir = tmp_path / "myproj"
    workdir.mkdir()
    (workdir / "compose.yaml").write_text(
        "services:\n  web:\n    image: busybox\n    volumes: [data:/data]\nvolumes:\n  data: {}\n")
    out = subprocess.run([*PYCOMPOSE, *args, "config", "--format", "json"], cwd=workdir, capture_output=True,
                         text=True, check=True)
    import json

    config = json.loads(out.stdout)
    assert config["name"] == project
    assert config["networks"]["default"]["name"] == f"{project}_default"
    assert config["volumes"]["data"]["name"] == f"{project}_data"
