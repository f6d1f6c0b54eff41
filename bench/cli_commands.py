"""Everyday ``pycompose`` commands beside the real ``docker`` CLI (/usr/local/bin/docker) doing the nearest
equivalent against the SAME engine and the same container: ``ps``, ``ps -q``, ``exec -T box true``, ``logs box``,
``cp`` (a file in and out), ``export``, ``run --rm box true``, ``top``, ``port``, ``images``, ``kill``, ``restart``,
``ls``, ``version`` (beside ``docker --version``: neither reaches the engine), ``config -q`` (no engine call;
beside ``docker version`` as a floor for a client that reaches the engine once), and "(floor) python": the bare
interpreter (``python -c pass``, with its site) beside ``docker --version``, what no Python client goes under.

Each step runs REPS times, the two clients interleaved (order swapped every repetition); medians (min/max) in
seconds and the ratio pycompose/docker, which is the figure to read on a busy machine. Starts its own engine on
a temporary socket and data root; prints the load average at start and end, and the peers' figures from
``../shared/peers`` where they measured the same thing (only ``docker run --rm``). Needs root.

Usage: python bench/cli_commands.py [--reps 7] [--only ps,exec,...] [--no-cache-column] [--baseline DIR]
       [--profile-dir DIR]

``--baseline DIR`` adds a column for another tree's client, interleaved with the others: DIR holds a
``compose/`` package (e.g. ``git archive <commit> compose | tar -x -C DIR``) put first on ``PYTHONPATH``; the
"speed-up" is its median over ours.

A third column, "no cache", runs pycompose with ``PYCOMPOSE_PROJECT_CACHE=0`` (the project loaded and validated in
full, as before ``compose.loadcache``), interleaved with the other two: the before/after of that change in one run.

``--profile-dir DIR`` also writes one ``PYCOMPOSE_TRACE`` timeline per step (``DIR/<step>.trace``), after the
timed runs.
"""
from __future__ import annotations

import argparse
import os
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
PEERS = REPO.parent / "shared" / "peers" / "results-2026-11-27.tsv"
_COMPOSE = ("name: benchcmd\nservices:\n  box:\n    image: busybox:local\n"
            "    command: [\"sh\", \"-c\", \"echo hello from box; exec sleep 3600\"]\n"
            "    ports: [\"127.0.0.1::80\"]\n")


def _steps(work: Path) -> dict[str, tuple[list[str], list[str]]]:
    pc, box = str(PYCOMPOSE), "benchcmd-box-1"
    small = str(work / "small.txt")
    out = str(work / "out.txt")
    return {
        "ps": ([pc, "ps"], [DOCKER, "ps", "--filter", "label=com.docker.compose.project=benchcmd"]),
        "ps -q": ([pc, "ps", "-q"], [DOCKER, "ps", "-q", "--filter", "label=com.docker.compose.project=benchcmd"]),
        "exec -T box true": ([pc, "exec", "-T", "box", "true"], [DOCKER, "exec", box, "true"]),
        "logs box": ([pc, "logs", "box"], [DOCKER, "logs", box]),
        "cp file in": ([pc, "cp", small, "box:/tmp/small.txt"], [DOCKER, "cp", small, f"{box}:/tmp/small.txt"]),
        "cp file out": ([pc, "cp", "box:/etc/hostname", out], [DOCKER, "cp", f"{box}:/etc/hostname", out]),
        "export": ([pc, "export", "-o", str(work / "fs.tar"), "box"],
                   [DOCKER, "export", "-o", str(work / "fs.tar"), box]),
        "run --rm box true": ([pc, "run", "--rm", "--no-deps", "box", "true"],
                              [DOCKER, "run", "--rm", "--network", "none", "busybox:local", "true"]),
        "top": ([pc, "top"], [DOCKER, "top", box]),
        "port box 80": ([pc, "port", "box", "80"], [DOCKER, "port", box, "80"]),
        "images": ([pc, "images"], [DOCKER, "images"]),
        "kill -s CONT box": ([pc, "kill", "-s", "SIGCONT", "box"], [DOCKER, "kill", "-s", "SIGCONT", box]),
        "restart -t 0 box": ([pc, "restart", "-t", "0", "box"], [DOCKER, "restart", "-t", "0", box]),
        "ls": ([pc, "ls"], [DOCKER, "ps", "--filter", "label=com.docker.compose.project"]),
        "version": ([pc, "version"], [DOCKER, "--version"]),
        "config -q": ([pc, "config", "-q"], [DOCKER, "version"]),
        # the floor: the interpreter pycompose runs on, with its site (the editable install's import hook)
        "(floor) python": ([sys.executable, "-c", "pass"], [DOCKER, "--version"]),
    }


