"""``pycompose up -d`` / ``down -t 0`` timings on our engine, beside the peers' (../shared/peers/README.md).

Generated projects as ``../shared/peers/gen-compose.sh`` makes them: N busybox services (``sleep 3600``) on one
network, ``flat`` or ``chain`` (s(i) depends_on s(i-1)). Each variant runs REPS times; medians (and min/max) are
printed in seconds. Starts its own daemon on a temporary socket and data root. Needs root.
Usage: python bench/compose_up.py [--reps 3] [--variants 1:flat,10:flat,10:chain,50:flat,50:chain]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import _build_busybox_rootfs  # noqa: E402 - the same rootfs the tests use
from tests.runtime.daemon.conftest import cleanup, start_daemon  # noqa: E402

PYCOMPOSE = Path(sys.executable).with_name("pycompose")
# docker-compose's medians on this machine (../shared/peers/README.md, 2026-11-27), seconds
PEERS = {("up", 1, "flat"): 0.767, ("down", 1, "flat"): 0.685,
         ("up", 10, "flat"): 2.050, ("down", 10, "flat"): 1.257,
         ("up", 10, "chain"): 3.367, ("down", 10, "chain"): 1.660,
         ("up", 50, "flat"): 8.751, ("down", 50, "flat"): 4.142,
         ("up", 50, "chain"): 14.622, ("down", 50, "chain"): 6.155}


def generate(n: int, mode: str) -> str:
    lines = ["services:"]
    for i in range(1, n + 1):
        lines += [f"  s{i}:", "    image: busybox:local", "    command: sleep 3600", "    networks: [benchnet]"]
        if mode == "chain" and i > 1:
            lines.append(f"    depends_on: [s{i - 1}]")
    lines += ["networks:", "  benchnet: {}"]
    return "\n".join(lines) + "\n"


def _timed(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([str(PYCOMPOSE), *args], cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"pycompose {' '.join(args)} failed: {proc.stderr}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--variants", default="1:flat,10:flat,10:chain,50:flat,50:chain")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 1
    variants = [(int(v.split(":")[0]), v.split(":")[1]) for v in args.variants.split(",")]
    with tempfile.TemporaryDirectory(prefix="pycompose-bench-") as tmp:
        work = Path(tmp)
        rootfs = work / "rootfs"
        rootfs.mkdir()
        _build_busybox_rootfs(rootfs)
        with tarfile.open(work / "bb.tar", "w") as tar:
            tar.add(rootfs, arcname=".")
        daemon = start_daemon(work / "engine")
        try:
            with open(work / "bb.tar", "rb") as fh:
                daemon.client().api.import_image_from_data(fh.read(), repository="busybox", tag="local")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
            env.update({"PYCOMPOSE_HOST": daemon.url, "COMPOSE_PROGRESS": "quiet"})
            print(f"{'step':<26} {'pycompose median (min/max)':>30} {'docker-compose':>15}")
            for n, mode in variants:
                project = work / f"b{n}{mode}"
                project.mkdir()
                (project / "compose.yaml").write_text(generate(n, mode))
                ups, downs = [], []
                for _ in range(args.reps):
                    ups.append(_timed(["up", "-d"], project, env))
                    downs.append(_timed(["down", "-t", "0"], project, env))
                for step, runs in (("up", ups), ("down", downs)):
                    label = f"{step} {'-d' if step == 'up' else '-t 0'}, N={n} {mode}"
                    peer = PEERS.get((step, n, mode))
                    figure = f"{statistics.median(runs):.3f} ({min(runs):.3f}/{max(runs):.3f})"
                    print(f"{label:<26} {figure:>30} {peer if peer is not None else '-':>15}", flush=True)
        finally:
            cleanup(daemon)
    return 0


if __name__ == "__main__":
    sys.exit(main())
