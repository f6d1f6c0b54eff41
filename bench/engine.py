"""Engine API bench: N containers ``run -d`` (create + start) through our daemon's API, then removed.

Prints per-container latency (create+start, remove) and memory: the PSS of the daemon (and its fork server) and
of the per-container monitors while all N run, per container, beside the peers' figures measured on this
machine (../shared/peers: Docker and Podman). With ``--trace`` the engine runs with ``PYCOMPOSE_TRACE`` and the
start path's stages (HTTP -> daemon -> fork server -> monitor -> init -> exec) and the create path's (image,
conversion, volumes, sandbox, service, record) are printed as median durations.
Needs root. Usage: python bench/engine.py [N=50] [--network none|bridge|user] [--trace]
(``user``: a user-defined network made for the run, so each start also opens an embedded-DNS scope.)
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.container_start import _bundle, _runc  # noqa: E402 - the same runc baseline
from tests.conftest import _build_busybox_rootfs  # noqa: E402 - the same rootfs the tests use
from tests.runtime.daemon.conftest import cleanup, start_daemon  # noqa: E402

PEERS = REPO.parent / "shared" / "peers"
GOALS = {"start_ms": 20.0, "monitor_pss_kib": 1024.0}


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    data = fh.read()
                if int(data[data.rindex(")") + 2:].split()[1]) == pid:
                    out.append(int(entry))
            except (OSError, ValueError):
                continue
    return out


def _descendants(pid: int, skip: set[int]) -> list[int]:
    """Every process under ``pid`` but those in ``skip`` and their subtrees (the daemon's fork server, its spare
    monitor and that one's waiting child, without the containers' monitors and processes)."""
    out, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in skip:
                out.append(child)
                todo.append(child)
    return out


def _peer_lines() -> list[str]:
    lines = []
    for tsv in sorted(PEERS.glob("results-*.tsv")):
        runs: dict[str, list[float]] = {}
        for row in tsv.read_text().splitlines():
            cols = row.split("\t")
            if len(cols) == 6 and cols[0] == "run":
                runs.setdefault(cols[1], []).append(float(cols[5]))
            if len(cols) == 6 and cols[0] == "mem" and "pss" in cols[3] and cols[3].startswith("run"):
                lines.append(f"  peers {tsv.name}: {cols[1]} N={cols[2]} {cols[3]} = {cols[5]} kB")
        for label, vals in runs.items():
            lines.append(f"  peers {tsv.name}: {label}: median {statistics.median(vals) * 1000:.0f} ms "
                         f"(whole CLI run --rm)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=50)
    parser.add_argument("--network", default="none", help="network mode of the containers (default: none)")
    parser.add_argument("--trace", action="store_true", help="print the start path's stages (PYCOMPOSE_TRACE)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/engine.py needs root", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="pycompose-bench-"))
    try:
        rootfs = work / "rootfs"
        rootfs.mkdir()
        _build_busybox_rootfs(rootfs)
        with tarfile.open(work / "bb.tar", "w") as tar:
            tar.add(str(rootfs), arcname=".")
        trace_file = work / "trace.log"
        if args.trace:
            os.environ["PYCOMPOSE_TRACE"] = str(trace_file)
        daemon = start_daemon(work / "engine")
        try:
            code = _bench(daemon, work, args.n, args.network, trace_file if args.trace else None)
        finally:
            cleanup(daemon)
        return code
    finally:
        shutil.rmtree(work, ignore_errors=True)


def trace_stages(path: Path, first: str = "http.start") -> list[tuple[str, float, float]]:
    """(stage, median ms since the previous stage, median ms since ``first``) over every start in the trace file
    (starts run one after another: each begins at a ``first`` line). ``first="http.create"`` gives the create
    path (its ``create.*`` marks); any other the start path without them."""
    def wanted(stage: str) -> bool:
        creating = stage in ("http.create", "http.replied.create") or stage.startswith("create.")
        return stage == first or creating == (first == "http.create")

    rows = sorted((int(t), stage) for t, _pid, _key, stage in
                  (line.split() for line in path.read_text().splitlines() if line.count(" ") == 3) if wanted(stage))
    runs: list[list[tuple[int, str]]] = []
    for t, stage in rows:
        if stage == first:
            runs.append([])
        if runs:
            runs[-1].append((t, stage))
    steps: dict[str, list[float]] = {}
    since: dict[str, list[float]] = {}
    order: list[str] = []
    for run in runs[1:]:  # the first is the warm-up
        for (t0, _), (t1, stage) in zip(run, run[1:]):
            if stage not in steps:
                order.append(stage)
            steps.setdefault(stage, []).append((t1 - t0) / 1e6)
            since.setdefault(stage, []).append((t1 - run[0][0]) / 1e6)
    return [(s, statistics.median(steps[s]), statistics.median(since[s])) for s in order]


def _bench(daemon, work: Path, n: int, network: str, trace_file: Path | None = None) -> int:
    client = daemon.client()
    api = client.api
    with open(work / "bb.tar", "rb") as fh:
        api.import_image_from_data(fh.read(), repository="busybox", tag="latest")
    user_net = None
    if network == "user":  # a user-defined network: each start opens an embedded-DNS scope too
        user_net = api.create_network(f"bench-{secrets.token_hex(3)}", driver="bridge")["Id"]
    host_config = api.create_host_config(network_mode=user_net or network)
    # warm-up: the fork server, the image's layers in the page cache
    warm = api.create_container("busybox", ["true"], host_config=host_config)["Id"]
    api.start(warm)
    api.wait(warm)
    api.remove_container(warm)
    idle_daemon = _pss_kib(daemon.proc.pid) + sum(_pss_kib(p) for p in _descendants(daemon.proc.pid, set()))
    bundle = _bundle(work / "rootfs", work) if shutil.which("runc") else None
    creates, starts, ids, runcs = [], [], [], []
    label = f"bench-{secrets.token_hex(3)}"
    for i in range(n):
        t0 = time.perf_counter()
        cid = api.create_container("busybox", ["sleep", "3600"], host_config=host_config,
                                   labels={"bench": label}, name=f"bench{i}")["Id"]
        t1 = time.perf_counter()
        api.start(cid)
        t2 = time.perf_counter()
        creates.append(t1 - t0)
        starts.append(t2 - t1)
        ids.append(cid)
        if bundle is not None:  # interleaved: whatever else loads the machine weighs on both alike
            runcs.append(_runc(bundle))
    monitors = []
    for cid in ids:
        state = json.loads((daemon.root / "containers" / cid / "state.json").read_text())
        monitors.append(state["monitor_pid"])
    mon_pss = [_pss_kib(p) for p in monitors]
    busy_daemon = _pss_kib(daemon.proc.pid) + sum(_pss_kib(p) for p in _descendants(daemon.proc.pid, set(monitors)))
    stages = trace_stages(trace_file) if trace_file is not None and trace_file.exists() else []
    create_stages = trace_stages(trace_file, "http.create") if stages else []
    removes = []
    for cid in ids:
        t0 = time.perf_counter()
        api.remove_container(cid, force=True)
        removes.append(time.perf_counter() - t0)
    if user_net is not None:
        api.remove_network(user_net)
    total = [c + s for c, s in zip(creates, starts)]

    def ms(vals: list[float]) -> str:
        q = sorted(vals)
        return (f"median {statistics.median(q) * 1000:6.1f} ms  p90 {q[int(len(q) * 0.9) - 1] * 1000:6.1f} ms  "
                f"max {q[-1] * 1000:6.1f} ms")

    print(f"pycompose engine, {n} containers 'sleep 3600', network={network}, through the Engine API (docker-py)")
    print(f"  create          {ms(creates)}")
    print(f"  start           {ms(starts)}")
    print(f"  create+start    {ms(total)}   (goal < {GOALS['start_ms']:.0f} ms per start)")
    print(f"  remove -f       {ms(removes)}")
    if runcs:
        print(f"  runc run 'true' {ms(runcs)}   (interleaved, same rootfs: create+start+run+delete)")
        print(f"  ratio start/runc {statistics.median(starts) / statistics.median(runcs):.2f}, "
              f"create+start/runc {statistics.median(total) / statistics.median(runcs):.2f}; load average "
              f"{os.getloadavg()[0]:.2f}")
    print(f"  monitor PSS     median {statistics.median(mon_pss):6.0f} KiB per container  "
          f"(goal < {GOALS['monitor_pss_kib']:.0f} KiB; conmon 475 KiB, containerd-shim 3.4 MiB)")
    growth = (busy_daemon - idle_daemon) / n
    print(f"  daemon PSS      idle {idle_daemon} KiB, with {n} running {busy_daemon} KiB "
          f"({growth:+.0f} KiB per container)")
    print(f"  engine total    {(busy_daemon + sum(mon_pss)) / n:6.0f} KiB PSS per running container "
          f"(daemon + fork server and its spare monitor + monitors)")
    if create_stages:
        print("  create path (PYCOMPOSE_TRACE; median ms: step, since the HTTP request)")
        for stage, step, total_ms in create_stages:
            print(f"    {stage:28s} {step:6.2f}  {total_ms:6.2f}")
    if stages:
        print("  start path (PYCOMPOSE_TRACE; median ms: step, since the HTTP request)")
        for stage, step, total_ms in stages:
            print(f"    {stage:28s} {step:6.2f}  {total_ms:6.2f}")
    for line in _peer_lines():
        print(line)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
