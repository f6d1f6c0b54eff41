"""Run the installed ``pycompose`` console script in a subprocess, the way users do."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYCOMPOSE = Path(sys.executable).with_name("pycompose")

__all__ = ["Run", "pycompose"]


@dataclass
class Run:
    code: int
    out: str
    err: str


def pycompose(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None) -> Run:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    environ.update(env or {})
    proc = subprocess.run([str(PYCOMPOSE), *args], cwd=cwd, env=environ, input=stdin, capture_output=True,
                          text=True, timeout=60)
    run = Run(proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in run.err, run.err
    return run
