"""``pycompose cp`` and ``export`` beside the real ``docker`` CLI (/usr/local/bin/docker) driving the same engine,
the same container: a file of SIZE MiB in and out, a directory of many small files in and out, export. Each
step runs REPS times, the two clients interleaved (order swapped every repetition); medians (min/max) in seconds
and the ratio pycompose/docker, which is the figure to read on a busy machine. Starts its own daemon on a
temporary socket and data root; prints the load average at start and end. Needs root.

Usage: python bench/cli_copy.py [--reps 5] [--size 64] [--files 2000]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.setup import busybox_engine, busybox_tar, timed_run  # noqa: E402

PYCOMPOSE = Path(sys.executable).with_name("pycompose")
DOCKER = "/usr/local/bin/docker"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--size", type=int, default=64, help="MiB of the big file")
    parser.add_argument("--files", type=int, default=2000, help="small files in the directory")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 1
    if not os.path.exists(DOCKER):
        print(f"no docker CLI at {DOCKER}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pycompose-bench-cp-") as tmp:
        work = Path(tmp)
        rootfs_tar = busybox_tar(work)
        big = work / "big.bin"
        with open(big, "wb") as fh:
            for _ in range(args.size):
                fh.write(os.urandom(1 << 20))
        small = work / "small"
        small.mkdir()
        for i in range(args.files):
            (small / f"f{i:05d}.txt").write_text(f"file {i}\n" * 8)
        project = work / "proj"
        project.mkdir()
        (project / "compose.yaml").write_text("name: benchcp\nservices:\n  box:\n    image: busybox:local\n"
                                              "    command: [\"sleep\", \"3600\"]\n")
        with busybox_engine(work, rootfs_tar) as daemon:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_", "PYCOMPOSE_"))}
            env.update({"PYCOMPOSE_HOST": daemon.url, "DOCKER_HOST": daemon.url, "COMPOSE_PROGRESS": "quiet"})
            try:
                _copy_steps(args, work, project, env)
            finally:
                subprocess.run([str(PYCOMPOSE), "down", "-t", "0"], cwd=project, env=env, capture_output=True)
    return 0


def _copy_steps(args: argparse.Namespace, work: Path, project: Path, env: dict[str, str]) -> None:
    subprocess.run([str(PYCOMPOSE), "up", "-d"], cwd=project, env=env, check=True, capture_output=True)
    box = "benchcp-box-1"
    big, small, out = work / "big.bin", work / "small", work / "out"
    steps = {
        f"file in ({args.size} MiB)": ([str(PYCOMPOSE), "cp", str(big), "box:/tmp/big.bin"],
                                       [DOCKER, "cp", str(big), f"{box}:/tmp/big.bin"]),
        f"file out ({args.size} MiB)": ([str(PYCOMPOSE), "cp", "box:/tmp/big.bin", str(out / "big.bin")],
                                        [DOCKER, "cp", f"{box}:/tmp/big.bin", str(out / "big.bin")]),
        f"dir in ({args.files} files)": ([str(PYCOMPOSE), "cp", str(small), "box:/tmp/small"],
                                         [DOCKER, "cp", str(small), f"{box}:/tmp/small"]),
        f"dir out ({args.files} files)": ([str(PYCOMPOSE), "cp", "box:/tmp/small", str(out / "small")],
                                          [DOCKER, "cp", f"{box}:/tmp/small", str(out / "small")]),
        "export": ([str(PYCOMPOSE), "export", "-o", str(out / "fs.tar"), "box"],
                   [DOCKER, "export", "-o", str(out / "fs.tar"), box]),
    }
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'step':<24} {'pycompose s':>22} {'docker CLI s':>22} {'ratio':>6}")
    for step, (ours, theirs) in steps.items():
        runs: dict[str, list[float]] = {"ours": [], "docker": []}
        for rep in range(args.reps):
            order = [("ours", ours), ("docker", theirs)]
            for label, cmd in (order if rep % 2 == 0 else reversed(order)):
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                runs[label].append(timed_run(cmd, project, env))
        cells = [f"{statistics.median(v):.3f} ({min(v):.3f}/{max(v):.3f})" for v in runs.values()]
        ratio = statistics.median(runs["ours"]) / statistics.median(runs["docker"])
        print(f"{step:<24} {cells[0]:>22} {cells[1]:>22} {ratio:>6.2f}", flush=True)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
