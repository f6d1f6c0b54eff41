"""``pycompose watch`` latency: from a file written in the watched directory to the file readable in the
container (sync), and from a write to the container's new StartedAt (sync+restart). The 0.5 s quiet period
(the same debounce as Docker Compose) is part of every figure. Starts its own daemon on a temporary socket and
data root. Needs root.  Usage: python bench/watch_sync.py [--reps 10]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.setup import busybox_engine, busybox_tar  # noqa: E402
from tests.runtime.daemon.conftest import Daemon  # noqa: E402

PYCOMPOSE = Path(sys.executable).with_name("pycompose")
COMPOSE = """
name: benchwatch
services:
  web:
    image: busybox:local
    command: ["sleep", "3600"]
    init: true
    develop:
      watch:
        - {path: ./src, action: sync, target: /app}
        - {path: ./conf, action: sync+restart, target: /conf}
"""


def _until(predicate, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.005)  # polling a condition with a deadline: the bench's resolution
    return time.perf_counter()


def _figure(name: str, values: list[float]) -> None:
    print(f"{name:<34} median {statistics.median(values):.3f}s  (min {min(values):.3f} / max {max(values):.3f}, "
          f"n={len(values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pycompose-bench-") as tmp:
        work = Path(tmp)
        rootfs_tar = busybox_tar(work)
        project = work / "project"
        for d in ("src", "conf"):
            (project / d).mkdir(parents=True)
        (project / "compose.yaml").write_text(COMPOSE)
        with busybox_engine(work, rootfs_tar) as daemon:
            _measure(args, daemon, project)
    return 0


def _measure(args: argparse.Namespace, daemon: Daemon, project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    env.update({"PYCOMPOSE_HOST": daemon.url, "COMPOSE_PROGRESS": "quiet"})
    watch = None
    try:
        watch = subprocess.Popen([str(PYCOMPOSE), "watch"], cwd=project, env=env, stdout=subprocess.PIPE,
                                 text=True)
        assert watch.stdout is not None
        for line in watch.stdout:
            if "Watch enabled" in line:
                break
        web = daemon.client().containers.get("benchwatch-web-1")
        sync, restart = [], []
        for i in range(args.reps):
            start = time.perf_counter()
            (project / "src" / f"f{i}.txt").write_text(str(i))
            end = _until(lambda: web.exec_run(["cat", f"/app/f{i}.txt"]).output == str(i).encode())
            sync.append(end - start)
        for i in range(max(1, args.reps // 3)):
            web.reload()
            started = web.attrs["State"]["StartedAt"]
            start = time.perf_counter()
            (project / "conf" / "c.conf").write_text(str(i))

            def _restarted() -> bool:
                web.reload()
                return web.attrs["State"]["StartedAt"] != started and web.status == "running"

            restart.append(_until(_restarted) - start)
        _figure("write -> readable in container", sync)
        _figure("write -> restarted (sync+restart)", restart)
    finally:
        if watch is not None:
            watch.terminate()
            watch.wait(timeout=30)
        subprocess.run([str(PYCOMPOSE), "down", "-t", "0"], cwd=project, env=env, capture_output=True)


if __name__ == "__main__":
    raise SystemExit(main())
