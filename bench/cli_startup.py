"""Start-up time of the ``pycompose`` CLI: ``--help`` (goal: well under 0.5 s; every command registered),
``up --help`` (one command registered) and ``config -q`` / ``config`` on a sample. ``config -q`` is a hit of the
project cache (``compose.loadcache``) after its first round; the ``no cache`` row loads in full every time.

Usage: python bench/cli_startup.py [ROUNDS]
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYCOMPOSE = Path(sys.executable).with_name("pycompose")


def _time(args: list[str], cwd: Path, rounds: int, env: dict[str, str] | None = None) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        subprocess.run([str(PYCOMPOSE), *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, **(env or {})})
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    sample = REPO / "samples" / "webapp"
    off = {"PYCOMPOSE_PROJECT_CACHE": "0"}
    for label, args, cwd, env in (("pycompose --help", ["--help"], REPO, None),
                                  ("pycompose up --help", ["up", "--help"], REPO, None),
                                  ("pycompose config -q (samples/webapp)", ["config", "-q"], sample, None),
                                  ("  the same, no cache", ["config", "-q"], sample, off),
                                  ("pycompose config (samples/webapp)", ["config"], sample, None)):
        times = _time(args, cwd, rounds, env)
        print(f"{label:40s} min {min(times) * 1000:7.1f} ms   median {statistics.median(times) * 1000:7.1f} ms")
    print("goal: --help well under 500 ms")


if __name__ == "__main__":
    main()
