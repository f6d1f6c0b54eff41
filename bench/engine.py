"""Engine API bench: N containers ``run -d`` (create + start) through our daemon's API, then removed.

Prints per-container latency (create+start, remove) and memory: the PSS of the daemon (and its fork server) and
of the per-container monitors while all N run, per container, beside the peers' figures measured on this
machine (../shared/peers: Docker and Podman). With ``--trace`` the engine runs with ``PYCOMPOSE_TRACE`` and the
start path's stages (HTTP -> daemon -> fork server -> monitor -> init -> exec) and the create path's (image,
conversion, volumes, sandbox, service, record) are printed as median durations.
Needs root. Usage: python bench/engine.py [N=50] [--network none|bridge|user] [--trace] [--baseline DIR]
[--work-dir DIR] (the data roots go under DIR, /var/lib by default, beside the engine's own default data root).
(``user``: a user-defined network made for the run, so each start also opens an embedded-DNS scope.
``--baseline DIR``: a second engine from another checkout runs beside this one, each container alternating
between the two in the same run, and the ratios of the medians are printed.)
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
from runtime.paths import DEFAULT_ROOT  # noqa: E402
from tests.support.procfs import children  # noqa: E402

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


def _metadata_us(where: Path, rounds: int = 50) -> float:
    """Median wall time of a mkdir plus a small file's create and write in ``where``: the disk's share of a create
    (the state dir, overlay dirs and managed files are such operations)."""
    probe = Path(tempfile.mkdtemp(prefix="probe-", dir=where))
    times = []
    try:
        for i in range(rounds):
            t0 = time.perf_counter()
            (probe / str(i)).mkdir()
            (probe / str(i) / "f").write_text("x\n")
            times.append((time.perf_counter() - t0) * 1e6)
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    return statistics.median(times)


def _descendants(pid: int, skip: set[int]) -> list[int]:
    """Every process under ``pid`` but those in ``skip`` and their subtrees (the daemon's fork server, its spare
    monitor and that one's waiting child, without the containers' monitors and processes)."""
    out, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
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
    parser.add_argument("--work-dir", metavar="DIR", type=Path, default=DEFAULT_ROOT.parent,
                        help="where the engines' data roots are made (default: %(default)s, beside the engine's own "
                             "default data root; a directory whose metadata operations are slow, e.g. a crowded "
                             "/tmp, shows in every create)")
    parser.add_argument("--baseline", metavar="DIR", type=Path,
                        help="another checkout (e.g. `git archive REF | tar -x -C DIR`) whose engine runs beside "
                             "this one: each container alternates between the two, and the ratios are printed")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/engine.py needs root", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="pycompose-bench-", dir=args.work_dir))
    print(f"data roots under {work}: a mkdir and a small file there take {_metadata_us(work):.0f} us (median)")
    daemons = []
    try:
        rootfs = work / "rootfs"
        rootfs.mkdir()
        _build_busybox_rootfs(rootfs)
        with tarfile.open(work / "bb.tar", "w") as tar:
            tar.add(str(rootfs), arcname=".")
        repos = [("this", REPO)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
        targets = []
        for label, repo in repos:
            trace_file = work / f"trace-{label}.log"
            if args.trace:  # each engine (and its monitors and inits) writes its own trace
                os.environ["PYCOMPOSE_TRACE"] = str(trace_file)
            daemon = start_daemon(work / f"engine-{label}", repo=repo)
            daemons.append(daemon)
            targets.append(_Target(label, daemon, trace_file if args.trace else None))
        return _bench(targets, work, args.n, args.network)
    finally:
        for daemon in daemons:
            cleanup(daemon)
        shutil.rmtree(work, ignore_errors=True)


def trace_stages(path: Path, first: str = "http.start") -> list[tuple[str, float, float]]:
    """(stage, median ms since the previous stage, median ms since ``first``) over every start in the trace file
    (starts run one after another: each begins at a ``first`` line). ``first="http.create"`` gives the create
    path (its ``create.*`` marks); any other the start path without them."""
    def wanted(stage: str) -> bool:
        if stage.startswith("http.replied.") and stage not in ("http.replied.create", "http.replied.start"):
            return False  # (the removes at the end)
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


class _Target:
    """One engine under test: its daemon, client, containers and figures."""

    def __init__(self, label: str, daemon, trace_file: Path | None) -> None:
        self.label, self.daemon, self.trace_file = label, daemon, trace_file
        self.api = daemon.client().api
        self.host_config: dict = {}
        self.user_net: str | None = None
        self.creates: list[float] = []
        self.starts: list[float] = []
        self.removes: list[float] = []
        self.ids: list[str] = []
        self.idle_pss = 0
        self.cpu_ms = 0.0  # the daemon process's CPU (user + system, all its threads) over the N run -d

    def prepare(self, image_tar: bytes, network: str) -> None:
        api = self.api
        api.import_image_from_data(image_tar, repository="busybox", tag="latest")
        if network == "user":  # a user-defined network: each start opens an embedded-DNS scope too
            self.user_net = api.create_network(f"bench-{secrets.token_hex(3)}", driver="bridge")["Id"]
        self.host_config = api.create_host_config(network_mode=self.user_net or network)
        # warm-up: the fork server, the image's layers in the page cache
        warm = api.create_container("busybox", ["true"], host_config=self.host_config)["Id"]
        api.start(warm)
        api.wait(warm)
        api.remove_container(warm)
        pid = self.daemon.proc.pid
        self.idle_pss = _pss_kib(pid) + sum(_pss_kib(p) for p in _descendants(pid, set()))

    def cpu_seconds(self) -> float:
        """The daemon process's user + system CPU so far (every thread, ended ones included)."""
        fields = (Path(f"/proc/{self.daemon.proc.pid}/stat").read_text().rsplit(")", 1)[1]).split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def run_one(self, i: int, label: str) -> None:
        t0 = time.perf_counter()
        cid = self.api.create_container("busybox", ["sleep", "3600"], host_config=self.host_config,
                                        labels={"bench": label}, name=f"bench{i}")["Id"]
        t1 = time.perf_counter()
        self.api.start(cid)
        t2 = time.perf_counter()
        self.creates.append(t1 - t0)
        self.starts.append(t2 - t1)
        self.ids.append(cid)

    def memory(self) -> tuple[list[int], int]:
        """(PSS of each monitor, PSS of the daemon and its fork server with its spare) while all run."""
        monitors = []
        for cid in self.ids:
            state = json.loads((self.daemon.root / "containers" / cid / "state.json").read_text())
            monitors.append(state["monitor_pid"])
        pid = self.daemon.proc.pid
        busy = _pss_kib(pid) + sum(_pss_kib(p) for p in _descendants(pid, set(monitors)))
        return [_pss_kib(p) for p in monitors], busy

    def remove(self, i: int) -> None:
        t0 = time.perf_counter()
        self.api.remove_container(self.ids[i], force=True)
        self.removes.append(time.perf_counter() - t0)

    def remove_network(self) -> None:
        if self.user_net is not None:
            self.api.remove_network(self.user_net)

    @property
    def totals(self) -> list[float]:
        return [c + s for c, s in zip(self.creates, self.starts)]


