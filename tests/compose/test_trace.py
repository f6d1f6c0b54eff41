"""``PYCOMPOSE_TRACE``: the client's timeline on stderr (``1``) or appended to a shared trace file (a path)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def _config(tmp_path: Path, trace: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "compose.yaml").write_text("services:\n  web: {image: busybox}\n")
    env = {**os.environ, "PYCOMPOSE_TRACE": trace}
    return subprocess.run([sys.executable, "-m", "compose.cli.main", "config", "-q"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def test_one_stderr_line_per_phase_with_its_time(tmp_path):
    result = _config(tmp_path, "1")
    assert result.returncode == 0, result.stderr
    steps = re.findall(r"^trace +([0-9.]+) ms  (.+)$", result.stderr, re.M)
    names = [name for _, name in steps]
    assert names[0] == "cli imported" and names[-1] == "exit 0"
    assert "command line parsed (fast path)" in names  # ``config -q`` parses without typer (compose.cli.fastpath)
    times = [float(t) for t, _ in steps]
    assert times == sorted(times)


def test_a_path_gets_the_engine_trace_format(tmp_path):
    log = tmp_path / "trace.log"
    result = _config(tmp_path, str(log))
    assert result.returncode == 0 and "trace" not in result.stderr
    lines = log.read_text().splitlines()
    assert lines and all(re.fullmatch(r"\d+ \d+ client:.+", line) for line in lines)
    assert lines[-1].endswith("client:exit 0")


def test_off_by_default(tmp_path):
    result = _config(tmp_path, "")
    assert result.returncode == 0 and "trace" not in result.stderr
