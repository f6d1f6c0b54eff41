"""``pycompose up -d`` / ``down -t 0`` timings on our engine, beside the peers' (../shared/peers/README.md).

Generated projects as ``../shared/peers/gen-compose.sh`` makes them: N busybox services (``sleep 3600``) on one
network, ``flat`` or ``chain`` (s(i) depends_on s(i-1)). Each variant runs REPS times; medians (and min/max) are
printed in seconds. Starts its own daemon on a temporary socket and data root. Needs root.

``--baseline REF`` times another version of the client in the same run, interleaved (new up, old up, new down,
old down, the order swapped every repetition), against the same daemon: its ``compose/`` is taken from the git
ref into a temporary directory (``git archive``, the checkout is not touched) and put first on PYTHONPATH,
with ``--baseline-path`` (e.g. a ``pip install --target`` dir holding an older typer) before it. The ratio
new/old is the figure to read on a busy machine; the load average is printed at start and end.
Both clients get compiled bytecode first (``compileall``), as an installed package has it.
``--host URL`` uses a running engine instead of starting one (it must have ``busybox:local``).

Usage: python bench/compose_up.py [--reps 3] [--variants 1:flat,10:flat,10:chain,50:flat,50:chain]
                                  [--baseline REF [--baseline-path DIR]] [--host URL]
"""
from __future__ import annotations

import argparse
import compileall
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.setup import busybox_engine, busybox_tar, timed_run  # noqa: E402

PYCOMPOSE = Path(sys.executable).with_name("pycompose")
# docker-compose's and podman-compose's medians on this machine (../shared/peers/README.md, 2026-11-27), seconds
PEERS = {("up", 1, "flat"): (0.767, 0.491), ("down", 1, "flat"): (0.685, 0.524),
         ("up", 10, "flat"): (2.050, 2.292), ("down", 10, "flat"): (1.257, 1.494),
         ("up", 10, "chain"): (3.367, 2.560), ("down", 10, "chain"): (1.660, 1.465),
         ("up", 50, "flat"): (8.751, 10.534), ("down", 50, "flat"): (4.142, 5.943),
         ("up", 50, "chain"): (14.622, None), ("down", 50, "chain"): (6.155, None)}


def generate(n: int, mode: str) -> str:
    lines = ["services:"]
    for i in range(1, n + 1):
        lines += [f"  s{i}:", "    image: busybox:local", "    command: sleep 3600", "    networks: [benchnet]"]
        if mode == "chain" and i > 1:
            lines.append(f"    depends_on: [s{i - 1}]")
    lines += ["networks:", "  benchnet: {}"]
    return "\n".join(lines) + "\n"


def _baseline_tree(ref: str, into: Path) -> Path:
    """``compose/`` of git ``ref`` unpacked under ``into`` (read-only use of the repository)."""
    data = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref, "compose"],
                          check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into


def _figure(runs: list[float]) -> str:
    return f"{statistics.median(runs):.3f} ({min(runs):.3f}/{max(runs):.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--variants", default="1:flat,10:flat,10:chain,50:flat,50:chain")
    parser.add_argument("--baseline", metavar="REF", help="git ref of a client to time beside this one")
    parser.add_argument("--baseline-path", metavar="DIR", action="append", default=[],
                        help="more PYTHONPATH entries for the baseline client (e.g. an older typer)")
    parser.add_argument("--host", metavar="URL", help="a running engine to use (with busybox:local)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 1
    variants = [(int(v.split(":")[0]), v.split(":")[1]) for v in args.variants.split(",")]
    with tempfile.TemporaryDirectory(prefix="pycompose-bench-") as tmp:
        work = Path(tmp)
        clients: dict[str, tuple[list[str], dict[str, str]]] = {}
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("COMPOSE_", "DOCKER_", "PYCOMPOSE_")) and k != "PYTHONPATH"}
        compileall.compile_dir(REPO / "compose", quiet=1)
        clients["new"] = ([str(PYCOMPOSE)], env)
        if args.baseline:
            tree = _baseline_tree(args.baseline, work / "baseline")
            compileall.compile_dir(tree / "compose", quiet=1)
            path = os.pathsep.join([*args.baseline_path, str(tree)])
            clients[f"base {args.baseline}"] = ([sys.executable, "-m", "compose.cli.main"],
                                                {**env, "PYTHONPATH": path})
        with contextlib.ExitStack() as stack:
            host = args.host or stack.enter_context(busybox_engine(work, busybox_tar(work))).url
            for _, cenv in clients.values():
                cenv.update({"PYCOMPOSE_HOST": host, "COMPOSE_PROGRESS": "quiet"})
            print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(f"{'step':<24} {'client':<14} {'median (min/max) s':>24} {'ratio':>6} "
                  f"{'docker-compose':>15} {'podman-compose':>15}")
            for n, mode in variants:
                runs: dict[tuple[str, str], list[float]] = {}
                projects = {}
                for i, label in enumerate(clients):
                    projects[label] = work / f"b{n}{mode}{i}"
                    projects[label].mkdir()
                    (projects[label] / "compose.yaml").write_text(generate(n, mode))
                for rep in range(args.reps):
                    order = list(clients) if rep % 2 == 0 else list(reversed(clients))
                    for step, argv in (("up", ["up", "-d"]), ("down", ["down", "-t", "0"])):
                        for label in order:
                            cmd, cenv = clients[label]
                            took = timed_run([*cmd, *argv], projects[label], cenv)
                            runs.setdefault((step, label), []).append(took)
                for step in ("up", "down"):
                    first = None
                    for label in clients:
                        took = runs[(step, label)]
                        first = first or statistics.median(took)
                        ratio = f"{first / statistics.median(took):.2f}" if label != "new" else ""
                        peer = PEERS.get((step, n, mode), (None, None))
                        what = f"{step} {'-d' if step == 'up' else '-t 0'}, N={n} {mode}"
                        print(f"{what:<24} {label:<14} {_figure(took):>24} {ratio:>6} "
                              f"{peer[0] if peer[0] is not None else '-':>15} "
                              f"{peer[1] if peer[1] is not None else '-':>15}", flush=True)
            print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print("ratio: new median / this client's median (below 1: the new client is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