def _ms(vals: list[float]) -> str:
    q = sorted(vals)
    return (f"median {statistics.median(q) * 1000:6.1f} ms  p90 {q[max(int(len(q) * 0.9) - 1, 0)] * 1000:6.1f} ms  "
            f"max {q[-1] * 1000:6.1f} ms")


def _bench(targets: list[_Target], work: Path, n: int, network: str) -> int:
    image_tar = (work / "bb.tar").read_bytes()
    for target in targets:
        target.prepare(image_tar, network)
    bundle = _bundle(work / "rootfs", work) if shutil.which("runc") else None
    runcs = []
    label = f"bench-{secrets.token_hex(3)}"
    loads = [os.getloadavg()[0]]
    cpu0 = [t.cpu_seconds() for t in targets]
    for i in range(n):
        # interleaved, in alternating order: whatever else loads the machine weighs on all alike
        for target in targets if i % 2 == 0 else targets[::-1]:
            target.run_one(i, label)
        if bundle is not None:
            runcs.append(_runc(bundle))
    loads.append(os.getloadavg()[0])
    for target, c0 in zip(targets, cpu0):  # (what one run -d left for after its reply lands in the next)
        target.cpu_ms = (target.cpu_seconds() - c0) * 1000 / n
    memory = [t.memory() for t in targets]
    for i in range(n):  # interleaved too
        for target in targets if i % 2 == 0 else targets[::-1]:
            target.remove(i)
    for target in targets:
        target.remove_network()
    print(f"pycompose engine, {n} containers 'sleep 3600', network={network}, through the Engine API (docker-py); "
          f"load average {loads[0]:.2f} -> {loads[1]:.2f}")
    for target, (mon_pss, busy) in zip(targets, memory):
        if len(targets) > 1:
            print(f" [{target.label}]")
        print(f"  create          {_ms(target.creates)}")
        print(f"  start           {_ms(target.starts)}")
        print(f"  create+start    {_ms(target.totals)}   (goal < {GOALS['start_ms']:.0f} ms per start)")
        print(f"  remove -f       {_ms(target.removes)}")
        print(f"  daemon CPU      {target.cpu_ms:6.2f} ms per create+start (user + system, the daemon's process)")
        if runcs:
            print(f"  ratio start/runc {statistics.median(target.starts) / statistics.median(runcs):.2f}, "
                  f"create+start/runc {statistics.median(target.totals) / statistics.median(runcs):.2f}")
        print(f"  monitor PSS     median {statistics.median(mon_pss):6.0f} KiB per container  "
              f"(goal < {GOALS['monitor_pss_kib']:.0f} KiB; conmon 475 KiB, containerd-shim 3.4 MiB)")
        print(f"  daemon PSS      idle {target.idle_pss} KiB, with {n} running {busy} KiB "
              f"({(busy - target.idle_pss) / n:+.0f} KiB per container)")
        print(f"  engine total    {(busy + sum(mon_pss)) / n:6.0f} KiB PSS per running container "
              f"(daemon + fork server and its spare monitor + monitors)")
        if target.trace_file is not None and target.trace_file.exists():
            print("  create path (PYCOMPOSE_TRACE; median ms: step, since the HTTP request)")
            for stage, step, total_ms in trace_stages(target.trace_file, "http.create"):
                print(f"    {stage:28s} {step:6.2f}  {total_ms:6.2f}")
            print("  start path (PYCOMPOSE_TRACE; median ms: step, since the HTTP request)")
            for stage, step, total_ms in trace_stages(target.trace_file):
                print(f"    {stage:28s} {step:6.2f}  {total_ms:6.2f}")
    if runcs:
        print(f"  runc run 'true' {_ms(runcs)}   (interleaved, same rootfs: create+start+run+delete)")
    if len(targets) > 1:
        this, base = targets
        print("  ratio this/baseline (medians, same run, interleaved): "
              + ", ".join(f"{what} {statistics.median(a) / statistics.median(b):.2f}" for what, a, b in
                          (("create", this.creates, base.creates), ("start", this.starts, base.starts),
                           ("create+start", this.totals, base.totals), ("remove", this.removes, base.removes)))
              + f", daemon CPU {this.cpu_ms / base.cpu_ms:.2f}")
    for line in _peer_lines():
        print(line)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