def _peer_run_rm() -> str:
    if not PEERS.exists():
        return ""
    values: dict[str, list[float]] = {}
    for line in PEERS.read_text().splitlines():
        cells = line.split("\t")
        if len(cells) == 6 and cells[0] == "run" and cells[1] in ("docker run --rm", "podman run --rm"):
            values.setdefault(cells[1], []).append(float(cells[5]))
    return ", ".join(f"{k} {statistics.median(v):.3f} s" for k, v in values.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--only", default="", help="comma-separated step names (prefix match)")
    parser.add_argument("--no-cache-column", action="store_true", help="leave out the PYCOMPOSE_PROJECT_CACHE=0 runs")
    parser.add_argument("--profile-dir", default="", help="write a PYCOMPOSE_TRACE timeline per step here")
    parser.add_argument("--baseline", default="", help="a tree whose compose/ is timed beside ours (PYTHONPATH)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 1
    if not os.path.exists(DOCKER):
        print(f"no docker CLI at {DOCKER}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pycompose-bench-cmd-") as tmp:
        work = Path(tmp)
        rootfs_tar = busybox_tar(work)
        (work / "small.txt").write_text("small file\n" * 10)
        project = work / "proj"
        project.mkdir()
        (project / "compose.yaml").write_text(_COMPOSE)
        with busybox_engine(work, rootfs_tar) as daemon:
            # PYTHONDONTWRITEBYTECODE (set in some shells and CI) would make every run compile the modules that
            # changed since their .pyc: an installed pycompose has its .pyc files, so the warm-up writes them
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("COMPOSE_", "DOCKER_", "PYCOMPOSE_")) and k != "PYTHONDONTWRITEBYTECODE"}
            env.update({"PYCOMPOSE_HOST": daemon.url, "DOCKER_HOST": daemon.url, "COMPOSE_PROGRESS": "quiet"})
            try:
                subprocess.run([str(PYCOMPOSE), "up", "-d"], cwd=project, env=env, check=True, capture_output=True)
                _time_steps(args, work, project, env)
            finally:
                subprocess.run([str(PYCOMPOSE), "down", "-t", "0"], cwd=project, env=env, capture_output=True)
    return 0


def _time_steps(args: argparse.Namespace, work: Path, project: Path, env: dict[str, str]) -> None:
    steps = _steps(work)
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    if wanted:
        steps = {k: v for k, v in steps.items() if any(k.startswith(w) for w in wanted)}
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    nocache = not args.no_cache_column
    baseline = str(Path(args.baseline).resolve()) if args.baseline else ""
    head = f"{'step':<20} {'pycompose s':>22} {'docker CLI s':>22} {'ratio':>6}"
    head += f" {'no cache s':>22} {'cache gain':>10}" if nocache else ""
    print(head + (f" {'baseline s':>22} {'speed-up':>8}" if baseline else ""))
    ratios = []
    for step, (ours, theirs) in steps.items():
        clients = [("ours", ours, env), ("docker", theirs, env)]
        if nocache:
            clients.append(("nocache", ours, {**env, "PYCOMPOSE_PROJECT_CACHE": "0"}))
        if baseline:
            clients.append(("baseline", ours, {**env, "PYTHONPATH": baseline}))
        runs: dict[str, list[float]] = {label: [] for label, _, _ in clients}
        for label, cmd, cmd_env in clients:  # warm-up: page cache, first-exec costs, the project cache filled
            timed_run(cmd, project, cmd_env)
        for rep in range(args.reps):
            for label, cmd, cmd_env in (clients if rep % 2 == 0 else list(reversed(clients))):
                runs[label].append(timed_run(cmd, project, cmd_env))
        cells = {k: f"{statistics.median(v):.3f} ({min(v):.3f}/{max(v):.3f})" for k, v in runs.items()}
        ratio = statistics.median(runs["ours"]) / statistics.median(runs["docker"])
        ratios.append(ratio)
        line = f"{step:<20} {cells['ours']:>22} {cells['docker']:>22} {ratio:>6.2f}"
        if nocache:
            gain = statistics.median(runs["nocache"]) / statistics.median(runs["ours"])
            line += f" {cells['nocache']:>22} {gain:>9.2f}x"
        if baseline:
            line += f" {cells['baseline']:>22} {statistics.median(runs['baseline']) / statistics.median(runs['ours']):>7.2f}x"
        print(line, flush=True)
    if ratios:
        print(f"geometric mean ratio: {statistics.geometric_mean(ratios):.2f}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    peers = _peer_run_rm()
    if peers:
        print(f"peers (../shared/peers, their engines, not this one): {peers}")
    if args.profile_dir:
        out = Path(args.profile_dir)
        out.mkdir(parents=True, exist_ok=True)
        for step, (ours, _) in steps.items():
            proc = subprocess.run(ours, cwd=project, env={**env, "PYCOMPOSE_TRACE": "1"}, capture_output=True)
            trace = [line for line in proc.stderr.decode(errors="replace").splitlines() if line.startswith("trace")]
            (out / f"{step.replace(' ', '_')}.trace").write_text("\n".join(trace) + "\n")
        print(f"traces in {out}")


if __name__ == "__main__":
    sys.exit(main())
