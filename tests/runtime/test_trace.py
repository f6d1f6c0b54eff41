"""``runtime.trace``: the engine's start-path timing goes to the file ``PYCOMPOSE_TRACE`` names; the client's
stderr switch (``1``) leaves it off instead of creating a file named ``1``."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]
_PROBE = "import runtime.trace as t; t.mark('probe', 'abc'); print(t.enabled())"


def _probe(cwd: Path, value: str) -> str:
    env = {**os.environ, "PYCOMPOSE_TRACE": value, "PYTHONPATH": str(_REPO)}
    return subprocess.run([sys.executable, "-c", _PROBE], cwd=cwd, env=env, capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def test_a_path_gets_the_marks(tmp_path):
    assert _probe(tmp_path, str(tmp_path / "trace.log")) == "True"
    assert (tmp_path / "trace.log").read_text().split()[2:] == ["abc", "probe"]


def test_the_clients_switch_leaves_the_engine_trace_off(tmp_path):
    for value in ("1", "true", "stderr"):
        assert _probe(tmp_path, value) == "False"
    assert list(tmp_path.iterdir()) == []
